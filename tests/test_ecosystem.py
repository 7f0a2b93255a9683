"""Runs the rest of the ecosystem can use (issue 27): a pretraining or generation run exported as GPT-2 loads in plain
transformers, in a process that cannot import shoptasks, with the same logits and the same greedy text."""
import json, subprocess, sys
import torch
from conftest import cli, one_line_error
from shoptasks.inference import load_finetuned

WITHOUT_SHOPTASKS = """
import json, sys
sys.modules["shoptasks"] = None            # any import of shoptasks fails: only transformers reads the folder
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
path, prompt = sys.argv[1], sys.argv[2]
model, tok = AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
ids = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids
with torch.no_grad():
    logits, out = model(ids).logits[0].tolist(), model.generate(ids, max_new_tokens=12, do_sample=False)
print(json.dumps(dict(arch=type(model).__name__, ids=ids[0].tolist(), logits=logits, generated=out[0].tolist())))
"""

def as_gpt2(run, out, prompt) -> dict:
    "Export `run` as GPT-2 into `out`, and what plain transformers makes of it on `prompt`."
    r = cli("export", run, "--out", out, "--format", "gpt2")
    assert r.returncode == 0, r.stderr
    config = json.loads((out/"config.json").read_text())
    assert config["architectures"] == ["GPT2LMHeadModel"] and config["model_type"] == "gpt2"
    p = subprocess.run([sys.executable, "-c", WITHOUT_SHOPTASKS, str(out), prompt], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["arch"] == "GPT2LMHeadModel"
    return got

def same_model(got: dict, ours):
    "The exported model's logits and greedy continuation are ours."
    ids = torch.tensor([got["ids"]])
    with torch.no_grad():
        assert torch.allclose(torch.tensor(got["logits"]), ours(ids).logits[0], atol=1e-5)
        assert got["generated"] == ours.generate(ids, max_new_tokens=12, do_sample=False)[0].tolist()

def test_a_pretraining_run_exports_as_gpt2(backbone, tmp_path):
    from transformers import AutoModelForCausalLM
    import shoptasks.model                                  # registers our architecture with the Auto classes
    got = as_gpt2(backbone, tmp_path/"gpt2", "<|title|>Aster navy")
    same_model(got, AutoModelForCausalLM.from_pretrained(backbone).eval())

def test_a_generation_run_exports_as_gpt2_and_a_classifier_does_not(backbone, shop_dir, tmp_path):
    for task, data in (("product-description", "products.csv"), ("review-sentiment", "reviews.csv")):
        r = cli("finetune", task, "--data", shop_dir/data, "--backbone", backbone, "--out", tmp_path/task,
                "--max-steps", "4", "--eval-every", "4", "--final-eval-rows", "10")
        assert r.returncode == 0, r.stderr
    got = as_gpt2(tmp_path/"product-description", tmp_path/"gpt2", "<|title|>Aster navy dress<|description|>")
    same_model(got, load_finetuned(tmp_path/"product-description")[0])
    error = one_line_error(cli("export", tmp_path/"review-sentiment", "--out", tmp_path/"x", "--format", "gpt2"))
    assert "is a classification run, whose model is not a language model" in error and not (tmp_path/"x").exists()
