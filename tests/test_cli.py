"The `shoptasks` command end to end, on the generated sample shop, as a user runs it."
import json, subprocess, sys
import pytest, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from conftest import cli, shoptasks
from shoptasks.model import generate_ids

COMMANDS = [[], ["demo"], ["tokenizer"], ["tokenizer", "train"], ["tokenizer", "encode"], ["pretrain"], ["generate"]]

@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "shoptasks")
def test_help(cmd):
    r = cli(*cmd, "--help")
    assert r.returncode == 0 and "usage: shoptasks" in r.stdout

def test_help_comes_from_the_config_fields():
    help = " ".join(cli("pretrain", "--help").stdout.split())
    assert "--minutes MINUTES train for this many minutes of the training loop (" in help
    assert "None: the sample shop's" in help
    for flag in ("--betas", "--grad-clip", "--min-lr-ratio", "--n-layer", "--config"): assert flag in help

def test_the_installed_script():
    r = shoptasks("--help")
    assert r.returncode == 0 and "usage: shoptasks" in r.stdout and "finetune" in r.stdout

@pytest.fixture(scope="module")
def tiny_run(shop_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")/"tiny"
    r = shoptasks("pretrain", "--data", shop_dir/"corpus.txt", "--out", out, "--preset", "tiny", "--vocab-size", "512",
                  "--max-steps", "60", "--eval-every", "30", "--no-compile", "--lr", "3e-3")
    assert r.returncode == 0, r.stderr
    return out, r.stdout

def test_pretrain_reports_model_beside_baseline(tiny_run):
    out, stdout = tiny_run
    assert "val ppl" in stdout and "bigram (add-k=" in stdout and "tokens/s" in stdout
    m = json.loads((out/"metrics.json").read_text())
    assert m["steps"] == 60 and m["tokens"] == 60 * 16 * 64
    log = [json.loads(l) for l in (out/"metrics.jsonl").read_text().splitlines()]
    evals = [l for l in log if "val_loss" in l]
    assert [l["step"] for l in evals] == [30, 60] and evals[1]["val_loss"] < evals[0]["val_loss"]    # it learns
    assert m["val_ppl"] < 512 / 8 and 1 < m["val_bigram_ppl"] < 512 / 8       # far from a uniform guess (512)
    assert list(out.glob("events.out.tfevents.*"))

def test_run_dir_is_a_hugging_face_model(tiny_run):
    out, _ = tiny_run
    model, tok = AutoModelForCausalLM.from_pretrained(out).eval(), AutoTokenizer.from_pretrained(out)
    ids = tok("<|title|>Aster navy", return_tensors="pt")["input_ids"]
    hf = model.generate(ids, max_new_tokens=15, do_sample=False)
    assert torch.equal(generate_ids(model, ids, 15, eos_token_id=tok.eos_token_id), hf)   # both stop at <|eos|>
    r = cli("generate", "--model", out, "--prompt", "<|title|>Aster", "-n", "2", "--max-new-tokens", "8")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2 and all(l.startswith("<|title|>Aster") for l in r.stdout.splitlines())

def test_hugging_face_idioms_and_generate_agree(tiny_run):
    from transformers import pipeline
    from shoptasks import generate
    out, _ = tiny_run
    model, tok = AutoModelForCausalLM.from_pretrained(out).eval(), AutoTokenizer.from_pretrained(out)
    inputs = tok("<|title|>Aster navy", return_tensors="pt")
    assert list(inputs) == ["input_ids", "attention_mask"]
    ours = model.generate(**inputs, max_new_tokens=10, do_sample=False)                # the usual idiom
    piped = pipeline("text-generation", model=str(out))("<|title|>Aster navy", max_new_tokens=10, do_sample=False,
                                                         clean_up_tokenization_spaces=False)[0]["generated_text"]
    text = generate(out, "<|title|>Aster navy", greedy=True, max_new_tokens=10)
    assert text == [tok.decode(ours[0])] and piped == text[0]
    r = cli("generate", "--model", out, "--prompt", "<|title|>Aster navy", "--greedy", "--max-new-tokens", "10")
    assert r.stdout == text[0] + "\n"                                  # the command prints what Python returns

def test_pretrain_defaults_to_the_sample_shop_and_reports_both_times(tmp_path):
    r = cli("pretrain", "--out", tmp_path/"run", "--preset", "tiny", "--vocab-size", "400", "--max-steps", "5",
            "--no-compile")
    assert r.returncode == 0, r.stderr
    assert "s of training (" in r.stdout and "s in all, with set-up and the final evaluation)" in r.stdout
    m = json.loads((tmp_path/"run"/"metrics.json").read_text())
    assert m["steps"] == 5 and m["wall_time_s"] > m["train_time_s"] > 0

def test_same_seed_same_numbers(tiny_run, shop_dir, tmp_path):
    out, _ = tiny_run
    r = cli("pretrain", "--data", shop_dir/"corpus.txt", "--out", tmp_path/"again", "--preset", "tiny", "--vocab-size", "512",
                  "--max-steps", "60", "--eval-every", "30", "--no-compile", "--lr", "3e-3")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/"again"/"metrics.json").read_text())["val_ppl"] == json.loads((out/"metrics.json").read_text())["val_ppl"]

def test_tokenizer_train_and_encode(shop_dir, tmp_path):
    r = cli("tokenizer", "train", "--data", shop_dir/"reviews.csv", "--column", "text", "--vocab-size", "600", "--out", tmp_path/"tok")
    assert r.returncode == 0, r.stderr
    tok = AutoTokenizer.from_pretrained(tmp_path/"tok")
    assert len(tok) == 600
    text = "<|review|>非常喜欢 😍 perfect fit"
    assert tok.decode(tok(text)["input_ids"]) == text
    r = cli("tokenizer", "encode", "--tokenizer", tmp_path/"tok", "<|review|>perfect fit")
    assert r.returncode == 0 and r.stdout.startswith(f"<|review|>:{tok.convert_tokens_to_ids('<|review|>')} ")

def test_demo_runs_end_to_end(demo):
    "A third party's task that cannot read the sample shop (listed first) is reported; the others still run."
    out, r = demo
    assert "shoptasks: task 'aa-broken-sample' (plugin 'bad') failed, going on with the others: " in r.stderr
    assert "has no column for text (tried 'body'" in r.stderr
    for task in ("product-category", "review-rating", "review-sentiment"): assert f"{task}: test split of" in r.stdout
    assert "bigram" in r.stdout and "'<|title|>Aster navy' ->" in r.stdout and "s in all" in r.stdout
    assert (out/"shop"/"products.csv").exists() and (out/"model"/"model.safetensors").exists()
    assert f"report of everything trained: {out/'report'/'report.html'}" in r.stdout
    page = (out/"report"/"report.html").read_text()
    for task in ("product-category", "review-rating", "review-sentiment", "pretraining"): assert f"{task}: " in page
    assert "aa-broken-sample" not in page
    zh = json.loads((out/"tasks"/"review-sentiment-reviews_zh"/"metrics.json").read_text())["test"]   # Chinese rows
    assert "review-sentiment-reviews_zh: test split of" in r.stdout and zh["baseline_params"]["features"] == "chars"
    assert zh["source"].endswith("reviews_zh.csv") and "review-sentiment-reviews_zh</h2>" in page
    ranked = json.loads((out/"tasks"/"next-item"/"metrics.json").read_text())["test"]   # the first ranking table
    kNN, popular = ranked["baseline"]["ndcg_10"], ranked["other_baselines"]["popularity"]["ndcg_10"]
    assert ranked["model"]["ndcg_10"] > 1.5 * max(kNN, popular)      # (repeating the history is about as strong here)

def test_help_starts_without_torch():
    "`shoptasks --help` and `import shoptasks` import neither torch nor transformers (start-up stays well under 1.5 s)."
    code = ("import sys, contextlib, io, shoptasks\n"
            "from shoptasks.cli import main\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): main(['--help'])\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr)
    from shoptasks import finetune, FinetuneConfig
    assert callable(finetune) and FinetuneConfig.__module__ == "shoptasks.finetune"
