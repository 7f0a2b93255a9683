"`shoptasks serve`: a real uvicorn server on a free loopback port, real HTTP requests, every kind of task."
import asyncio, json, subprocess
import httpx, pytest
from conftest import ROOT, cli, one_line_error, serving
from shoptasks.ranking import ITEMS_FILE
from shoptasks.serve import ServedRun

KEY = "s3cret-key"

@pytest.fixture(scope="module")
def runs(shop_dir, backbone, tmp_path_factory) -> dict:
    "A run of each kind, fine-tuned for a few steps on the sample shop."
    tmp, out = tmp_path_factory.mktemp("served"), {}
    for name, task, extra in [("sentiment", "review-sentiment", ["--backbone", backbone]),
                              ("descriptions", "product-description", ["--backbone", backbone]),
                              ("next", "next-item", [])]:
        data = shop_dir/{"review-sentiment": "reviews.csv", "product-description": "products.csv",
                         "next-item": "events.csv"}[task]
        r = cli("finetune", task, "--data", data, "--out", tmp/name, "--max-steps", "3", "--eval-every", "3", *extra)
        assert r.returncode == 0, r.stderr
        out[name] = tmp/name
    return out

@pytest.fixture(scope="module")
def server(runs, tmp_path_factory):
    "`shoptasks serve` of the three runs with an API key, small limits and a long gathering window."
    key = tmp_path_factory.mktemp("key")/"api.key"
    key.write_text(KEY + "\n")
    args = [*(f"{n}={p}" for n, p in runs.items()), "--api-key-file", key, "--max-inputs", 8,
            "--max-queue", 4, "--max-batch", 4, "--max-wait-ms", 200, "--max-body", 20000, "--max-new-tokens", 32]
    with serving(*args) as url: yield url

AUTH = {"Authorization": f"Bearer {KEY}"}

def post(url, path, body=None, headers=AUTH, **kw):
    return httpx.post(url + path, json=body, headers=headers, timeout=60, **kw)

def test_runs_and_health(server):
    runs = {r["name"]: r for r in httpx.get(server + "/v1/runs", headers=AUTH).json()["runs"]}
    assert {n: r["kind"] for n, r in runs.items()} == {"sentiment": "classify", "descriptions": "generate", "next": "rank"}
    assert runs["sentiment"]["labels"] == ["negative", "positive"] and len(runs["sentiment"]["version"]) == 12
    assert runs["next"]["roles"] == ["items"]
    assert httpx.get(server + "/health").json() == {"status": "ok", "runs": 3}
    assert "/v1/runs/{name}/predict" in httpx.get(server + "/openapi.json").json()["paths"]

def test_predictions_of_every_kind(server, runs):
    inputs = [{"title": "Great", "text": "Soft and warm"}, {"text": "Fell apart after a week"}]
    r = post(server, "/v1/runs/sentiment/predict", {"inputs": inputs})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    local = ServedRun("sentiment", runs["sentiment"])                 # the run loaded here: the same answers
    expected = local.predict(local.rows(inputs), {})
    assert [p["prediction"] for p in preds] == [e["prediction"] for e in expected]
    assert all(abs(p["probability"] - e["probability"]) < 1e-3 for p, e in zip(preds, expected)), (preds, expected)
    for options, guarded in [({}, True), ({"guard": False}, False)]:      # the guard over the constraint by default
        r = post(server, "/v1/runs/descriptions/predict", {"inputs": [{"name": "Aster navy dress", "brand": "Aster"}],
                                                           "options": {"max_new_tokens": 8, **options}})
        assert r.status_code == 200, r.text
        p = r.json()["predictions"][0]
        assert isinstance(p["generated"], str) and ("guard" in p) == guarded, p
        assert len(p["candidates"]) == 8 * guarded and not any(k.startswith("generated_") for k in p), p
        assert not guarded or p["guard"] in ("kept", "changed", "all invent", "all empty"), p
    item = json.loads((runs["next"]/ITEMS_FILE).read_text())[0]
    r = post(server, "/v1/runs/next/predict", {"inputs": [{"items": [item]}], "options": {"k": 5}})
    assert r.status_code == 200, r.text
    p = r.json()["predictions"][0]
    assert len(p["items"]) == 5 and p["scores"] == sorted(p["scores"], reverse=True) and p["unknown"] == 0
    r = post(server, "/v1/runs/next/predict", {"inputs": [{"items": ["no-such-item"]}], "options": {"k": 3}})
    p = r.json()["predictions"][0]                                  # nothing known: the most popular, said so
    popular = list(json.loads((runs["next"]/"task.json").read_text())["popularity"])
    assert (p["items"], p["fallback"], p["unknown"]) == (popular[:3], "popularity", 1), p

def test_the_readmes_curl_examples_work(server, tmp_path):
    "The README's requests as a user pastes them, with curl and their headers, against runs of the same names."
    block = (ROOT/"README.md").read_text().split("shoptasks serve sentiment=runs/sentiment")[1].split("```")[0]
    commands = [c for c in block.replace("\\\n", " ").splitlines() if c.startswith("curl ")]
    assert len(commands) == 2 and all("Content-Type: application/json" in c for c in commands), commands
    (tmp_path/"key.txt").write_text(KEY + "\n")
    for command in commands:
        r = subprocess.run(["bash", "-c", command.replace("localhost:8000", server)], cwd=tmp_path,
                           capture_output=True, text=True)
        assert r.returncode == 0 and len(json.loads(r.stdout)["predictions"]) == 1, (command, r.stdout, r.stderr)

@pytest.mark.parametrize("path,body,headers,status,detail", [
    ("/v1/runs/nope/predict", {"inputs": [{"text": "x"}]}, AUTH, 404, "no run 'nope' (runs: sentiment, descriptions, next)"),
    ("/v1/runs/..%2F..%2Fetc/predict", {"inputs": [{"text": "x"}]}, AUTH, 404, None),
    ("/v1/runs/sentiment/predict", {"inputs": [{"text": "x"}]}, {}, 401, "a valid API key is required"),
    ("/v1/runs/sentiment/predict", {"inputs": [{"text": "x"}]}, {"X-API-Key": "wrong"}, 401, None),
    ("/v1/runs/sentiment/predict", {"inputs": [{"text": 3}]}, AUTH, 422, "inputs[0]: text must be a text"),
    ("/v1/runs/sentiment/predict", {"inputs": "text"}, AUTH, 422, None),
    ("/v1/runs/sentiment/predict", {"input": [{"text": "x"}]}, AUTH, 422, None),
    ("/v1/runs/sentiment/predict", {"inputs": []}, AUTH, 422, None),
    ("/v1/runs/sentiment/predict", {"inputs": [{"body": "x"}]}, AUTH, 422, "inputs[0]: no role 'body'"),
    ("/v1/runs/sentiment/predict", {"inputs": [{"text": "  "}]}, AUTH, 422, "inputs[0]: expected a non-empty text"),
    ("/v1/runs/sentiment/predict", {"inputs": [{"text": "x"}] * 9}, AUTH, 413, "9 inputs; a request may have 8"),
    ("/v1/runs/sentiment/predict", {"inputs": [{"text": "word " * 400}]}, AUTH, 413, "inputs[0] is"),
    ("/v1/runs/sentiment/predict", {"inputs": [{"text": "x"}], "options": {"k": 3}}, AUTH, 422,
     "review-sentiment takes no prediction options"),
    ("/v1/runs/descriptions/predict", {"inputs": [{"name": "x"}], "options": {"max_new_tokens": 999}}, AUTH, 422,
     "max_new_tokens is 999"),
    ("/v1/runs/next/predict", {"inputs": [{"items": "A1"}]}, AUTH, 422, "inputs[0]: items must be a non-empty list"),
    ("/v1/runs/next/predict", {"inputs": [{"items": ["A1"]}], "options": {"k": 0}}, AUTH, 422, "k must be >= 1"),
])
def test_refusals(server, path, body, headers, status, detail):
    r = post(server, path, body, headers)
    assert r.status_code == status, r.text
    if detail: assert r.json()["detail"].startswith(detail), r.json()
    if status == 401: assert r.headers["www-authenticate"] == "Bearer"

def test_malformed_and_oversized_bodies(server):
    r = httpx.post(server + "/v1/runs/sentiment/predict", content=b'{"inputs": [', headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid", r.text
    big = json.dumps({"inputs": [{"text": "x" * 30000}]})
    r = httpx.post(server + "/v1/runs/sentiment/predict", content=big, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413 and "over 20,000 bytes" in r.json()["detail"]
    def chunks():                                       # no Content-Length: the limit counts what arrives
        for _ in range(30): yield b" " * 1000
    r = httpx.post(server + "/v1/runs/sentiment/predict", content=chunks(), headers=AUTH)
    assert r.status_code == 413
    r = post(server, "/v1/runs/sentiment/predict", {"inputs": [{"text": "word " * 400}], "truncate": True})
    assert r.status_code == 200

def test_batching_and_a_full_queue(server):
    "Concurrent requests are answered in shared forward passes; past the queue's bound they get 503 + Retry-After."
    async def burst(run, body, n):
        async with httpx.AsyncClient(timeout=120, headers=AUTH) as c:
            return await asyncio.gather(*(c.post(f"{server}/v1/runs/{run}/predict", json=body) for _ in range(n)))
    answers = asyncio.run(burst("sentiment", {"inputs": [{"text": "Soft and warm"}]}, 4))
    assert [a.status_code for a in answers] == [200] * 4
    assert len({json.dumps(a.json()) for a in answers}) == 1        # the same input gets the same answer in a batch
    metrics = httpx.get(server + "/metrics").text
    batches = {l.split()[0]: float(l.split()[1]) for l in metrics.splitlines()
               if l.startswith('shoptasks_batch_size_') and 'run="sentiment"' in l}
    sums = batches['shoptasks_batch_size_sum{run="sentiment"}'], batches['shoptasks_batch_size_count{run="sentiment"}']
    assert sums[0] > sums[1], f"no batch of more than one input: {sums}"
    answers = asyncio.run(burst("descriptions", {"inputs": [{"name": "Aster navy dress"}],
                                                 "options": {"max_new_tokens": 32, "guard": False}}, 24))
    codes = [a.status_code for a in answers]
    assert 503 in codes and 200 in codes, codes
    full = next(a for a in answers if a.status_code == 503)
    assert full.headers["retry-after"] == "1" and "inputs queued" in full.json()["detail"]
    metrics = httpx.get(server + "/metrics").text
    assert 'shoptasks_requests_total{route="/v1/runs/{name}/predict",status="503"}' in metrics
    assert 'shoptasks_request_seconds_bucket{le="0.5",route="/v1/runs/{name}/predict"}' in metrics
    assert 'shoptasks_queue_length{run="descriptions"}' in metrics

@pytest.mark.parametrize("args,expected", [
    (["/no/such/run"], "/no/such/run: no such run directory"),
    (["a=x", "a=y"], "two runs are named 'a'"),
    (["bad name=x"], "run name 'bad name'"),
    (["x", "--api-key-file", "/no/such/key"], "/no/such/key: cannot read the API key file"),
    (["x", "--max-batch", "0"], "max_batch must be >= 1, not 0"),
])
def test_bad_serve_arguments(args, expected, tmp_path):
    r = cli("serve", *args, cwd=tmp_path)
    assert expected in one_line_error(r)

def test_only_safetensors_weights(runs, tmp_path):
    "A run whose weights are a pickle (pytorch_model.bin) is not served."
    import shutil
    run = tmp_path/"pickled"
    shutil.copytree(runs["next"], run)
    (run/"model.safetensors").rename(run/"pytorch_model.bin")
    assert "no model.safetensors (serving loads safetensors only)" in one_line_error(cli("serve", run))
