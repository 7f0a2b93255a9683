"""Next-item recommendation on Online Retail: our SASRec model against popularity, repeat and item-kNN.

The issue's protocol (the `next-item` task of `shoptasks-recsys`): leave-last-out, the full catalogue ranked, no
sampled negatives. The model's ranking adds the history's repeats and item-kNN's transitions to the Transformer's
scores, weighted as chosen on validation; the Transformer alone is a row of its own. Our model is trained twice from
scratch for `--minutes` each: with the task's defaults, and with RecBole's SASRec defaults (2 layers, 2 heads, hidden
size 64, inner size 256, dropout 0.5, full cross-entropy, history 50; RecBole itself does not run on numpy 2).
Prints HR@10, NDCG@10 and MRR@10 on all test targets and on the next-basket ones (bought later than the history's
last item), and the training time.

    python benchmarks/recommendation.py [--minutes 10] [--out runs/bench-recommendation]

Data: Online Retail (UCI; Chen, Sain and Guo 2012; CC BY 4.0), read from ../shared/data.
"""
import argparse, json
from pathlib import Path
from shoptasks.finetune import finetune, format_report
from shoptasks.hookspecs import hookimpl
from shoptasks.plugins import register_plugin
from shoptasks.tasks import load_task

DATA = Path(__file__).resolve().parents[1].parent/"shared"/"data"/"online_retail"/"online_retail.csv.gz"
RECBOLE = dict(n_layer=2, n_head=2, d_model=64, d_ff=256, dropout=0.5, negatives=0)

class RecBoleRecipe:
    "next-item with RecBole's SASRec defaults, registered as `next-item-recbole`."
    @hookimpl
    def register_tasks(register):
        base = type(load_task("next-item"))
        register(type("NextItemRecBole", (base,), dict(name="next-item-recbole", model_config=RECBOLE)))

def main(minutes: float, out: str, lr: float, batch_size: int):
    register_plugin(RecBoleRecipe)
    out, results = Path(out), {}
    for task in ("next-item", "next-item-recbole"):
        report = finetune(task=task, data=str(DATA), out=str(out/task), minutes=minutes, lr=lr, batch_size=batch_size,
                          warmup=50, eval_every=200, early_stopping=5, min_item_events=5, quiet=True)
        results[task] = report
        print(format_report(report["test"], task), flush=True)
        print(f"{task}: {report['steps']} steps in {report['train_time_s']:.0f} s, stopped by "
              f"{report['stop_reason'] or 'the time budget'}", flush=True)
    t = results["next-item"]["test"]
    alone, nb = "model: Transformer alone", "next-basket targets"
    lines = []
    for name, r in (("task defaults", t), ("RecBole SASRec defaults", results["next-item-recbole"]["test"])):
        mix = ", ".join(f"{k}={v:g}" for k, v in r["model_params"].items())
        lines += [(f"model ({name}; {mix})", r["model"], r["subsets"][nb]["model"]),
                  (f"  Transformer alone ({name})", r["variants"][alone], r["subsets"][nb]["variants"][alone])]
    print(f"\n{'':<60}{'all targets':>33}{'next-basket targets':>33}")
    print(f"{'':<60}" + "".join(f"{m:>11}" for m in ("HR@10", "NDCG@10", "MRR@10") * 2))
    def show(name, all_scores, nb_scores):
        print(f"{name:<60}" + "".join(f"{all_scores[m]:>11.3f}" for m in ("hr_10", "ndcg_10", "mrr_10")) +
              "".join(f"{nb_scores[m]:>11.3f}" for m in ("hr_10", "ndcg_10", "mrr_10")))
    for line in lines: show(*line)
    show(f"baseline: {t['baseline_name']}", t["baseline"], t["subsets"][nb]["baseline"])
    for name, s in t["other_baselines"].items(): show(f"baseline: {name}", s, t["subsets"][nb]["other_baselines"][name])
    (out/"results.json").write_text(json.dumps({k: v["test"] for k, v in results.items()}, indent=1))

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10, help="training time of each model")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--out", default="runs/bench-recommendation")
    main(**vars(ap.parse_args()))
