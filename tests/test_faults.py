"""Faults during training: a non-finite loss, a SIGKILL inside a checkpoint write, a full disk, a truncated checkpoint
and a second run on one directory each end with a message, and the run resumes from its last good checkpoint."""
import math, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
from safetensors.torch import load_file
from conftest import cli, one_line_error
from shoptasks import pretrain, ShoptasksError
from shoptasks.hookspecs import hookimpl
from shoptasks.plugins import plugin_manager
from shoptasks.trainer import checkpoints

class PoisonWeights:
    "A fault: after step 6 one weight becomes NaN, as after an overflow."
    def __init__(self, at): self.at = at
    @hookimpl
    def on_step_end(self, trainer, step):
        if step == self.at:
            with torch.no_grad(): next(trainer.model.parameters()).view(-1)[0] = math.nan

def test_non_finite_loss_names_the_step_and_keeps_the_last_good_checkpoint(shop_dir, tmp_path):
    plugin = PoisonWeights(at=6)
    plugin_manager().register(plugin)
    try:
        with pytest.raises(ShoptasksError, match=r"the loss is nan at step 7; stopped, the last good checkpoint is .*ckpt-0000006"):
            pretrain(data=str(shop_dir/"corpus.txt"), out=str(tmp_path/"run"), preset="tiny", vocab_size=400, max_steps=20,
                     checkpoint_every=2, eval_every=10, compile=False, quiet=True)
    finally: plugin_manager().unregister(plugin)
    assert [p.name for p in checkpoints(tmp_path/"run")] == ["ckpt-0000004", "ckpt-0000006"]
    w = next(iter(torch.load(tmp_path/"run"/"ckpt-0000006"/"trainer_state.pt", weights_only=True)["optimizer"]["state"].values()))
    assert all(torch.isfinite(t).all() for t in w.values() if torch.is_tensor(t))

def test_early_stopping_stops_a_run_that_stops_improving(shop_dir, tmp_path):
    "With a learning rate of 0 the validation loss never improves after the first evaluation."
    m = pretrain(data=str(shop_dir/"corpus.txt"), out=str(tmp_path/"run"), preset="tiny", vocab_size=400, max_steps=400,
                 eval_every=5, early_stopping=2, lr=0.0, compile=False, quiet=True)
    assert m["steps"] == 15 and m["stop_reason"].startswith("early stopping")

# Faults in a real `shoptasks` process. The child runs the command's `main` with `os.rename` wrapped, so that the
# fault strikes at an exact point of a checkpoint write: a SIGKILL, or a file-size limit (a disk that fills up).
FAULTY = """
import os, resource, signal, sys
fault, at = sys.argv[1], int(sys.argv[2])
rename, done = os.rename, []
def faulty_rename(src, dst):
    if ".tmp-" in str(src) and "/ckpt-" in str(dst):
        if fault == "kill-before" and len(done) + 1 == at: os.kill(os.getpid(), signal.SIGKILL)
        rename(src, dst)
        done.append(dst)
        if fault == "kill-after" and len(done) == at: os.kill(os.getpid(), signal.SIGKILL)
        if fault == "fill-disk" and len(done) == at:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)            # writes then fail with EFBIG, as ENOSPC would
            resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
        return
    rename(src, dst)
os.rename = faulty_rename
from shoptasks.cli import main
main(sys.argv[3:])
"""
STEPS = 18

def run_args(shop_dir, out, steps=STEPS):
    return ["pretrain", "--data", shop_dir/"corpus.txt", "--out", out, "--preset", "tiny", "--vocab-size", "400",
            "--max-steps", steps, "--eval-every", "9", "--checkpoint-every", "3", "--keep-last", "3", "--no-compile",
            "--precision", "fp32", "--log-every", "1"]

def faulty(fault: str, at: int, args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", FAULTY, fault, str(at), *map(str, args)], capture_output=True, text=True)

@pytest.fixture(scope="module")
def finished(shop_dir, tmp_path_factory) -> Path:
    "An uninterrupted run, to compare with."
    out = tmp_path_factory.mktemp("ref")/"run"
    r = cli(*run_args(shop_dir, out))
    assert r.returncode == 0, r.stderr
    return out

def same_weights(a: Path, b: Path) -> bool:
    x, y = (load_file(d/f"ckpt-{STEPS:07d}"/"model.safetensors") for d in (a, b))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)

def test_sigkill_between_writing_a_checkpoint_and_renaming_it(shop_dir, finished, tmp_path):
    out = tmp_path/"run"
    r = faulty("kill-before", 3, run_args(shop_dir, out))
    assert r.returncode == -signal.SIGKILL
    staged = list(out.glob(".ckpt-0000009.tmp-*"))
    assert len(staged) == 1 and {"model.safetensors", "trainer_state.pt"} <= {p.name for p in staged[0].iterdir()}
    assert [p.name for p in checkpoints(out)] == ["ckpt-0000003", "ckpt-0000006"]
    r = cli(*run_args(shop_dir, out), "--resume")
    assert r.returncode == 0, r.stderr
    assert same_weights(finished, out) and not list(out.glob(".ckpt-*"))

def test_a_full_disk_is_one_line_and_keeps_the_last_good_checkpoint(shop_dir, finished, tmp_path):
    out = tmp_path/"run"
    r = faulty("fill-disk", 2, run_args(shop_dir, out))
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last == (f"shoptasks: {out}/model.safetensors: cannot write it (File too large); the last good checkpoint, "
                    "ckpt-0000006, is kept"), r.stderr
    assert "Traceback" not in r.stderr and not list(out.glob(".ckpt-*")) and not list(out.glob(".*.tmp"))
    assert [p.name for p in checkpoints(out)] == ["ckpt-0000003", "ckpt-0000006"]
    r = cli(*run_args(shop_dir, out), "--resume")                   # space again: it goes on from there
    assert r.returncode == 0, r.stderr
    assert same_weights(finished, out)

def test_a_truncated_checkpoint_is_passed_over_on_resume(shop_dir, finished, tmp_path):
    out = tmp_path/"run"
    assert faulty("kill-after", 4, run_args(shop_dir, out)).returncode == -signal.SIGKILL
    newest = out/"ckpt-0000012"/"model.safetensors"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    r = cli(*run_args(shop_dir, out), "--resume")
    assert r.returncode == 0, r.stderr
    assert f"shoptasks: {out}/ckpt-0000012: the checkpoint is unreadable (" in r.stderr
    assert "; resuming from the one before" in r.stderr
    assert same_weights(finished, out)

HOLDER = """
import sys, time
from pathlib import Path
from shoptasks.trainer import run_lock
with run_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(600)
"""

def test_a_second_run_on_one_out_is_refused_and_a_stale_lock_taken_over(shop_dir, tmp_path):
    "Another process holds the run's lock (as a run in progress does): a run on the same --out is refused."
    out, lock = tmp_path/"run", tmp_path/".run.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    assert lock.read_text().strip() == str(holder.pid)
    second = cli(*run_args(shop_dir, out, 3))
    assert one_line_error(second) == (f"shoptasks: {out} is in use by another run (pid {holder.pid}); wait for it to "
                                      "end or choose another --out")
    assert not out.exists()                                                 # the refused run wrote nothing
    holder.kill(); holder.wait()
    assert lock.read_text().strip() == str(holder.pid)                      # a stale lock: its owner is gone
    r = cli(*run_args(shop_dir, out, 3))
    assert r.returncode == 0, r.stderr
    assert not lock.exists() and checkpoints(out)

def test_sigterm_during_set_up_is_handled_as_ctrl_c(shop_dir, backbone, tmp_path):
    """SIGTERM (a scheduler's or `docker stop`'s) while the run directory is being staged: one line, exit 143, and
    nothing left: no run directory, no `.run.staging-*` or lock beside it."""
    exe = Path(sys.executable).parent/"shoptasks"
    for attempt in range(5):                          # the staging lasts milliseconds: try until the signal lands in it
        out = tmp_path/f"try{attempt}"/"run"
        proc = subprocess.Popen([str(exe), "finetune", "review-sentiment", "--data", shop_dir/"reviews.csv", "--backbone",
                                 backbone, "--out", out, "--max-steps", "200", "--eval-every", "100"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and not list(out.parent.glob(".run.staging-*")): time.sleep(0.001)
        staged = proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        if staged: break
    assert staged, "the signal never landed while the run directory was staged"
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "shoptasks: terminated (SIGTERM) before training started; nothing was kept"
    assert "Traceback" not in err, err
    assert list(out.parent.iterdir()) == []           # no run, no staging, no lock (SIGTERM's default left both)
