"""Generated text on real data against its own cheap baselines: descriptions (Flipkart), marketing copy (Company
Slogans) and answers (Amazon QA, open-ended), each the model, the model with the guard and with the constraint,
beside nearest-row retrieval and the template, on the same test rows.

One small model is pretrained on the three data sets' training rows (each as its prompt and target, the format the
fine-tunes read; no validation or test row) and the texts of Women's E-Commerce Clothing Reviews, for
`--pretrain-minutes`, with a `--context` long enough for a neighbour's text beside the row's own fields. Each task is
then fine-tuned for `--minutes`, its prompt showing the `--retrieve` nearest training rows' inputs and targets
(retrieve and edit: Hashimoto et al. 2018, Guu et al. 2018). Last, the same for the generated sample shop's
descriptions (its rows are not in the pretraining corpus). Every time is printed; `--only` reruns some fine-tunes on
the pretrained model.

    python benchmarks/generation_quality.py [--pretrain-minutes 40] [--minutes 10] [--retrieve 1] [--context 512]

Data (../shared/data): Flipkart Products (CC BY-SA 4.0, PromptCloud), Company Slogans (GPL-3.0, Jin et al.), Amazon
QA Appliances (research use, McAuley et al.), Women's E-Commerce Clothing Reviews (CC0).
"""
import argparse, json, time
from pathlib import Path
from shoptasks.data import read_texts
from shoptasks.finetune import finetune, format_times
from shoptasks.pretraining import pretrain, format_pretraining
from shoptasks.sample import sample_path
from shoptasks.plugins import load_task

DATA = Path(__file__).resolve().parents[1].parent/"shared"/"data"
TASKS = {"product-description": DATA/"flipkart_products"/"products.csv",
         "marketing-copy": DATA/"company_slogans"/"slogans.csv",
         "product-answer": DATA/"amazon_qa_appliances"/"qa_Appliances.json.gz"}
RUNS = {**{name: (name, data) for name, data in TASKS.items()},      # run name -> task, data
        "sample-shop-descriptions": ("product-description", sample_path("products.csv"))}
REVIEWS = DATA/"womens_clothing_reviews"/"reviews.csv.gz"
SHOWN = ("rouge_l", "rouge_2", "bleu", "distinct_2", "invented_rate", "contradiction_rate", "attribute_recall")

def write_corpus(path: Path, retrieve: int) -> dict:
    """The pretraining corpus, one document a line: every task's training rows as the fine-tune reads them (their
    `retrieve` neighbours, never of their own target, then prompt and target), then review texts."""
    counts, docs = {}, []
    for name, data in TASKS.items():
        task = load_task(name)
        task.retrieve, train = retrieve, task.load(data, "train")
        task.setup(train)
        docs += [task.prompt(r) + r.label for r in train.rows]
        counts[name] = len(train)
    reviews = list(read_texts(REVIEWS, "Review Text"))
    path.write_text("".join(" ".join(d.split()) + "\n" for d in docs + reviews))
    return dict(counts, reviews=len(reviews))

def table(name: str, t: dict) -> str:
    "The test rows' table: the model and its variants, then the baselines, in the metrics that matter here."
    rows = [("model", t["model"]), *t["variants"].items(), (f"baseline: {t['baseline_name']}", t["baseline"]),
            *((f"baseline: {n}", s) for n, s in t["other_baselines"].items())]
    width = max(len(n) for n, _ in rows) + 2
    head = f"{name}: {t['rows']} of {t['split_rows']} test rows of {t['source']}"
    return "\n".join([head, " " * width + "".join(f"{m:>19}" for m in SHOWN),
                      *(f"{n:<{width}}" + "".join(f"{s[m]:>19.3f}" for m in SHOWN) for n, s in rows)])

def main(pretrain_minutes: float, minutes: float, retrieve: int, context: int, out: str, eval_rows: int, only: list):
    out, started = Path(out), time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    lm = out/"lm"
    if not (lm/"metrics.json").exists():
        print(f"corpus: {write_corpus(out/'corpus.txt', retrieve)}", flush=True)
        print(format_pretraining(pretrain(data=str(out/"corpus.txt"), out=str(lm), preset="small", context=context,
                                          minutes=pretrain_minutes, eval_every=500, quiet=True, overwrite=True)),
              flush=True)
    results = json.loads((out/"report.json").read_text()) if (out/"report.json").exists() else {}
    for name in only or RUNS:
        task, data = RUNS[name]
        report = finetune(task=task, data=str(data), backbone=str(lm), out=str(out/name), minutes=minutes,
                          batch_size=16, lr=1e-3, warmup=20, eval_every=100, retrieve=retrieve,
                          final_eval_rows=eval_rows, quiet=True, overwrite=True)
        results[name] = dict(report["test"], train_time_s=report["train_time_s"], wall_time_s=report["wall_time_s"])
        print(table(name, report["test"]), format_times(report), sep="\n", flush=True)
        (out/"report.json").write_text(json.dumps(results, indent=1))
    print(f"benchmark: {time.perf_counter() - started:.0f} s in all")

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pretrain-minutes", type=float, default=40)
    ap.add_argument("--minutes", type=float, default=10, help="fine-tuning time of each task")
    ap.add_argument("--retrieve", type=int, default=1, help="nearest training rows shown in each prompt (0: none)")
    ap.add_argument("--context", type=int, default=512, help="tokens the pretrained model reads at once")
    ap.add_argument("--eval-rows", type=int, default=210, help="test rows scored per task (Flipkart has 210)")
    ap.add_argument("--out", default="runs/bench-generation")
    ap.add_argument("--only", nargs="+", choices=list(RUNS), help="these fine-tunes alone (default: all)")
    main(**vars(ap.parse_args()))
