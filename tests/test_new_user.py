"""What a new user met on their own files: a catalogue with renamed columns (`sku,name,cat_path,blurb,brand,price`),
a click log (`user,ts,sku`), runs of the wrong kind or unfinished, the guard's choice, empty outputs, Chinese text,
and the usual mistakes, each through the command line where they met it."""
import csv, json, shutil
import pytest
from conftest import cli, install_plugin, one_line_error, shoptasks

def catalogue(shop_dir, path, empty_every=0, rare=None):
    """The sample shop's products as a shop's own catalogue, its columns renamed; every `empty_every`-th category
    left empty, and the categories of the rows in `rare` (line -> category) replaced."""
    with open(shop_dir/"products.csv", newline="") as f: rows = list(csv.DictReader(f))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "cat_path", "blurb", "brand", "price"])
        for i, r in enumerate(rows):
            cat = "" if empty_every and i % empty_every == 3 else (rare or {}).get(i, r["category"])
            w.writerow([r["item_id"], r["title"], cat, r["description"], r["brand"], r["price"]])
    return path

def click_log(shop_dir, path):
    "The sample shop's events as a click log of its own: sessions, times and SKUs, under other names."
    with open(shop_dir/"events.csv", newline="") as f: rows = list(csv.DictReader(f))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user", "ts", "sku"])
        for r in rows: w.writerow([r["session_id"], r["timestamp"], r["item_id"]])
    return path

MAPS = {"product-category": ["name=name", "description=blurb", "label=cat_path"],
        "product-description": ["name=name", "category=cat_path", "label=blurb"],
        "next-item": ["user=user", "time=ts", "item=sku"]}

def columns(task): return [a for m in MAPS[task] for a in ("--column", m)]

@pytest.fixture(scope="module")
def user(shop_dir, backbone, tmp_path_factory):
    "A user's files, and a run of each kind fine-tuned on them with their columns mapped."
    tmp = tmp_path_factory.mktemp("user")
    files = dict(catalogue=catalogue(shop_dir, tmp/"catalogue.csv"), clicks=click_log(shop_dir, tmp/"clicks.csv"))
    runs = {}
    for task, data, extra in [("product-category", files["catalogue"], ["--backbone", backbone]),
                              ("product-description", files["catalogue"], ["--backbone", backbone,
                                                                           "--final-eval-rows", "8"]),
                              ("next-item", files["clicks"], [])]:
        r = cli("finetune", task, "--data", data, *columns(task), "--out", tmp/task, "--max-steps", "4",
                "--eval-every", "4", "--batch-size", "16", "--no-compile", *extra)
        assert r.returncode == 0, r.stderr
        runs[task] = (tmp/task, data, r.stdout)
    return tmp, files, runs

@pytest.mark.parametrize("task", list(MAPS))
def test_predict_and_evaluate_reuse_the_runs_columns_and_take_column_flags(user, task, tmp_path):
    _, _, runs = user
    run, data, _ = runs[task]
    keep = "sku" if task != "next-item" else "user"
    small = tmp_path/"input.csv"                                      # a few rows: enough to predict, quick to decode
    small.write_text("".join(data.read_text().splitlines(True)[:41]))
    outputs = []
    for flags in ([], columns(task)):
        out = tmp_path/f"out{len(flags)}.csv"
        r = cli("predict", task, "--model", run, "--input", small, "--output", out, "--keep-columns", keep, *flags)
        assert r.returncode == 0, r.stderr
        with open(out, newline="") as f: outputs.append(list(csv.DictReader(f)))
        assert outputs[-1] and list(outputs[-1][0])[0] == keep
        r = cli("evaluate", task, "--model", run, "--data", data, "--json", *flags)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["rows"] > 0
    assert outputs[0] == outputs[1]                                   # the remembered map is the one given
    msg = one_line_error(cli("predict", task, "--model", run, "--input", small, "--output", tmp_path/"x.csv",
                             "--column", "title=name", "--column", "blurb=x"))
    assert "has no roles 'title', 'blurb' (roles: " in msg and not (tmp_path/"x.csv").exists()
    renamed = tmp_path/"renamed.csv"                                  # the remembered column is gone: say so
    renamed.write_text(small.read_text().replace(MAPS[task][0].split("=")[1], "other", 1))
    msg = one_line_error(cli("predict", task, "--model", run, "--input", renamed, "--output", tmp_path/"x.csv"))
    assert "has no column for" in msg and f"tried '{MAPS[task][0].split('=')[1]}'" in msg

def test_the_final_evaluation_is_bounded_and_says_what_it_scored(user):
    _, _, runs = user
    run, data, stdout = runs["product-description"]
    report = json.loads((run/"metrics.json").read_text())
    assert (report["test"]["rows"], report["test"]["split_rows"]) == (8, 40)
    assert report["val"]["rows"] == 8 and "8 rows (of 40, evenly spread: --final-eval-rows)" in stdout
    r = cli("evaluate", "product-description", "--model", run, "--data", data, "--json")
    assert json.loads(r.stdout)["rows"] == 8                           # the run's own bound, by default
    r = cli("evaluate", "product-description", "--model", run, "--data", data, "--json", "--rows", "4")
    assert json.loads(r.stdout)["rows"] == 4
    from shoptasks.generation import GenerationTask
    assert GenerationTask.final_eval_rows == 100                       # the default bound of decoding tasks

def test_every_verb_checks_the_runs_kind(user, backbone, tmp_path):
    _, _, runs = user
    cat, _, _ = runs["product-category"]
    msg = one_line_error(cli("generate", "--model", cat, "--prompt", "Nice shoes"))
    assert msg == (f"shoptasks: {cat} is a classification run of product-category; generate needs a pretraining "
                   "or generation run")
    from shoptasks import generate
    from shoptasks.errors import ShoptasksError
    with pytest.raises(ShoptasksError, match="is a classification run of product-category"): generate(cat, "Nice")
    from shoptasks.ranking import recommend
    with pytest.raises(ShoptasksError, match="is a classification run of product-category; recommend needs a "
                                             "ranking run"): recommend(cat, ["P0001"])
    msg = one_line_error(cli("predict", "product-category", "--model", backbone, "--input", tmp_path/"a.csv",
                             "--output", tmp_path/"b.csv"))
    assert "is a pretraining run; predict needs a fine-tuning run of product-category" in msg
    msg = one_line_error(cli("evaluate", "review-sentiment", "--model", cat))
    assert "is a classification run of product-category, not of review-sentiment" in msg

def test_an_unfinished_run_is_refused(user, backbone, tmp_path):
    "A run killed before its end has checkpoints but no metrics.json: predict and generate refuse it in one line."
    _, files, runs = user
    run = shutil.copytree(runs["product-category"][0], tmp_path/"killed")
    (run/"metrics.json").unlink()
    msg = one_line_error(cli("predict", "product-category", "--model", run, "--input", files["catalogue"],
                             "--output", tmp_path/"o.csv"))
    assert "the run has not finished (no metrics.json; last checkpoint ckpt-0000004)" in msg
    assert f"--config {run/'finetune_config.json'} --resume" in msg and not (tmp_path/"o.csv").exists()
    pretrained = shutil.copytree(backbone, tmp_path/"killed-pretraining")
    (pretrained/"metrics.json").unlink()
    msg = one_line_error(cli("generate", "--model", pretrained, "--prompt", "Aster"))
    assert "the run has not finished" in msg and "pretrain_config.json --resume" in msg

def test_the_served_guard_chooses_a_full_candidate_that_invents_nothing(demo):
    "The demo's description run, served: the guard's choice states nothing the input lacks, says the most of it."
    from shoptasks.serve import ServedRun
    out, _ = demo
    served = ServedRun("descriptions", out/"tasks"/"product-description")
    with open(out/"shop"/"products.csv", newline="") as f: products = list(csv.DictReader(f))[:6]
    rows = served.rows([dict(name=p["title"], brand=p["brand"], colour=p["colour"], material=p["material"])
                        for p in products])
    answers = served.predict(rows, {})
    checker = served.task.checker()
    for row, a in zip(rows, answers):
        assert isinstance(a["candidates"], list) and not any(k.startswith("generated_") for k in a), a
        everyone = [dict(text=a["generated"], score=a["score"], invented=a["invented"]), *a["candidates"]]
        usable = [c for c in everyone if c["text"] and not c["invented"]]
        if not usable: continue
        assert a["generated"] and not a["invented"] and a["guard"] in ("kept", "changed"), a
        def recall(text): return checker.recall(text, row.text) or 0
        longer = [c for c in usable if len(c["text"].split()) >= len(a["generated"].split())]
        assert all(recall(c["text"]) <= recall(a["generated"]) for c in longer), a   # none says more of the row

NO_STOP = """
from shoptasks.hookspecs import hookimpl
from shoptasks_catalog import ProductDescription
class Silent(ProductDescription):
    name, description = "silent-description", "stops before its first token (a plugin's stop list holds every token)"
    def stop_ids(self, tokenizer): return list(range(len(tokenizer)))
@hookimpl
def register_tasks(register): register(Silent)
"""

def test_empty_outputs_are_said_in_the_log_and_the_report(shop_dir, backbone, tmp_path):
    env = install_plugin(tmp_path/"site", "silent_plugin", NO_STOP, "silent = silent_plugin")
    r = shoptasks("finetune", "silent-description", "--data", shop_dir/"products.csv", "--backbone", backbone, "--out",
                  tmp_path/"run", "--max-steps", "2", "--eval-every", "2", "--final-eval-rows", "10", env=env)
    assert r.returncode == 0, r.stderr
    assert "warning: 10 of 10 outputs are empty" in r.stdout
    r = shoptasks("report", tmp_path/"run", "--out", tmp_path/"report", env=env)
    assert r.returncode == 0, r.stderr
    assert "10 of 10 outputs are empty" in (tmp_path/"report"/"report.md").read_text()

def test_decoding_never_ends_within_a_character(backbone, tmp_path):
    "The tiny backbone's 512 tokens split Chinese characters into bytes; no continuation ends with a broken one."
    from shoptasks import generate
    texts = [t for n in range(1, 9) for t in generate(backbone, "<|title|>白色", n=2, max_new_tokens=n)]
    assert texts and not any("\ufffd" in t for t in texts), texts
    r = cli("generate", "--model", backbone, "--prompt", "<|description|>红色", "--max-new-tokens", "5", "-n", "4")
    assert r.returncode == 0 and "\ufffd" not in r.stdout, r.stdout

def test_tokenizer_commands_speak_text(shop_dir, tmp_path):
    r = cli("tokenizer", "train", "--data", shop_dir/"corpus.txt", "--vocab-size", "200000", "--out", tmp_path/"tok")
    assert r.returncode == 0, r.stderr
    assert "(fewer than the 200000 asked for: the corpus has no more pairs seen twice to merge)" in r.stdout
    text = "灰色围巾 grey scarf 白色"
    r = cli("tokenizer", "encode", "--tokenizer", tmp_path/"tok", text)
    assert r.returncode == 0, r.stderr
    assert not any(c in r.stdout for c in "çģåĽĠ"), r.stdout            # no byte-level symbols
    from transformers import AutoTokenizer
    from shoptasks.tokenizer import token_pieces
    tok = AutoTokenizer.from_pretrained(tmp_path/"tok")
    pieces = token_pieces(tok, tok(text)["input_ids"])
    assert " ".join(f"{p}:{i}" for p, i in zip(pieces, tok(text)["input_ids"])) == r.stdout.strip()
    def raw(p): return bytes(int(b, 16) for b in p[1:-1].split()) if p.startswith("<0x") else p.encode()
    assert b"".join(map(raw, pieces)) == text.encode()                # the pieces are the text, byte for byte
    assert cli("tokenizer", "train", "--data", shop_dir/"corpus.txt", "--vocab-size", "300",
               "--out", tmp_path/"small").returncode == 0                  # few merges: characters cut into bytes
    small = AutoTokenizer.from_pretrained(tmp_path/"small")
    pieces = token_pieces(small, small("围巾")["input_ids"])
    assert any(p.startswith("<0x") for p in pieces) and b"".join(map(raw, pieces)) == "围巾".encode(), pieces
    help_text = cli("tokenizer", "train", "--help").stdout
    for words in ("a .txt corpus", "the text column", "the tokenizer directory to write", "(default: 8192)"):
        assert words in " ".join(help_text.split()), help_text

def test_python_api_takes_the_command_lines_option_names(user, tmp_path):
    _, files, runs = user
    run = runs["next-item"][0]
    from shoptasks import predict
    a = predict("next-item", run, files["clicks"], tmp_path/"a.csv", k=3, exclude_seen=True)
    b = predict("next-item", run, files["clicks"], tmp_path/"b.csv", options=dict(k=3, exclude_seen=True))
    assert a["rows"] == b["rows"] > 0 and (tmp_path/"a.csv").read_text() == (tmp_path/"b.csv").read_text()
    assert len(next(csv.DictReader(open(tmp_path/"a.csv")))["items"].split(";")) == 3
    from shoptasks.errors import ShoptasksError
    with pytest.raises(ShoptasksError, match="takes the options k, exclude_seen and features, not num_beams"):
        predict("next-item", run, files["clicks"], tmp_path/"c.csv", num_beams=2)

BAD_FIELD = """
from shoptasks.hookspecs import hookimpl
from shoptasks.generation import GenerationTask
class Named(GenerationTask):
    name, description, sample = "a-very-long-task-name-for-names", "writes a name", "products.csv"
    columns = dict(brand="brand", label="title")
    text_roles = ("brand",)
    fields = dict(brand="<|brand|>")
    target_field = "<|name|>"
class Fine(Named):
    name, target_field = "another-quite-long-task-name", "<|title|>"
@hookimpl
def register_tasks(register):
    register(Named)
    register(Fine)
"""

def test_a_target_field_that_is_no_field_token_is_refused_and_long_names_line_up(tmp_path):
    env = install_plugin(tmp_path/"site", "named_plugin", BAD_FIELD, "named = named_plugin")
    r = shoptasks("tasks", env=env)
    assert r.returncode == 2
    assert ("task 'a-very-long-task-name-for-names' has target_field '<|name|>', which is not a field token "
            "(field tokens: <|title|>, ") in r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith("another-quite-long-task-name"))
    assert line.split()[:3] == ["another-quite-long-task-name", "generate", "named"], line

def test_tuning_keeps_the_warmup_within_a_trials_steps():
    import optuna
    from shoptasks.finetune import FinetuneConfig
    from shoptasks.tune import default_search_space
    cfg = FinetuneConfig(task="review-sentiment", out="x", max_steps=12)
    draw = default_search_space(None, cfg)["warmup"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    assert {draw(study.ask()) for _ in range(20)} <= {0, 1}             # a tenth of 12 steps
    draw = default_search_space(None, FinetuneConfig(task="review-sentiment", out="x", max_steps=500))["warmup"]
    drawn = [draw(study.ask()) for _ in range(30)]
    assert max(drawn) <= 50 and len(set(drawn)) > 3                     # a longer trial: a wider range

def test_overwrite_replaces_an_earlier_run(shop_dir, backbone, tmp_path):
    args = ["finetune", "review-sentiment", "--data", shop_dir/"reviews.csv", "--backbone", backbone, "--out",
            tmp_path/"run", "--max-steps", "2", "--eval-every", "2", "--no-compile"]
    assert cli(*args).returncode == 0
    msg = one_line_error(cli(*args, "--lr", "1e-4"))
    assert "holds a different run (lr: " in msg and "pass --overwrite to replace it" in msg
    r = cli(*args, "--lr", "1e-4", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/"run"/"finetune_config.json").read_text())["lr"] == 1e-4
    assert one_line_error(cli(*args, "--overwrite", "--resume")).endswith("give one")
    from shoptasks import finetune
    report = finetune(task="review-sentiment", data=str(shop_dir/"reviews.csv"), backbone=str(backbone),
                      out=str(tmp_path/"run"), max_steps=2, eval_every=2, compile=False, lr=3e-4, quiet=True,
                      overwrite=True)
    assert report["steps"] == 2

def test_empty_and_rare_categories_are_skipped_and_counted(shop_dir, backbone, tmp_path):
    "86 empty categories and a label seen only outside training no longer stop the run; the report counts them."
    data = catalogue(shop_dir, tmp_path/"cat.csv", empty_every=10, rare={0: "Health & Household", 2: "Toys", 8: "Toys"})
    r = cli("finetune", "product-category", "--data", data, *columns("product-category"), "--backbone", backbone,
            "--out", tmp_path/"run", "--max-steps", "2", "--eval-every", "2", "--no-compile")
    assert r.returncode == 0, r.stderr
    test = json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]
    assert test["skipped_unlabelled"] == 20 and "20 rows of the file without a label skipped" in r.stdout
    left = {k: v for k, v in test["notes"].items() if "with fewer than 5 training rows" in k}
    assert list(left.values()) == [1] and "'Health & Household'" in next(iter(left)), test["notes"]
    labels = json.loads((tmp_path/"run"/"task.json").read_text())["labels"]
    assert "Toys" not in labels and "Health & Household" not in labels
    r = cli("evaluate", "product-category", "--model", tmp_path/"run", "--data", data, "--json")
    assert r.returncode == 0, r.stderr                                   # evaluating counts them too
    r = cli("finetune", "product-category", "--data", data, *columns("product-category"), "--backbone", backbone,
            "--out", tmp_path/"run2", "--max-steps", "2", "--eval-every", "2", "--no-compile", "--min-class-rows", "1")
    assert r.returncode == 0, r.stderr
    assert "Toys" in json.loads((tmp_path/"run2"/"task.json").read_text())["labels"]

def test_next_item_filters_are_options(user, tmp_path):
    _, files, runs = user
    notes = json.loads((runs["next-item"][0]/"metrics.json").read_text())["test"]["notes"]
    assert not any("events of items with fewer than" in k for k in notes)       # by default every item stays
    r = cli("finetune", "next-item", "--data", files["clicks"], *columns("next-item"), "--out", tmp_path/"run",
            "--max-steps", "2", "--eval-every", "2", "--min-item-events", "5", "--min-user-events", "4")
    assert r.returncode == 0, r.stderr
    assert "events of items with fewer than 5 events, dropped: " in r.stdout
    assert "histories with fewer than 4 items, skipped: " in r.stdout
    msg = one_line_error(cli("finetune", "next-item", "--data", files["clicks"], "--out", tmp_path/"bad",
                             "--max-steps", "2", "--min-user-events", "2"))
    assert "min_user_events must be a whole number >= 3" in msg

def test_a_tokenizer_that_does_not_fit_the_data_is_warned_of(shop_dir, backbone, tmp_path):
    "Words the backbone's tokenizer never saw come out as many fragments: the run says so, and its report."
    words = ["Xylophonique", "Zygomorphic", "Quixotrellis", "Bathyscaphoid", "Fjordwhistle", "Kryptonautic"]
    data = tmp_path/"odd.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "recommended"])
        for i in range(200): w.writerow([" ".join(words[(i + j) % 6] for j in range(8)), i % 2])
    r = cli("finetune", "review-sentiment", "--data", data, "--backbone", backbone, "--out", tmp_path/"run",
            "--max-steps", "2", "--eval-every", "2", "--no-compile")
    assert r.returncode == 0, r.stderr
    fit = json.loads((tmp_path/"run"/"metrics.json").read_text())["tokenizer_fit"]
    assert fit["data"] > 2 * fit["backbone_corpus"] and "warning: the backbone's tokenizer makes" in r.stderr
    r = cli("finetune", "review-sentiment", "--data", shop_dir/"reviews.csv", "--backbone", backbone, "--out",
            tmp_path/"fits", "--max-steps", "2", "--eval-every", "2", "--no-compile")
    assert "warning" not in r.stderr and "warning" not in json.dumps(
        json.loads((tmp_path/"fits"/"metrics.json").read_text())["tokenizer_fit"])

def test_auto_precision_is_said_with_its_reason(user):
    import torch
    from shoptasks.trainer import precision_choice
    _, _, runs = user
    choice, why = precision_choice("auto")
    assert choice == ("bf16" if torch.cpu._is_amx_tile_supported() else "fp32")
    assert f"precision auto: {choice} ({why})" in runs["product-category"][2]
    assert precision_choice("fp32") == ("fp32", "as asked")
