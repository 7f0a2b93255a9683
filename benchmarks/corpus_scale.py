"""Pretraining on corpora of 10 MB, 100 MB and 1 GB of text: does anything grow with the corpus that should not?

The corpora are the generated sample shop written with seed after seed (the smaller ones are the first megabytes of
the larger), built once into `--out`. Each size runs in a process of its own: a tokenizer (8192 tokens) is trained
on it and timed; then it is pretrained (the small preset, fp32, no compilation, `--steps` steps of 16 x 256 tokens)
with the smallest corpus's tokenizer, so that every size trains the same model (a small corpus of this shop yields
fewer merges than 8192: its own tokenizer would make a smaller model). Reported: the tokenizer's training time, the
packing throughput (from the run's set-up), training tokens/s (the steps after the first 10), the peak resident
memory of the set-up (tokenizer training and packing), of training (the kernel's high-water mark, reset when
training starts) and of everything after (the final evaluation, the bigram baseline), and the wall time. Ratios are
to the smallest corpus, measured in this run.

    python benchmarks/corpus_scale.py [--sizes 10 100 1000] [--steps 40]
"""
import argparse, json, shutil, subprocess, sys, time
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


def peak_mib() -> float:
    "This process's peak resident memory (VmHWM) since it started or since `reset_peak`."
    with open("/proc/self/status") as f: return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024

def reset_peak():
    with open("/proc/self/clear_refs", "w") as f: f.write("5")


class Probe:
    "A plugin that records the set-up's peak memory, then training's, and when steps 10 and the last one end."
    from shoptasks.hookspecs import hookimpl
    @hookimpl
    def on_train_start(self):
        self.setup_mib = peak_mib()
        reset_peak()
    @hookimpl
    def on_step_end(self, step):
        if step == 10: self.t10 = time.perf_counter()
        self.last = step, time.perf_counter()
    @hookimpl
    def on_train_end(self): self.train_mib = peak_mib()


def one(corpus: str, out: str, steps: int, tokenizer: str) -> dict:
    "Train a tokenizer on `corpus`, then pretrain on it with `tokenizer` (this one, if there is none yet)."
    from shoptasks.data import read_texts, split_of
    from shoptasks.plugins import plugin_manager
    from shoptasks.pretraining import pretrain
    from shoptasks.tokenizer import train_tokenizer
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    tok = train_tokenizer((x for i, x in enumerate(read_texts(corpus)) if split_of(i) == "train"), 8192)
    tokenizer_s, vocab = time.perf_counter() - t, len(tok)
    if not Path(tokenizer).exists(): tok.save_pretrained(tokenizer)
    del tok
    probe = Probe()
    plugin_manager().register(probe)
    t = time.perf_counter()
    m = pretrain(data=corpus, out=out, tokenizer=tokenizer, preset="small", max_steps=steps, eval_every=steps,
                 precision="fp32", compile=False, quiet=True)
    size = Path(corpus).stat().st_size / 1e6
    tokens = sum(s["tokens"] for s in json.loads((Path(out)/"data"/"meta.json").read_text())["splits"].values())
    last_step, last_t = probe.last
    return dict(mb=size, tokens=tokens, own_vocab=vocab, tokenizer_s=tokenizer_s,
                packing_tokens_per_s=tokens / m["packing_s"], packing_mb_per_s=size / m["packing_s"],
                train_tokens_per_s=(last_step - 10) * 16 * 256 / (last_t - probe.t10), setup_mib=probe.setup_mib,
                train_mib=probe.train_mib, after_mib=peak_mib(), wall_s=time.perf_counter() - t,
                eval_tokens=m["eval_tokens"]["val"], val_ppl=m["val_ppl"], bigram_ppl=m["val_bigram_ppl"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="corpus sizes in MB")
    ap.add_argument("--steps", type=int, default=40, help="training steps of each run (tokens/s from step 10 on)")
    ap.add_argument("--out", default="runs/bench-corpus")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)      # a child: CORPUS RUN
    args = ap.parse_args()
    if args.one: return print(json.dumps(one(*args.one, args.steps, str(Path(args.out)/"tokenizer"))))
    paths = write_corpora(Path(args.out), args.sizes)
    shutil.rmtree(Path(args.out)/"tokenizer", ignore_errors=True)
    results = {}
    print(f"{'corpus':>7} {'tokens':>12} {'own vocab':>9} {'tok. s':>7} {'pack tok/s':>10} {'pack MB/s':>9} "
          f"{'train tok/s':>11} {'set-up MiB':>10} {'train MiB':>9} {'after MiB':>9} {'wall s':>6}  "
          f"ratios to the first: train tok/s, train MiB, after MiB")
    for mb, path in paths.items():
        r = subprocess.run([sys.executable, __file__, "--one", str(path), str(Path(args.out)/f"run-{mb}MB"),
                            "--steps", str(args.steps)], capture_output=True, text=True)
        if r.returncode: sys.exit(f"{mb} MB failed:\n{r.stderr[-3000:]}")
        x = results[mb] = json.loads(r.stdout.strip().splitlines()[-1])
        f = results[min(results)]
        print(f"{x['mb']:>5.0f}MB {x['tokens']:>12,} {x['own_vocab']:>9,} {x['tokenizer_s']:>7.1f} "
              f"{x['packing_tokens_per_s']:>10,.0f} {x['packing_mb_per_s']:>9.2f} {x['train_tokens_per_s']:>11,.0f} "
              f"{x['setup_mib']:>10,.0f} {x['train_mib']:>9,.0f} {x['after_mib']:>9,.0f} {x['wall_s']:>6.0f}  "
              f"{x['train_tokens_per_s'] / f['train_tokens_per_s']:.2f}x {x['train_mib'] / f['train_mib']:.2f}x "
              f"{x['after_mib'] / f['after_mib']:.2f}x", flush=True)
    (Path(args.out)/"results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__": main()
