"""Peak memory of `shoptasks predict` against the number of rows: streaming keeps it flat.

A review-sentiment model (our tiny preset, pretrained and fine-tuned for a few steps on the sample shop: its
accuracy does not matter here) labels CSV files of 10k, 100k and 1M generated reviews. Each prediction runs as its
own `shoptasks predict` process; its peak resident memory comes from `wait4`'s rusage, and its rows/s from the
wall clock.

    python benchmarks/predict_memory.py [--rows 10000,100000,1000000]
"""
import argparse, csv, json, os, random, subprocess, sys, time
from pathlib import Path

OUT = Path("runs/bench-predict")

def model() -> Path:
    run = OUT/"sentiment"
    if not (run/"model.safetensors").exists():
        from shoptasks.pretraining import pretrain
        from shoptasks.finetune import finetune
        pretrain(out=str(OUT/"lm"), preset="tiny", vocab_size=1000, max_steps=30, eval_every=30, quiet=True)
        finetune(task="review-sentiment", backbone=str(OUT/"lm"), out=str(run), max_steps=10, eval_every=10, quiet=True)
    return run

def reviews(n: int) -> Path:
    "A CSV of `n` reviews (an id and a text drawn from the sample shop's reviews), written once."
    path = OUT/f"reviews-{n}.csv"
    if not path.exists():
        from shoptasks.plugins import load_task
        texts = [r.text for r in load_task("review-sentiment").load().rows]
        rng = random.Random(n)
        with open(path.with_suffix(".tmp"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["review_id", "text"])
            for i in range(n): w.writerow([f"R{i:08d}", rng.choice(texts)])
        path.with_suffix(".tmp").rename(path)
    return path

def measure(run: Path, src: Path) -> dict:
    "Rows/s and peak resident memory of one `shoptasks predict` process."
    out = src.with_name(src.stem + "-out.csv")
    exe = Path(sys.executable).parent/"shoptasks"
    started = time.perf_counter()
    proc = subprocess.Popen([str(exe), "predict", "review-sentiment", "--model", str(run), "--input", str(src),
                             "--output", str(out)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    assert os.waitstatus_to_exitcode(status) == 0, f"predict failed on {src}"
    rows = sum(1 for _ in open(out)) - 1
    out.unlink()
    return dict(rows=rows, seconds=seconds, rows_per_s=rows / seconds, peak_mib=usage.ru_maxrss / 1024,
                input_mib=src.stat().st_size / 2**20)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="10000,100000,1000000", help="input sizes (default 10000,100000,1000000)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    run, results = model(), []
    for n in map(int, args.rows.split(",")):
        r = measure(run, reviews(n))
        results.append(r)
        print(f"{r['rows']:>9,} rows ({r['input_mib']:6.1f} MiB of CSV): peak {r['peak_mib']:6.0f} MiB, "
              f"{r['rows_per_s']:7.0f} rows/s, {r['seconds']:6.0f} s", flush=True)
    print(f"peak memory, largest over smallest input: {results[-1]['peak_mib'] / results[0]['peak_mib']:.2f}x for "
          f"{results[-1]['rows'] / results[0]['rows']:.0f}x the rows")
    (OUT/"results.json").write_text(json.dumps(results, indent=1))

if __name__ == "__main__": main()
