"""Generation tasks end to end through the same driver as classification: product descriptions on the sample shop
and on Flipkart Products (CC BY-SA 4.0, ../shared/data), with the retrieval baseline on the same test rows."""
import csv, json
from conftest import cli, one_line_error

def finetune(data_args, backbone, out, *extra):
    return cli("finetune", "product-description", *data_args, "--backbone", backbone, "--out", out, "--max-steps", "6",
               "--batch-size", "8", "--eval-every", "6", "--lr", "3e-3", *extra)

def test_product_description_on_the_sample_shop(backbone, shop_dir, tmp_path):
    r = finetune(["--data", shop_dir/"products.csv"], backbone, tmp_path/"run")
    assert r.returncode == 0, r.stderr
    assert "rouge_l" in r.stdout and "baseline: nearest training row (TF-IDF)" in r.stdout
    report = json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]
    assert report["rows"] == 40 and report["shown"][0] == "rouge_l" and 0 <= report["model"]["rouge_l"] <= 1
    assert report["baseline"]["rouge_l"] > 0.3                       # the sample's descriptions share their phrasing
    info = json.loads((tmp_path/"run"/"task.json").read_text())
    assert info["task"] == "product-description" and info["max_prompt"] + info["max_target"] < 64   # fits tiny's context

    again = cli("evaluate", "product-description", "--model", tmp_path/"run", "--data", shop_dir/"products.csv", "--json")
    assert again.returncode == 0, again.stderr
    again = json.loads(again.stdout)
    assert again["model"] == report["model"] and again["baseline"] == report["baseline"]   # greedy: the same texts

    r = cli("predict", "product-description", "--model", tmp_path/"run", "--input", shop_dir/"products.csv",
            "--output", tmp_path/"descriptions.csv", "--keep-columns", "item_id")
    assert r.returncode == 0, r.stderr
    with open(tmp_path/"descriptions.csv", newline="") as f: rows = list(csv.DictReader(f))
    assert len(rows) == 200 and list(rows[0]) == ["item_id", "generated", "score"]
    assert all(float(x["score"]) <= 0 for x in rows)                 # mean log-probabilities

def test_product_description_on_flipkart(shared_data, backbone, tmp_path):
    r = finetune(["--data", shared_data/"flipkart_products"/"products.csv"], backbone, tmp_path/"run")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]
    assert report["rows"] == 210
    assert report["notes"] == {"rows with unreadable specifications": 1}      # one of the four nil ones is a test row
    assert "  rows with unreadable specifications: 1" in r.stdout
    assert report["baseline"]["rouge_l"] > 0.5                       # retrieval: 0.570 on all test rows

def test_a_classification_run_is_not_a_generation_run(backbone, shop_dir, tmp_path):
    r = cli("finetune", "review-sentiment", "--data", shop_dir/"reviews.csv", "--backbone", backbone, "--out",
            tmp_path/"cls", "--max-steps", "2", "--batch-size", "8", "--eval-every", "2")
    assert r.returncode == 0, r.stderr
    msg = one_line_error(cli("evaluate", "product-description", "--model", tmp_path/"cls"))
    assert "was fine-tuned for 'review-sentiment', not 'product-description'" in msg

def test_a_masked_backbone_cannot_generate(shop_dir, tmp_path):
    r = cli("pretrain", "--data", shop_dir/"corpus.txt", "--out", tmp_path/"mlm", "--preset", "tiny", "--vocab-size", "400",
            "--objective", "masked", "--max-steps", "2", "--eval-every", "2", "--no-compile")
    assert r.returncode == 0, r.stderr
    msg = one_line_error(finetune(["--data", shop_dir/"products.csv"], tmp_path/"mlm", tmp_path/"run"))
    assert ("not a causal language model directory (a generation task needs one; this shoptasks model is "
            "bidirectional)") in msg
    assert not (tmp_path/"run").exists()
