"Input formats: Parquet beside CSV and JSONL, and category paths in the common notations."
import csv, json
import pytest
from conftest import cli, one_line_error
from shoptasks.plugins import load_task

@pytest.fixture(scope="module")
def reviews_parquet(shop_dir, tmp_path_factory):
    "The sample shop's reviews as Parquet, with the ratings and ages as integers (as a warehouse export has them)."
    import pyarrow as pa, pyarrow.parquet as pq
    rows = list(csv.DictReader(open(shop_dir/"reviews.csv", newline="")))
    table = {k: [r[k] for r in rows] for k in rows[0]}
    for k in ("rating", "age"):
        if k in table: table[k] = [int(v) if v else None for v in table[k]]
    path = tmp_path_factory.mktemp("parquet")/"reviews.parquet"
    pq.write_table(pa.table(table), path, row_group_size=500)
    return path

def test_parquet_reads_as_its_csv(shop_dir, reviews_parquet):
    for task in ("review-rating", "review-sentiment"):
        t = load_task(task)
        a, b = t.load(shop_dir/"reviews.csv", "test"), t.load(reviews_parquet, "test")
        assert [(r.text, r.label) for r in a.rows] == [(r.text, r.label) for r in b.rows] and len(a.rows) > 50

def test_finetune_and_predict_from_parquet(reviews_parquet, backbone, tmp_path):
    r = cli("finetune", "review-rating", "--data", reviews_parquet, "--backbone", backbone, "--out", tmp_path/"run",
            "--max-steps", "2", "--eval-every", "2")
    assert r.returncode == 0, r.stderr
    r = cli("predict", "review-rating", "--model", tmp_path/"run", "--input", reviews_parquet,
            "--output", tmp_path/"out.jsonl", "--keep-columns", "rating")
    assert r.returncode == 0, r.stderr
    out = [json.loads(l) for l in open(tmp_path/"out.jsonl")]
    assert len(out) > 1000 and set(out[0]) == {"rating", "prediction", "probability"} and isinstance(out[0]["rating"], int)

def test_a_file_that_is_not_parquet(tmp_path):
    (tmp_path/"fake.parquet").write_text("sku,text\n1,nice\n")
    r = cli("tokenizer", "train", "--data", tmp_path/"fake.parquet", "--column", "text", "--out", tmp_path/"tok")
    assert "fake.parquet: not a readable Parquet file" in one_line_error(r) and not (tmp_path/"tok").exists()

@pytest.mark.parametrize("path,top", [
    ("Clothing > Dresses > Maxi", "Clothing"), ("Clothing >> Dresses", "Clothing"), ("Clothing | Dresses", "Clothing"),
    ("Clothing|Dresses", "Clothing"), ("Clothing / Dresses", "Clothing"), ("T-Shirts/Tops", "T-Shirts/Tops"),
    ('["Clothing", "Dresses"]', "Clothing"), ('["Watches >> Wrist Watches >> Titan 123..."]', "Watches"),
    ("Home & Kitchen", "Home & Kitchen"),
])
def test_category_notations(path, top, tmp_path):
    "A CSV cell and a JSONL value (a list where the notation is one) give the same top-level category."
    with open(tmp_path/"p.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["title", "description", "category"])
        w.writerow(["A red dress", "Soft cotton", path])
    levels = json.loads(path) if path.startswith("[") else path
    (tmp_path/"p.jsonl").write_text(json.dumps({"title": "A red dress", "description": "Soft cotton", "category": levels}) + "\n")
    t = load_task("product-category")
    assert [r.label for r in t.load(tmp_path/"p.csv").rows] == [top]
    assert [r.label for r in t.load(tmp_path/"p.jsonl").rows] == [top]
