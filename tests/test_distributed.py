"""Data-parallel and sharded training with a real torchrun on the CPU (gloo): 2 processes follow the 1-process loss
curve, pretraining and fine-tuning, with DDP and with FSDP; checkpoints resume across the two; gradient checkpointing
changes nothing but memory."""
import json, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import cli, free_port, install_plugin, shoptasks

def args(shop_dir, out):
    return ["pretrain", "--data", shop_dir/"corpus.txt", "--out", out, "--preset", "tiny", "--vocab-size", "400",
            "--max-steps", "20", "--eval-every", "10", "--batch-size", "16", "--no-compile", "--precision", "fp32",
            "--lr", "3e-3", "--warmup", "5", "--log-every", "1"]

def losses(out): return [json.loads(l)["loss"] for l in (out/"metrics.jsonl").read_text().splitlines() if "loss" in json.loads(l)]

def torchrun(*argv, env=None) -> subprocess.CompletedProcess:
    "`torchrun --standalone --nproc_per_node=2 -m shoptasks ARGV`, as a user would start it."
    return subprocess.run([str(Path(sys.executable).parent/"torchrun"), "--standalone", "--nproc_per_node=2", "-m", "shoptasks",
                           *map(str, argv)], capture_output=True, text=True, env=env, timeout=600)

def close(a, b, tol=1e-4): return len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) < tol

@pytest.fixture(scope="module")
def one_process(shop_dir, tmp_path_factory):
    "The losses of a 1-process run with the whole batch in one step."
    out = tmp_path_factory.mktemp("one")/"run"
    r = cli(*args(shop_dir, out))
    assert r.returncode == 0, r.stderr
    return losses(out)

@pytest.fixture(scope="module")
def two_processes(shop_dir, tmp_path_factory):
    "A 2-process DDP run, checkpointed every 5 steps (all kept), and its stderr."
    out = tmp_path_factory.mktemp("two")/"run"
    two = torchrun(*args(shop_dir, out), "--checkpoint-every", "5", "--keep-last", "10")
    assert two.returncode == 0, two.stderr[-3000:]
    return out, two.stderr

def test_two_processes_match_one(one_process, two_processes):
    out, stderr = two_processes
    assert len(one_process) == 20 and close(one_process, losses(out)), list(zip(one_process, losses(out)))
    m = json.loads((out/"metrics.json").read_text())
    assert m["processes"] == 2 and m["tokens"] == 20 * 16 * 64
    assert "2 processes" in stderr                                       # rank 0's progress bar, once

def test_fsdp_follows_ddp_and_checkpoints_resume_across_the_two(two_processes, shop_dir, tmp_path):
    ddp, _ = two_processes
    fsdp = tmp_path/"fsdp"
    r = torchrun(*args(shop_dir, fsdp), "--checkpoint-every", "5", "--keep-last", "10", "--fsdp")
    assert r.returncode == 0, r.stderr[-3000:]
    assert close(losses(ddp), losses(fsdp)), list(zip(losses(ddp), losses(fsdp)))
    assert json.loads((fsdp/"metrics.json").read_text())["processes"] == 2 and "2 processes, FSDP" in r.stderr
    for first, then, flags in ((fsdp, tmp_path/"to-ddp", []), (ddp, tmp_path/"to-fsdp", ["--fsdp"])):
        shutil.copytree(first, then)                                     # back to step 10, resumed in the other mode
        for late in ("ckpt-0000015", "ckpt-0000020"): shutil.rmtree(then/late)
        (then/"metrics.json").unlink()
        config = json.loads((then/"pretrain_config.json").read_text())
        (then/"pretrain_config.json").write_text(json.dumps({**config, "out": str(then)}))
        r = torchrun(*args(shop_dir, then), "--checkpoint-every", "5", "--keep-last", "10", *flags, "--resume")
        assert r.returncode == 0, r.stderr[-3000:]
        assert close(losses(ddp), losses(then)), (flags, list(zip(losses(ddp), losses(then))))

def test_two_machines_through_the_rendezvous(two_processes, shop_dir, tmp_path):
    "The documented multi-machine command, as two 'machines' of one process each meeting at a c10d rendezvous."
    ddp, _ = two_processes
    endpoint = f"127.0.0.1:{free_port()}"
    cmd = [str(Path(sys.executable).parent/"torchrun"), "--nnodes=2", "--nproc_per_node=1", "--rdzv_backend=c10d",
           f"--rdzv_endpoint={endpoint}", "--rdzv_id=shoptasks-test", "-m", "shoptasks", *map(str, args(shop_dir, tmp_path/"run"))]
    machines = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [m.communicate(timeout=600) for m in machines]
    assert all(m.returncode == 0 for m in machines), [err[-2000:] for _, err in outcomes]
    assert close(losses(ddp), losses(tmp_path/"run")), list(zip(losses(ddp), losses(tmp_path/"run")))
    assert json.loads((tmp_path/"run"/"metrics.json").read_text())["processes"] == 2

def test_gradient_checkpointing_changes_no_loss(one_process, shop_dir, tmp_path):
    r = cli(*args(shop_dir, tmp_path/"ckpt"), "--gradient-checkpointing")
    assert r.returncode == 0, r.stderr
    assert close(one_process, losses(tmp_path/"ckpt"), 1e-6), list(zip(one_process, losses(tmp_path/"ckpt")))

def test_gradient_checkpointing_keeps_fewer_activations():
    "The same gradients, with a fraction of the activations kept for the backward pass."
    import torch
    from shoptasks.model import preset_config, build_model
    from shoptasks.trainer import checkpointed
    def saved_bytes_and_grads(checkpointing: bool):
        torch.manual_seed(0)
        model = build_model(preset_config("tiny", vocab_size=300)).train()
        if checkpointing: checkpointed(model)
        x, saved = torch.randint(0, 300, (4, 64)), []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel() * t.element_size()) or t, lambda t: t):
            model(input_ids=x, labels=x).loss.backward()
        return sum(saved), [p.grad for p in model.parameters()]
    (plain, g), (light, h) = saved_bytes_and_grads(False), saved_bytes_and_grads(True)
    assert light < 0.5 * plain, (light, plain)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g, h))

def test_gradient_accumulation_follows_the_full_batch(one_process, shop_dir, tmp_path):
    acc = cli(*args(shop_dir, tmp_path/"acc"), "--micro-batch-size", "4")
    assert acc.returncode == 0, acc.stderr
    a, b = one_process, losses(tmp_path/"acc")
    assert len(a) == len(b) == 20
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4

EXACT_TASK = '''from shoptasks.hookspecs import hookimpl
from shoptasks_reviews import ReviewSentiment
from shoptasks_recsys import NextItem

class Exact(ReviewSentiment):
    "Review sentiment without dropout in the head, so that runs on 1 and 2 processes draw no random masks."
    name, dropout = "review-sentiment-exact", 0.0

class ExactNext(NextItem):
    "Next item without dropout in the Transformer, for the same reason."
    name, model_config = "next-item-exact", {**NextItem.model_config, "dropout": 0.0}

@hookimpl
def register_tasks(register):
    register(Exact)
    register(ExactNext)
'''

@pytest.mark.parametrize("task,data", [("review-sentiment-exact", None), ("product-description", "products.csv"),
                                       ("next-item-exact", "events.csv")])
def test_a_fine_tune_on_two_processes_matches_one(backbone, shop_dir, tmp_path, task, data):
    """Each rank's share of the batch, weighted by its examples (classification) or its target tokens (generation)
    or its next items (ranking, trained from scratch)."""
    env = install_plugin(tmp_path/"site", "exact_task", EXACT_TASK, "exact = exact_task")
    source = ["--data", shop_dir/data] if data else []
    source += [] if task.startswith("next-item") else ["--backbone", backbone]
    cmd = lambda out: [*map(str, ["finetune", task, *source, "--out", out, "--max-steps", "12",
                                  "--batch-size", "16", "--eval-every", "12", "--precision", "fp32", "--log-every", "1", "--lr", "1e-3",
                                  "--final-eval-rows", "20"])]
    one = shoptasks(*cmd(tmp_path/"one"), env=env)
    assert one.returncode == 0, one.stderr[-3000:]
    two = torchrun(*cmd(tmp_path/"two"), env=env)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = losses(tmp_path/"one"), losses(tmp_path/"two")
    assert len(a) == 12 and close(a, b), list(zip(a, b))
    m = json.loads((tmp_path/"two"/"metrics.json").read_text())
    assert m["processes"] == 2 and m["steps"] == 12 and m["test"]["rows"] == json.loads((tmp_path/"one"/"metrics.json").read_text())["test"]["rows"]
