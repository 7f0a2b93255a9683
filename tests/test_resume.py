"A run killed with SIGKILL at a random step and resumed ends with the weights of an uninterrupted run."
import json, os, random, shlex, signal, subprocess, sys, time
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

def interruptible():
    """In the child: a lower priority (the test's polling must not starve) and SIGINT's default action; Python turns
    SIGINT into KeyboardInterrupt only if the child does not inherit it as ignored (something in the suite ignores it)."""
    os.nice(10)
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def ckpt_steps(out: Path): return sorted(int(p.name[5:]) for p in out.glob("ckpt-*") if p.is_dir())

@pytest.fixture(scope="module")
def reference(shop_dir, tmp_path_factory):
    "An uninterrupted run."
    out = tmp_path_factory.mktemp("ref")/"run"
    r = shoptasks(*args(shop_dir, out))
    assert r.returncode == 0, r.stderr
    return out

def kill_and_resume(cmd, out: Path, steps: int) -> int:
    "Start `cmd` as the `shoptasks` script, SIGKILL it after a random checkpoint, resume it; the step it was killed after."
    seed = int(os.environ.get("SHOPTASKS_RESUME_SEED", random.randrange(10**6)))     # a failure names its replay
    kill_at = random.Random(seed).randint(10, steps - 20)
    print(f"kill point {kill_at} (SHOPTASKS_RESUME_SEED={seed} replays it)")
    exe = Path(sys.executable).parent/"shoptasks"
    proc = subprocess.Popen([str(exe), *map(str, cmd)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: os.nice(10))        # the run must not starve this process's polling
    deadline = time.time() + 300
    while not any(s >= kill_at for s in ckpt_steps(out)) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL); proc.wait()
    killed_at = ckpt_steps(out)
    assert killed_at and killed_at[-1] < steps and not (out/"metrics.json").exists(), f"not killed mid-run (kill_at={kill_at}, SHOPTASKS_RESUME_SEED={seed})"
    resumed = shoptasks(*cmd, "--resume")
    assert resumed.returncode == 0, (seed, resumed.stderr)
    return killed_at[-1]

def assert_same_tensors(*files, why=""):
    a, b = map(load_file, files)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), f"weights differ {why}"

def assert_same_run(ref: Path, run: Path, steps: int, killed_at: int):
    assert_same_tensors(*(d/f"ckpt-{steps:07d}"/"model.safetensors" for d in (ref, run)), why=f"after kill at {killed_at}")
    ref_log, run_log = ([json.loads(l) for l in (d/"metrics.jsonl").read_text().splitlines()] for d in (ref, run))
    assert [r["step"] for r in run_log if "loss" in r] == list(range(1, steps + 1)), "every step once: nothing replayed, nothing skipped"
    assert [r["loss"] for r in ref_log if "loss" in r] == [r["loss"] for r in run_log if "loss" in r]
    assert not list(run.glob(".ckpt-*")), "temporaries of the killed write are cleaned up"

def test_sigkill_then_resume_is_bit_identical(reference, shop_dir, tmp_path):
    killed_at = kill_and_resume(args(shop_dir, tmp_path/"run"), tmp_path/"run", STEPS)
    assert_same_run(reference, tmp_path/"run", STEPS, killed_at)

@pytest.mark.parametrize("task,data,extra", [("review-sentiment", None, []), ("product-description", "products.csv", []),
                                             ("next-item", "events.csv", []), ("product-description", "products.csv", ["--lora"])])
def test_a_fine_tune_resumes_exactly_too(backbone, shop_dir, tmp_path, task, data, extra):
    steps, source = 40, ["--data", shop_dir/data] if data else []
    cmd = lambda out: ["finetune", task, *source, "--backbone", backbone, "--out", out, "--max-steps", steps, "--batch-size", "8",
                       "--eval-every", "20", "--checkpoint-every", "2", "--keep-last", "2", "--precision", "fp32", "--log-every", "1",
                       "--final-eval-rows", "20", *extra]          # resuming is under test, not the final scoring
    ref = shoptasks(*cmd(tmp_path/"ref"))
    assert ref.returncode == 0, ref.stderr
    killed_at = kill_and_resume(cmd(tmp_path/"run"), tmp_path/"run", steps)
    assert_same_run(tmp_path/"ref", tmp_path/"run", steps, killed_at)
    report = json.loads((tmp_path/"run"/"metrics.json").read_text())["test"]
    assert report == json.loads((tmp_path/"ref"/"metrics.json").read_text())["test"]
    if extra:                                                        # the adapters too, after the plain model
        assert_same_tensors(tmp_path/"ref"/"lora.safetensors", tmp_path/"run"/"lora.safetensors")
    if task == "next-item":                                          # with a backbone, items start from their texts
        items = json.loads((tmp_path/"run"/"items.json").read_text())
        assert report["notes"]["items whose embedding started from their text"] == len(items) > 100

def test_checkpoints_load_without_pickle(reference):
    state = torch.load(reference/f"ckpt-{STEPS:07d}"/"trainer_state.pt", weights_only=True)
    assert state["step"] == STEPS and state["optimizer"]["state"]
    kept = [p.name for p in sorted(reference.glob("ckpt-*"))]
    best = state["best"]["name"]
    assert len(kept) <= 3 and best in kept and f"ckpt-{STEPS:07d}" in kept

def test_ctrl_c_names_the_last_checkpoint_and_the_command_that_resumes(shop_dir, reference, tmp_path):
    out = tmp_path/"run"
    cmd = [str(Path(sys.executable).parent/"shoptasks"), *map(str, args(shop_dir, out))]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    deadline = time.time() + 300
    while not any(s >= 12 for s in ckpt_steps(out)) and proc.poll() is None and time.time() < deadline: time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("shoptasks: interrupted at step ") and "; the last checkpoint is " in last, err
    assert "Traceback" not in err
    resume = last.split("; continue with: ")[1]
    assert resume == shlex.join(["shoptasks", *map(str, args(shop_dir, out)), "--resume"])
    exe = str(Path(sys.executable).parent/"shoptasks")
    r = subprocess.run([exe, *shlex.split(resume)[1:]], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert_same_run(reference, out, STEPS, int(last.split("at step ")[1].split(";")[0]))   # as if never interrupted
