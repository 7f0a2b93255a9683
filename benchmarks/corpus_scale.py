"""Pretraining on corpora of 10 MB, 100 MB and 1 GB of text: does anything grow with the corpus that should not?

The corpora are the generated sample shop written with seed after seed (the smaller ones are the first megabytes of
the larger), built once into `--out`. Each size is pretrained in a process of its own (the small preset, fp32, no
compilation, `--steps` steps of 16 x 256 tokens), which reports: the tokenizer's training time and the packing
throughput (from the run's set-up), training tokens/s (the steps after the first 10), the peak resident memory when
training ends (a plugin reads it) and at the end of the whole run (after the final evaluation and the bigram
baseline), and the wall time. Ratios are to the smallest corpus, measured in this run.

    python benchmarks/corpus_scale.py [--sizes 10 100 1000] [--steps 40]
"""
import argparse, json, resource, subprocess, sys, time
from multiprocessing import Pool
from pathlib import Path


def shop_text(seed: int) -> str:
    "The corpus of the sample shop generated with `seed`."
    from shoptasks.sample import make_shop, shop_documents
    return "".join(d + "\n" for d in shop_documents(make_shop(seed=seed)))


def write_corpora(out: Path, sizes_mb: list) -> dict:
    "Corpus files of at least each size (MB), each the first documents of the next: `{size: path}`."
    paths = {mb: out/f"corpus-{mb}MB.txt" for mb in sizes_mb}
    if all(p.exists() for p in paths.values()): return paths
    out.mkdir(parents=True, exist_ok=True)
    files = {mb: open(p.with_suffix(".tmp"), "w") for mb, p in paths.items()}
    written, open_sizes = 0, sorted(sizes_mb)
    t = time.perf_counter()
    with Pool(2) as pool:
        for text in pool.imap(shop_text, range(10**6)):
            for mb in open_sizes: files[mb].write(text)
            written += len(text.encode())
            while open_sizes and written >= open_sizes[0] * 10**6:
                files[open_sizes.pop(0)].close()
            if not open_sizes: break
    for mb, p in paths.items(): p.with_suffix(".tmp").rename(p)
    print(f"corpora written in {time.perf_counter() - t:.0f} s: "
          + ", ".join(f"{p.name} {p.stat().st_size / 1e6:.0f} MB" for p in paths.values()), flush=True)
    return paths


class PeakAtTrainEnd:
    "A plugin that records this process's peak resident memory when training ends."
    from shoptasks.hookspecs import hookimpl
    @hookimpl
    def on_train_end(self): self.peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    @hookimpl
    def on_step_end(self, step, logs):
        if step == 10: self.t10 = time.perf_counter()
        self.last = step, time.perf_counter()


def one(corpus: str, out: str, steps: int) -> dict:
    "Pretrain on `corpus` in this process: the figures of one size."
    import shutil
    from shoptasks.plugins import plugin_manager
    from shoptasks.pretraining import pretrain
    shutil.rmtree(out, ignore_errors=True)
    probe = PeakAtTrainEnd()
    plugin_manager().register(probe)
    t = time.perf_counter()
    m = pretrain(data=corpus, out=out, preset="small", vocab_size=8192, max_steps=steps, eval_every=steps,
                 precision="fp32", compile=False, quiet=True)
    wall = time.perf_counter() - t
    meta = json.loads((Path(out)/"data"/"meta.json").read_text())
    tokens = sum(s["tokens"] for s in meta["splits"].values())
    last_step, last_t = probe.last
    return dict(mb=Path(corpus).stat().st_size / 1e6, tokens=tokens, tokenizer_s=m["tokenizer_s"],
                packing_tokens_per_s=tokens / m["packing_s"], packing_mb_per_s=Path(corpus).stat().st_size / 1e6 / m["packing_s"],
                train_tokens_per_s=(last_step - 10) * 16 * 256 / (last_t - probe.t10), train_peak_mib=probe.peak_mib,
                run_peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, wall_s=wall,
                val_ppl=m["val_ppl"], bigram_ppl=m["val_bigram_ppl"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="corpus sizes in MB")
    ap.add_argument("--steps", type=int, default=40, help="training steps of each run (tokens/s from step 10 on)")
    ap.add_argument("--out", default="runs/bench-corpus")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)      # a child: CORPUS RUN
    args = ap.parse_args()
    if args.one: return print(json.dumps(one(*args.one, args.steps)))
    paths = write_corpora(Path(args.out), args.sizes)
    results = {}
    print(f"{'corpus':>8} {'tokens':>12} {'tokenizer s':>11} {'pack tok/s':>11} {'pack MB/s':>9} {'train tok/s':>11} "
          f"{'train MiB':>9} {'run MiB':>8} {'wall s':>7}  ratios to the first: train tok/s, train MiB, run MiB")
    for mb, path in paths.items():
        r = subprocess.run([sys.executable, __file__, "--one", str(path), str(Path(args.out)/f"run-{mb}MB"),
                            "--steps", str(args.steps)], capture_output=True, text=True)
        if r.returncode: sys.exit(f"{mb} MB failed:\n{r.stderr[-3000:]}")
        x = results[mb] = json.loads(r.stdout.strip().splitlines()[-1])
        f = results[min(results)]
        print(f"{x['mb']:>6.0f}MB {x['tokens']:>12,} {x['tokenizer_s']:>11.1f} {x['packing_tokens_per_s']:>11,.0f} "
              f"{x['packing_mb_per_s']:>9.2f} {x['train_tokens_per_s']:>11,.0f} {x['train_peak_mib']:>9,.0f} "
              f"{x['run_peak_mib']:>8,.0f} {x['wall_s']:>7.0f}  {x['train_tokens_per_s'] / f['train_tokens_per_s']:.2f}x "
              f"{x['train_peak_mib'] / f['train_peak_mib']:.2f}x {x['run_peak_mib'] / f['run_peak_mib']:.2f}x", flush=True)
    (Path(args.out)/"results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__": main()
