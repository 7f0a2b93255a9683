"The `shoptasks` command end to end, on the generated sample shop, as a user runs it."
import json
import pytest, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from conftest import cli, shoptasks
from shoptasks.model import generate_ids

COMMANDS = [[], ["demo"], ["tokenizer"], ["tokenizer", "train"], ["tokenizer", "encode"], ["pretrain"], ["generate"]]

@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "shoptasks")
def test_help(cmd):
    r = cli(*cmd, "--help")
    assert r.returncode == 0 and "usage: shoptasks" in r.stdout

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
    assert 1 < m["val_ppl"] < 512 and 1 < m["val_bigram_ppl"] < 512
    log = [json.loads(l) for l in (out/"metrics.jsonl").read_text().splitlines()]
    assert [l["step"] for l in log if "val_loss" in l] == [30, 60]
    assert list(out.glob("events.out.tfevents.*"))

def test_run_dir_is_a_hugging_face_model(tiny_run):
    out, _ = tiny_run
    model, tok = AutoModelForCausalLM.from_pretrained(out).eval(), AutoTokenizer.from_pretrained(out)
    ids = tok("<|title|>Aster navy", return_tensors="pt")["input_ids"]
    hf = model.generate(ids, max_new_tokens=15, do_sample=False)
    assert torch.equal(generate_ids(model, ids, 15, eos_token_id=tok.eos_token_id), hf)   # both stop at <|eos|>
    r = cli("generate", "--model", out, "--prompt", "<|title|>Aster", "-n", "2", "--max-new-tokens", "8")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2 and all(l.startswith("<|title|>Aster") for l in r.stdout.splitlines())

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

def test_demo_runs_end_to_end(tmp_path):
    r = shoptasks("demo", "--out", tmp_path/"demo", "--minutes", "0.3", "--preset", "tiny")
    assert r.returncode == 0, r.stderr
    assert "bigram" in r.stdout and "'<|title|>Aster navy' ->" in r.stdout
    assert (tmp_path/"demo"/"shop"/"products.csv").exists() and (tmp_path/"demo"/"model"/"model.safetensors").exists()
