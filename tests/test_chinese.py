"""A Chinese shop's rows through the command line: the sample shop's Chinese reviews in the public corpus's own columns
(`cat`, `label`, `review`) for sentiment, its Chinese products for descriptions, and the fact checker and the guard on
Chinese attributes."""
import csv, json, os, warnings
import pytest
from conftest import cli

def test_chinese_reviews_by_their_own_column_names(shop_dir, backbone, tmp_path):
    "review-sentiment reads `review`, `label` and `cat` without --column; evaluate and predict agree with the run."
    data, run = shop_dir/"reviews_zh.csv", tmp_path/"run"
    r = cli("finetune", "review-sentiment", "--data", data, "--backbone", backbone, "--out", run, "--max-steps", "4",
            "--eval-every", "4", "--no-compile")
    assert r.returncode == 0, r.stderr
    m = json.loads((run/"metrics.json").read_text())["test"]
    assert m["baseline_params"]["features"] == "chars" and m["baseline"]["macro_f1"] > 0.9     # a regular shop
    with open(data, newline="") as f: cats = {row["cat"] for row in csv.DictReader(f)}
    seg = m["segments"]["model"]["department"]                         # per product category (small ones left out)
    assert set(seg["groups"]) | set(seg["left_out"]) == cats and "department" in m["segments"]["baseline"]
    e = cli("evaluate", "review-sentiment", "--model", run, "--data", data, "--json")
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["model"]["macro_f1"] == m["model"]["macro_f1"]
    few = tmp_path/"few.csv"
    few.write_text("".join(data.read_text(encoding="utf-8").splitlines(True)[:6]), encoding="utf-8")
    p = cli("predict", "review-sentiment", "--model", run, "--input", few, "--output", tmp_path/"out.csv")
    assert p.returncode == 0, p.stderr
    with open(tmp_path/"out.csv", newline="", encoding="utf-8") as f: out = list(csv.DictReader(f))
    with open(few, newline="", encoding="utf-8") as f: given = list(csv.DictReader(f))
    assert [o["review"] for o in out] == [g["review"] for g in given]                    # the text comes back whole
    assert all(o["prediction"] in ("negative", "positive") for o in out)

def chinese_products(shop_dir, path):
    with open(shop_dir/"products.csv", newline="", encoding="utf-8") as f: rows = list(csv.DictReader(f))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader(); w.writerows(r for r in rows if r["lang"] == "zh")
    return path

def test_chinese_descriptions_through_finetune_evaluate_and_predict(shop_dir, backbone, tmp_path):
    data, run = chinese_products(shop_dir, tmp_path/"zh.csv"), tmp_path/"run"
    r = cli("finetune", "product-description", "--data", data, "--backbone", backbone, "--out", run,
            "--max-steps", "4", "--eval-every", "4", "--batch-size", "16", "--final-eval-rows", "6", "--no-compile")
    assert r.returncode == 0, r.stderr
    m = json.loads((run/"metrics.json").read_text())["test"]
    assert m["baseline"]["rouge_l"] > 0.3            # retrieval of a Chinese neighbour shares characters, not "words"
    e = cli("evaluate", "product-description", "--model", run, "--data", data, "--json", "--rows", "6")
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["model"]["rouge_l"] == m["model"]["rouge_l"]
    few = tmp_path/"few.csv"
    few.write_text("".join(data.read_text(encoding="utf-8").splitlines(True)[:4]), encoding="utf-8")
    p = cli("predict", "product-description", "--model", run, "--input", few, "--output", tmp_path/"out.csv",
            "--guard", "--max-new-tokens", "12")
    assert p.returncode == 0, p.stderr
    with open(tmp_path/"out.csv", newline="", encoding="utf-8") as f: out = list(csv.DictReader(f))
    assert len(out) == 3 and all("\ufffd" not in o["generated"] and o["guard"] for o in out)

def test_the_fact_checker_and_the_guard_read_chinese_attributes(shop_dir, tmp_path):
    "An absent Chinese colour is found and marked; the guard passes over the candidate that states it."
    from shoptasks.plugins import load_task
    task = load_task("product-description")
    train = task.load(chinese_products(shop_dir, tmp_path/"zh.csv"), "train")
    task.setup(train)
    row = next(r for r in train.rows if "白色" in r.text)
    assert "红色" not in row.text and "红色" in task.checker().vocabulary["colour"]         # a built-in colour
    assert task.highlights(row, {"generated": "这款红色的连衣裙很好看"}) == ["红色"]
    assert task.highlights(row, {"generated": "这款白色的连衣裙很好看"}) == []
    candidates = [dict(text="红色连衣裙，采用棉，经典耐穿。", ids=list(range(12)), score=-0.1),
                  dict(text="白色连衣裙，经典耐穿。", ids=list(range(10)), score=-0.9)]
    first = task.guarded([row], [candidates])[0][0]
    assert first["text"].startswith("白色") and first["guard"] == "changed" and not first["invented"]

def test_the_reports_figures_draw_chinese_labels(shop_dir, backbone, tmp_path):
    "A Chinese sentiment run's report: its per-category figure draws every glyph (a CJK font is found and used)."
    from shoptasks.report import cjk_font
    if not cjk_font():
        if os.environ.get("SHOPTASKS_REQUIRE_CJK_FONT"): pytest.fail("no CJK font is installed (.ci/run installs one)")
        pytest.skip("no CJK font is installed (Debian: apt-get install fonts-wqy-microhei)")
    data = tmp_path/"zh.csv"                           # more rows, so that categories of 30+ test rows are plotted
    head, *body = (shop_dir/"reviews_zh.csv").read_text(encoding="utf-8").splitlines(True)
    data.write_text(head + "".join(body * 4), encoding="utf-8")
    r = cli("finetune", "review-sentiment", "--data", data, "--backbone", backbone, "--out", tmp_path/"run",
            "--max-steps", "2", "--eval-every", "2", "--no-compile")
    assert r.returncode == 0, r.stderr
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = cli("report", tmp_path/"run", "--out", tmp_path/"report")
    assert page.returncode == 0, page.stderr
    assert "macro_f1 by department" in (tmp_path/"report"/"report.html").read_text()
    assert not [w for w in caught if "missing from font" in str(w.message)]
