"Data-parallel training with a real torchrun on the CPU (gloo): 2 processes follow the 1-process loss curve, pretraining and fine-tuning."
import json, subprocess, sys
from pathlib import Path
import pytest
from conftest import cli, install_plugin, shoptasks

def args(shop_dir, out):
    return ["pretrain", "--data", shop_dir/"corpus.txt", "--out", out, "--preset", "tiny", "--vocab-size", "400",
            "--max-steps", "20", "--eval-every", "10", "--batch-size", "16", "--no-compile", "--precision", "fp32",
            "--lr", "3e-3", "--warmup", "5", "--log-every", "1"]

def losses(out): return [json.loads(l)["loss"] for l in (out/"metrics.jsonl").read_text().splitlines() if "loss" in json.loads(l)]

@pytest.fixture(scope="module")
def one_process(shop_dir, tmp_path_factory):
    "The losses of a 1-process run with the whole batch in one step."
    out = tmp_path_factory.mktemp("one")/"run"
    r = cli(*args(shop_dir, out))
    assert r.returncode == 0, r.stderr
    return losses(out)

def test_two_processes_match_one(one_process, shop_dir, tmp_path):
    torchrun = Path(sys.executable).parent/"torchrun"
    two = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "shoptasks",
                          *map(str, args(shop_dir, tmp_path/"two"))], capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = one_process, losses(tmp_path/"two")
    assert len(a) == len(b) == 20
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4, list(zip(a, b))
    m = json.loads((tmp_path/"two"/"metrics.json").read_text())
    assert m["processes"] == 2 and m["tokens"] == 20 * 16 * 64
    assert "2 processes" in two.stderr                                   # rank 0's progress bar, once

def test_gradient_accumulation_follows_the_full_batch(one_process, shop_dir, tmp_path):
    acc = cli(*args(shop_dir, tmp_path/"acc"), "--micro-batch-size", "4")
    assert acc.returncode == 0, acc.stderr
    a, b = one_process, losses(tmp_path/"acc")
    assert len(a) == len(b) == 20
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4

EXACT_TASK = '''from shoptasks.hookspecs import hookimpl
from shoptasks_reviews import ReviewSentiment

class Exact(ReviewSentiment):
    "Review sentiment without dropout in the head, so that runs on 1 and 2 processes draw no random masks."
    name, dropout = "review-sentiment-exact", 0.0

@hookimpl
def register_tasks(register): register(Exact)
'''

@pytest.mark.parametrize("task,data", [("review-sentiment-exact", None), ("product-description", "products.csv")])
def test_a_fine_tune_on_two_processes_matches_one(backbone, shop_dir, tmp_path, task, data):
    "Each rank's share of the batch, weighted by its examples (classification) or its target tokens (generation)."
    env = install_plugin(tmp_path/"site", "exact_task", EXACT_TASK, "exact = exact_task")
    source = ["--data", shop_dir/data] if data else []
    cmd = lambda out: [*map(str, ["finetune", task, *source, "--backbone", backbone, "--out", out, "--max-steps", "12",
                                  "--batch-size", "16", "--eval-every", "12", "--precision", "fp32", "--log-every", "1", "--lr", "1e-3"])]
    one = shoptasks(*cmd(tmp_path/"one"), env=env)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([str(Path(sys.executable).parent/"torchrun"), "--standalone", "--nproc_per_node=2", "-m", "shoptasks", *cmd(tmp_path/"two")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = losses(tmp_path/"one"), losses(tmp_path/"two")
    assert len(a) == len(b) == 12
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4, list(zip(a, b))
    m = json.loads((tmp_path/"two"/"metrics.json").read_text())
    assert m["processes"] == 2 and m["steps"] == 12 and m["test"]["rows"] == json.loads((tmp_path/"one"/"metrics.json").read_text())["test"]["rows"]
