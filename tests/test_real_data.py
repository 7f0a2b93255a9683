"Women's E-Commerce Clothing Reviews (CC0, ../shared/data): the reader, the split and a short pretraining run."
import json
from collections import Counter
from transformers import AutoTokenizer
from conftest import cli
from shoptasks.data import read_texts, split_of

def reviews(shared_data): return shared_data/"womens_clothing_reviews"/"reviews.csv.gz"

def test_reader_and_split(shared_data):
    texts = list(read_texts(reviews(shared_data), "Review Text"))
    assert len(texts) == 23486 - 845                            # rows without text are skipped
    assert texts[0] == "Absolutely wonderful - silky and sexy and comfortable"
    sizes = Counter(split_of(i) for i in range(len(texts)))
    assert sizes == {"train": 13584, "val": 4528, "test": 4529}

def test_short_pretraining_on_real_reviews(shared_data, tmp_path):
    r = cli("pretrain", "--data", reviews(shared_data), "--column", "Review Text", "--out", tmp_path/"run",
                  "--preset", "tiny", "--vocab-size", "2048", "--max-steps", "40", "--eval-every", "20", "--no-compile")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path/"run"/"data"/"meta.json").read_text())["splits"]
    assert [meta[s]["documents"] for s in ("train", "val", "test")] == [13584, 4528, 4529]
    tok = AutoTokenizer.from_pretrained(tmp_path/"run")
    text = next(read_texts(reviews(shared_data), "Review Text"))
    assert tok.decode(tok(text)["input_ids"]) == text
    m = json.loads((tmp_path/"run"/"metrics.json").read_text())
    evals = [json.loads(l) for l in (tmp_path/"run"/"metrics.jsonl").read_text().splitlines() if "val_loss" in l]
    assert evals[1]["val_loss"] < evals[0]["val_loss"] and m["val_ppl"] < 2048 / 3   # it learns (a uniform guess: 2048)

def test_chinese_reviews_get_a_character_baseline(shared_data, backbone, tmp_path):
    """Chinese Online Shopping Reviews (research use, ../shared/data), every 20th row, by the file's own column names:
    the TF-IDF baseline reads the unsegmented text as character n-grams, and says so (with scikit-learn's word pattern
    it was far weaker); sentiment per product category; the category task by --column."""
    import csv, gzip
    from shoptasks.metrics import TfidfBaseline
    from shoptasks.plugins import load_task
    with gzip.open(shared_data/"chinese_shopping_reviews"/"reviews.csv.gz", "rt", newline="") as f: rows = list(csv.reader(f))
    data = tmp_path/"zh.csv"
    with open(data, "w", newline="") as f: csv.writer(f).writerows([rows[0], *rows[1::20]])
    r = cli("finetune", "review-sentiment", "--data", data, "--backbone", backbone, "--out", tmp_path/"run",
            "--max-steps", "2", "--eval-every", "2", "--no-compile")
    assert r.returncode == 0, r.stderr
    test = json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]
    assert test["baseline_params"]["features"] == "chars" and "features=chars" in r.stdout
    seg = test["segments"]["baseline"]["department"]              # the ten categories; those of 30+ test rows scored
    assert len({**seg["groups"], **seg["left_out"]}) == 10 and len(seg["groups"]) >= 5 and seg["gap"] > 0
    task = load_task("review-sentiment")
    train, val = (task.load(data, s).rows for s in ("train", "val"))
    words = TfidfBaseline(features="words").fit(train, val)
    test_rows = task.load(data, "test").rows
    worded = task.score(words.predict(test_rows), test_rows)["macro_f1"]
    assert test["baseline"]["macro_f1"] > worded + 0.15, (test["baseline"], worded)      # .914 against .643
    r = cli("finetune", "product-category", "--data", data, "--column", "name=review", "--column", "label=cat",
            "--backbone", backbone, "--out", tmp_path/"cat", "--max-steps", "2", "--eval-every", "2", "--no-compile")
    assert r.returncode == 0, r.stderr
    test = json.loads((tmp_path/"cat"/"metrics.json").read_text())["test"]
    assert test["baseline_params"]["features"] == "chars" and test["baseline"]["macro_f1"] > 0.75, test["baseline"]
