"A run killed with SIGKILL at a random step and resumed ends with the weights of an uninterrupted run."
import json, os, random, signal, subprocess, sys, time
from pathlib import Path
import torch
import pytest
from safetensors.torch import load_file
from conftest import shoptasks

STEPS = 120

def args(shop_dir, out):
    return ["pretrain", "--data", shop_dir/"corpus.txt", "--out", out, "--preset", "tiny", "--vocab-size", "400",
            "--max-steps", str(STEPS), "--eval-every", "20", "--checkpoint-every", "3", "--keep-last", "2",
            "--no-compile", "--precision", "fp32", "--lr", "3e-3", "--warmup", "5", "--log-every", "1"]

def ckpt_steps(out: Path): return sorted(int(p.name[5:]) for p in out.glob("ckpt-*") if p.is_dir())

@pytest.fixture(scope="module")
def reference(shop_dir, tmp_path_factory):
    "An uninterrupted run."
    out = tmp_path_factory.mktemp("ref")/"run"
    r = shoptasks(*args(shop_dir, out))
    assert r.returncode == 0, r.stderr
    return out

def test_sigkill_then_resume_is_bit_identical(reference, shop_dir, tmp_path):
    kill_at = random.randint(10, STEPS - 20)
    exe = Path(sys.executable).parent/"shoptasks"
    proc = subprocess.Popen([str(exe), *map(str, args(shop_dir, tmp_path/"run"))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not any(s >= kill_at for s in ckpt_steps(tmp_path/"run")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL); proc.wait()
    killed_at = ckpt_steps(tmp_path/"run")
    assert killed_at and killed_at[-1] < STEPS and not (tmp_path/"run"/"metrics.json").exists(), f"not killed mid-run (kill_at={kill_at})"

    resumed = shoptasks(*args(shop_dir, tmp_path/"run"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(reference/f"ckpt-{STEPS:07d}"/"model.safetensors")
    b = load_file(tmp_path/"run"/f"ckpt-{STEPS:07d}"/"model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), f"weights differ after kill at {killed_at[-1]}"
    steps = [json.loads(l)["step"] for l in (tmp_path/"run"/"metrics.jsonl").read_text().splitlines() if "loss" in json.loads(l)]
    assert steps == list(range(1, STEPS + 1)), "every step once: nothing replayed, nothing skipped"
    ref_log = [json.loads(l) for l in (reference/"metrics.jsonl").read_text().splitlines()]
    run_log = [json.loads(l) for l in (tmp_path/"run"/"metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in ref_log if "loss" in r] == [r["loss"] for r in run_log if "loss" in r]
    assert not list((tmp_path/"run").glob(".ckpt-*")), "temporaries of the killed write are cleaned up"

def test_checkpoints_load_without_pickle(reference):
    state = torch.load(reference/f"ckpt-{STEPS:07d}"/"trainer_state.pt", weights_only=True)
    assert state["step"] == STEPS and state["optimizer"]["state"]
    kept = [p.name for p in sorted(reference.glob("ckpt-*"))]
    best = state["best"]["name"]
    assert len(kept) <= 3 and best in kept and f"ckpt-{STEPS:07d}" in kept
