"""Generation tasks end to end through the same driver as classification: product descriptions on the sample shop
and on Flipkart Products (CC BY-SA 4.0, ../shared/data), beside the retrieval baseline on the same test rows, with
and without the guard against invented attributes."""
import csv, json
import pytest
from conftest import cli, one_line_error

def finetune(data_args, backbone, out, steps="6", *extra):
    return cli("finetune", "product-description", *data_args, "--backbone", backbone, "--out", out,
               "--max-steps", steps, "--batch-size", "16", "--eval-every", steps, "--lr", "3e-3", *extra)

@pytest.fixture(scope="module")
def described(backbone, shop_dir, tmp_path_factory):
    "product-description fine-tuned for 120 steps on the sample shop, and what it printed."
    out = tmp_path_factory.mktemp("described")/"run"
    r = finetune(["--data", shop_dir/"products.csv"], backbone, out, "120")
    assert r.returncode == 0, r.stderr
    return out, r.stdout

def test_product_description_on_the_sample_shop(described, shop_dir, tmp_path):
    run, stdout = described
    assert "rouge_l" in stdout and "model + guard" in stdout and "baseline: nearest training row (TF-IDF)" in stdout
    assert "model + constraint" in stdout and "attribute_recall" in stdout
    report = json.loads((run/"metrics.json").read_text())["test"]
    assert report["rows"] == 40 and report["shown"][0] == "rouge_l"
    assert report["model"]["rouge_l"] > 0.1                          # it learnt to describe: after 1 step, .003
    assert report["baseline"]["rouge_l"] > 0.3                       # the sample's descriptions share their phrasing
    info = json.loads((run/"task.json").read_text())
    assert info["max_prompt"] + info["max_target"] < 64                # fits the tiny model's context
    assert "Tidewater" in info["vocabulary"]["brand"] and "cotton" in info["vocabulary"]["material"]
    fresh = report["subsets"]["rows without a stock target"]         # the sample shop has two stock texts
    assert len(info["stock"]) == 2 and 0 < fresh["rows"] < 40 and "rows without a stock target (" in stdout
    assert report["notes"]["rows whose target is a stock text (seen 3+ times in training)"] == 40 - fresh["rows"]

    again = cli("evaluate", "product-description", "--model", run, "--data", shop_dir/"products.csv", "--json")
    assert again.returncode == 0, again.stderr
    again = json.loads(again.stdout)
    assert again["model"] == report["model"] and again["variants"] == report["variants"]   # greedy, seeded samples
    assert again["subsets"] == report["subsets"] and again["other_baselines"] == report["other_baselines"]

def test_the_guard_lowers_the_invented_rate(described):
    run, _ = described
    report = json.loads((run/"metrics.json").read_text())["test"]
    plain, guarded = report["model"], report["variants"]["model + guard"]
    assert plain["invented_rate"] > 0 and guarded["invented_rate"] < plain["invented_rate"], (plain, guarded)
    groups = report["segments"]["model"]
    assert groups == {}                                              # products carry no segment

def test_predict_writes_texts_alternatives_and_the_guard(described, shop_dir, tmp_path):
    run, _ = described
    r = cli("predict", "product-description", "--model", run, "--input", shop_dir/"products.csv", "--output",
            tmp_path/"d.csv", "--keep-columns", "item_id")
    assert r.returncode == 0, r.stderr
    with open(tmp_path/"d.csv", newline="") as f: rows = list(csv.DictReader(f))
    assert len(rows) == 200 and list(rows[0]) == ["item_id", "generated", "score"]
    scores = [float(x["score"]) for x in rows]
    assert all(s <= 0 for s in scores) and len(set(scores)) > 100     # mean log-probabilities, each text's own
    r = cli("predict", "product-description", "--model", run, "--input", shop_dir/"products.csv", "--output",
            tmp_path/"g.jsonl", "--keep-columns", "item_id", "--num-beams", "3", "--num-return-sequences", "2",
            "--guard")
    assert r.returncode == 0, r.stderr
    first = json.loads((tmp_path/"g.jsonl").read_text().splitlines()[0])
    assert list(first)[:5] == ["item_id", "generated", "score", "generated_2", "score_2"]
    assert first["guard"] in ("kept", "changed", "all invent", "all empty") and "invented" in first

@pytest.mark.parametrize("flags,fragment", [
    (["--max-new-tokens", "0"], "max_new_tokens must be > 0, not 0"),
    (["--num-beams", "0"], "num_beams must be >= 1, not 0"),
    (["--sample", "--temperature", "0"], "temperature must be > 0 when sampling, not 0.0"),
])
def test_bad_decoding_options(described, shop_dir, tmp_path, flags, fragment):
    run, _ = described
    msg = one_line_error(cli("predict", "product-description", "--model", run, "--input", shop_dir/"products.csv",
                             "--output", tmp_path/"d.csv", *flags))
    assert fragment in msg and not (tmp_path/"d.csv").exists()

def test_product_description_on_flipkart(shared_data, backbone, tmp_path):
    r = finetune(["--data", shared_data/"flipkart_products"/"products.csv"], backbone, tmp_path/"run", "6",
                 "--final-eval-rows", "210")                        # every test row, not the default 100
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]
    assert report["rows"] == report["split_rows"] == 210
    notes = report["notes"]
    assert notes["rows with unreadable specifications"] == 1          # one of the four nil ones is a test row
    assert "  rows with unreadable specifications: 1" in r.stdout
    assert notes["rows whose target is a stock text (seen 3+ times in training)"] == 0    # every description differs
    assert report["subsets"] == {}                                   # so no second table of non-stock rows
    shortened = notes["prompts longer than 31 tokens, shortened to fit (the name kept)"]   # the tiny model's context
    assert 0 < notes["prompts whose specifications was shortened"] <= shortened <= 210
    from shoptasks.inference import load_finetuned
    _, tok, task, _ = load_finetuned(tmp_path/"run")
    kept = 0
    for row in task.load(shared_data/"flipkart_products"/"products.csv", "test").rows:
        ids, cut = task.prompt_ids(row, tok)
        name = tok(f"<|title|>{row.inputs['name']}", add_special_tokens=False)["input_ids"]
        assert len(ids) <= 31 and ids[-1] == tok.convert_tokens_to_ids("<|description|>")
        if cut and len(name) + len(task.prompt_parts(row)) <= 31:   # the name fits beside the other field tokens
            assert "name" not in cut and ids[:len(name)] == name, (cut, tok.decode(ids))
            kept += 1
    assert kept > 20                                                 # long prompts shortened, their names whole
    assert report["baseline"]["rouge_l"] > 0.5                       # retrieval: .570 on all test rows
    template = report["other_baselines"]["template of the row's fields"]
    assert template["invented_rate"] < 0.05 < template["rouge_l"] < report["baseline"]["rouge_l"]
    assert template["attribute_recall"] > report["model"]["attribute_recall"] >= 0   # the template says what it is given
    vocabulary = json.loads((tmp_path/"run"/"task.json").read_text())["vocabulary"]
    assert "Multicolor" in vocabulary["colour"] and "Ceramic" in vocabulary["material"]   # from the specifications

def test_a_classification_run_is_not_a_generation_run(backbone, shop_dir, tmp_path):
    r = cli("finetune", "review-sentiment", "--data", shop_dir/"reviews.csv", "--backbone", backbone, "--out",
            tmp_path/"cls", "--max-steps", "2", "--batch-size", "8", "--eval-every", "2")
    assert r.returncode == 0, r.stderr
    msg = one_line_error(cli("evaluate", "product-description", "--model", tmp_path/"cls"))
    assert "is a classification run of review-sentiment, not of product-description" in msg
    msg = one_line_error(cli("predict", "review-sentiment", "--model", tmp_path/"cls", "--input",
                             shop_dir/"reviews.csv", "--output", tmp_path/"p.csv", "--num-beams", "2"))
    assert "review-sentiment takes no prediction options (got num_beams)" in msg

def test_a_masked_backbone_cannot_generate(shop_dir, tmp_path):
    r = cli("pretrain", "--data", shop_dir/"corpus.txt", "--out", tmp_path/"mlm", "--preset", "tiny",
            "--vocab-size", "400", "--objective", "masked", "--max-steps", "2", "--eval-every", "2", "--no-compile")
    assert r.returncode == 0, r.stderr
    msg = one_line_error(finetune(["--data", shop_dir/"products.csv"], tmp_path/"mlm", tmp_path/"run"))
    assert ("not a causal language model directory (a generation task needs one; this shoptasks model is "
            "bidirectional)") in msg
    assert not (tmp_path/"run").exists()

def real_slice(source, path, lines: int):
    "The first `lines` lines of a published file, as a file of their own (gzip if it is)."
    import gzip
    opener = gzip.open if str(source).endswith(".gz") else open
    with opener(source, "rt", encoding="utf-8") as f, opener(path, "wt", encoding="utf-8") as out:
        for _, line in zip(range(lines), f): out.write(line)
    return path

def short_finetune(task, data, backbone, out, *extra):
    return cli("finetune", task, *(["--data", data] if data else []), "--backbone", backbone, "--out", out,
               "--max-steps", "4", "--batch-size", "16", "--eval-every", "4", "--lr", "3e-3", *extra)

def test_product_answer_on_the_sample_shop_and_amazon_qa(shared_data, backbone, tmp_path):
    r = short_finetune("product-answer", None, backbone, tmp_path/"sample")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path/"sample"/"metrics.json").read_text())["test"]
    kinds = report["segments"]["model"]["kind"]
    assert (report["rows"], report["split_rows"]) == (100, 240)             # the final evaluation's bound, spread
    assert set(kinds["groups"]) | set(kinds["left_out"]) >= {"colour", "material"}
    data = real_slice(shared_data/"amazon_qa_appliances"/"qa_Appliances.json.gz", tmp_path/"qa.json.gz", 1000)
    r = short_finetune("product-answer", data, backbone, tmp_path/"qa")
    assert r.returncode == 0, r.stderr
    import ast, gzip
    rows = [ast.literal_eval(l) for l in gzip.open(data, "rt")]
    open_ended = [q for q in rows if q["questionType"] == "open-ended" and q["answer"].strip()]
    report = json.loads((tmp_path/"qa"/"metrics.json").read_text())["test"]
    assert report["split_rows"] == len(range(0, len(open_ended), 5)) and report["rows"] == min(100, report["split_rows"])

def test_marketing_copy_on_the_sample_shop_and_slogans(shared_data, backbone, tmp_path):
    r = short_finetune("marketing-copy", None, backbone, tmp_path/"sample")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path/"sample"/"metrics.json").read_text())["test"]
    audience = report["segments"]["model"]["audience"]
    assert (report["rows"], report["split_rows"]) == (100, 120) and "students" in {**audience["groups"],
                                                                                 **audience["left_out"]}
    r = short_finetune("marketing-copy", shared_data/"company_slogans"/"slogans.csv", backbone, tmp_path/"slogans")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path/"slogans"/"metrics.json").read_text())["test"]
    assert report["split_rows"] == 199 and "audience" in report["segments"]["model"]          # industries

def test_retrieve_and_edit_without_leakage(backbone, shop_dir, tmp_path):
    "With --retrieve, the prompt shows training rows' inputs and targets: never a row's own, only training rows."
    run = tmp_path/"run"
    r = finetune(["--data", shop_dir/"products.csv"], backbone, run, "4", "--retrieve", "1", "--final-eval-rows", "8")
    assert r.returncode == 0, r.stderr
    from shoptasks.plugins import load_task
    from shoptasks.metrics import swap_values
    task = load_task("product-description")
    train, test = (task.load(shop_dir/"products.csv", s) for s in ("train", "test"))
    info = json.loads((run/"task.json").read_text())
    assert info["retrieve"] == 1 and info["index"] == [[r.text, r.label, r.inputs] for r in train.rows]
    task.retrieve = 3
    task.setup(train, test)
    for i, row in enumerate(train.rows):                              # no row sees itself or a row of its target
        assert i not in row.neighbours and all(train.rows[j].label != row.label for j in row.neighbours)
    assert all(len(r.neighbours) == 3 for r in test.rows)
    j = test.rows[0].neighbours[0]
    shown = "".join(f"{field}{value}" for _, field, value in task.prompt_parts(train.rows[j]))   # its fields, its text
    label = swap_values(train.rows[j].label, train.rows[j].inputs, test.rows[0].inputs)  # named as this one
    assert task.prompt(test.rows[0]).startswith(f"<|item|>{shown}<|description|>{label}<|item|>")
    samples = [json.loads(l) for l in (run/"test_outputs.jsonl").read_text().splitlines()]   # side by side
    retrieval = "baseline: nearest training row (TF-IDF)"
    assert list(samples[0])[:6] == ["line", "input", "neighbour shown", "target", "generated", "score"]
    by_line = {r.line: r for r in test.rows}
    for s in samples:
        row = by_line[s["line"]]
        near = train.rows[row.neighbours[0]]                             # k=1: the retrieval baseline's row
        assert s[retrieval] == near.label and s["neighbour shown"] == swap_values(near.label, near.inputs,
                                                                                     row.inputs)
        assert s["baseline_highlights"] == task.highlights(row, {"generated": s[retrieval]})
    marked = [s for s in samples if s["baseline_highlights"]]
    assert marked, "the sample shop's neighbours state attributes the rows lack"
    page = cli("report", run, "--out", tmp_path/"report")
    assert page.returncode == 0, page.stderr
    html = (tmp_path/"report"/"report.html").read_text()
    assert "<th>neighbour shown</th>" in html and f"<th>{retrieval}</th>" in html
    assert f"<mark>{marked[0]['baseline_highlights'][0]}</mark>".lower() in html.lower()
    few = tmp_path/"few.csv"
    few.write_text("".join((shop_dir/"products.csv").read_text().splitlines(True)[:11]))
    r = cli("predict", "product-description", "--model", run, "--input", few, "--output", tmp_path/"d.csv")
    assert r.returncode == 0, r.stderr
    info["index"] = None                                                # a run whose index is lost refuses to run
    (run/"task.json").write_text(json.dumps(info))
    msg = one_line_error(cli("predict", "product-description", "--model", run, "--input", few, "--output",
                             tmp_path/"e.csv"))
    assert "retrieves 1 neighbours but has no index of training rows" in msg and not (tmp_path/"e.csv").exists()

def test_max_length_applies_to_generation_and_ranking(backbone, shop_dir, tmp_path):
    r = finetune(["--data", shop_dir/"products.csv"], backbone, tmp_path/"gen", "2", "--max-length", "40",
                 "--final-eval-rows", "4")
    assert r.returncode == 0, r.stderr
    info = json.loads((tmp_path/"gen"/"task.json").read_text())
    assert info["max_prompt"] + info["max_target"] + 1 <= 40 and info["max_target"] == 20
    msg = one_line_error(finetune(["--data", shop_dir/"products.csv"], backbone, tmp_path/"long", "2",
                                  "--max-length", "100"))
    assert "max_length 100 is over the 64 tokens" in msg and not (tmp_path/"long").exists()
    r = cli("finetune", "next-item", "--data", shop_dir/"events.csv", "--out", tmp_path/"rank", "--max-steps", "2",
            "--eval-every", "2", "--max-length", "5")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/"rank"/"task.json").read_text())["max_history"] == 5
    msg = one_line_error(cli("finetune", "next-item", "--data", shop_dir/"events.csv", "--out", tmp_path/"x",
                             "--max-steps", "2", "--retrieve", "2"))
    assert "--retrieve does not apply to next-item (a ranking task)" in msg
