"""`shoptasks tune`: pruning on the trainer's evaluations, the best config replayed, a killed study resumed, two
processes on one study, the report of a study, and bad input. Tiny backbone, the sample shop's reviews."""
import glob, json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import cli, free_port, one_line_error

@pytest.fixture(scope="module")
def reviews(shop_dir, tmp_path_factory) -> Path:
    "The sample shop's first 1,000 reviews: trials that spend their time training, not reading and scoring."
    path = tmp_path_factory.mktemp("reviews")/"reviews.csv"
    path.write_text("".join((shop_dir/"reviews.csv").read_text().splitlines(True)[:1001]))
    (path.parent/"SOURCE.md").write_text((shop_dir/"SOURCE.md").read_text())       # the data card goes with it
    return path

def common(reviews, backbone, steps=15):
    return ["--data", reviews, "--backbone", backbone, "--max-steps", str(steps), "--eval-every", "5", "--batch-size", "16"]

def tune_process(*args) -> subprocess.Popen:
    exe = Path(sys.executable).parent/"shoptasks"
    return subprocess.Popen([str(exe), "tune", "review-sentiment", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

def summary(study: Path) -> dict: return json.loads((study/"study.json").read_text())

class LearnThenStall:
    """A search space (through the plugin hook) whose first two trials learn and whose later ones cannot: their rate
    is ten times too high, so their loss stays several times the learning trials' at every evaluation."""
    from shoptasks.hookspecs import hookimpl
    @hookimpl
    def configure_search_space(self, task, space):
        space.clear()
        space["lr"] = lambda trial: 3e-3 if trial.number < 2 else 3e-2

@pytest.fixture(scope="module")
def study(reviews, backbone, tmp_path_factory):
    "Four trials: two that learn, then two that do not; the median pruner stops the fourth at its first evaluation."
    from shoptasks.plugins import plugin_manager
    out = tmp_path_factory.mktemp("study")/"study"
    plugin_manager().register(hook := LearnThenStall())
    try: r = cli("tune", "review-sentiment", *common(reviews, backbone), "--trials", "4", "--out", out)
    finally: plugin_manager().unregister(hook)
    assert r.returncode == 0, r.stderr
    return out, r.stdout

def test_the_pruner_stops_a_trial_that_does_not_learn(study):
    out, stdout = study
    s = summary(out)
    assert [t["state"] for t in s["trials"]] == ["COMPLETE", "COMPLETE", "COMPLETE", "PRUNED"]
    assert len(s["trials"][3]["intermediate"]) < 3                       # stopped before its last evaluation
    assert s["best"] in (0, 1) and s["direction"] == "maximize" and s["metric"] == "val macro_f1"
    assert "4 trials (3 complete, 1 pruned)" in stdout and "replay it: shoptasks finetune review-sentiment" in stdout
    assert (out/"plots"/"history.png").exists() and (out/"trials"/"trial-0003"/"metrics.jsonl").exists()

def test_halving_prunes_from_the_first_trials_and_trial_0_is_the_base_config(reviews, backbone, tmp_path):
    "Successive halving stops the third trial (it cannot learn) at its first rung; the median pruner waits for three."
    from shoptasks.plugins import plugin_manager
    from shoptasks.finetune import FinetuneConfig
    from shoptasks.backbones import default_lr
    plugin_manager().register(hook := LearnThenStall())
    try: r = cli("tune", "review-sentiment", *common(reviews, backbone), "--trials", "3", "--pruner", "halving",
                 "--eval-every", "10", "--out", tmp_path/"halving")      # one rung, at step 10 of 15
    finally: plugin_manager().unregister(hook)
    assert r.returncode == 0, r.stderr
    assert [t["state"] for t in summary(tmp_path/"halving")["trials"]] == ["COMPLETE", "COMPLETE", "PRUNED"]
    r = cli("tune", "review-sentiment", *common(reviews, backbone, steps=5), "--trials", "1", "--out", tmp_path/"base")
    assert r.returncode == 0, r.stderr
    base = FinetuneConfig(task="review-sentiment", out="-", batch_size=16, max_steps=5)   # its warm-up as trained: at
                                                                             # most a tenth of the steps, at least 1
    assert summary(tmp_path/"base")["trials"][0]["params"] == dict(
        lr=default_lr(str(backbone)), batch_size=16, warmup=min(base.warmup, 1), weight_decay=base.weight_decay,
        layer_decay=base.layer_decay, head_lr_scale=base.head_lr_scale)

def test_the_best_config_replays_to_the_same_numbers(study, tmp_path):
    out, _ = study
    best = summary(out)["trials"][summary(out)["best"]]
    r = cli("finetune", "--config", out/"best_config.json", "--out", tmp_path/"replay")
    assert r.returncode == 0, r.stderr
    replayed = json.loads((tmp_path/"replay"/"metrics.json").read_text())
    trial = json.loads((Path(best["out"])/"metrics.json").read_text())
    assert replayed["test"]["model"] == trial["test"]["model"] and replayed["steps"] == trial["steps"] == 15
    assert replayed["val"]["model"]["macro_f1"] == best["value"]

def test_the_report_of_a_study_and_its_best_trial(study, tmp_path):
    out, _ = study
    best = summary(out)["trials"][summary(out)["best"]]["out"]
    r = cli("report", out, best, "--out", tmp_path/"report")
    assert r.returncode == 0, r.stderr
    page = (tmp_path/"report"/"report.html").read_text()
    assert "tuning study of review-sentiment" in page and "pruned" in page
    assert "Confusion matrix" in page and "macro_f1 by age" in page and "Model card" in page
    assert "baseline: TF-IDF + logistic regression" in page and "synthetic data" in page
    assert page.count("data:image/png;base64,") >= 5 and "src='http" not in page
    assert "The best trial against its baseline" in page and f"best trial ({summary(out)['best']})" in page
    assert "Not plotted: importances (3 finished trials are too few to rank the parameters" in page   # of 4: 1 pruned
    assert "Sample outputs (8 test rows, taking each of the 2 targets in turn)" in page
    md = (tmp_path/"report"/"report.md").read_text()
    assert all((tmp_path/"report"/p).exists() for p in __import__("re").findall(r"\]\((images/[^)]+)\)", md))

def test_a_killed_study_resumes_losing_only_the_running_trial(reviews, backbone, tmp_path):
    out = tmp_path/"study"
    args = [*common(reviews, backbone, steps=10), "--trials", "3", "--out", out, "--heartbeat", "1"]
    p = tune_process(*args)
    deadline = time.time() + 240
    while not (out/"trials"/"trial-0001").exists() and p.poll() is None and time.time() < deadline: time.sleep(0.2)
    p.send_signal(signal.SIGKILL)
    p.wait()
    msg = one_line_error(cli("tune", "review-sentiment", *args))
    assert "holds a study with 1 finished trials; pass --resume to continue it" in msg
    time.sleep(3)                                        # the killed trial's heartbeat goes stale
    r = cli("tune", "review-sentiment", *args, "--resume")
    assert r.returncode == 0, r.stderr
    states = [t["state"] for t in summary(out)["trials"]]
    assert states[:2] == ["COMPLETE", "FAIL"] and states.count("FAIL") == 1
    assert sum(s in ("COMPLETE", "PRUNED") for s in states) == 3

def test_two_processes_share_one_study(reviews, backbone, tmp_path):
    out = tmp_path/"study"
    args = [*common(reviews, backbone, steps=10), "--trials", "4", "--out", out]
    procs = [tune_process(*args, "--sampler-seed", str(seed)) for seed in (0, 1)]
    for p in procs: assert p.wait(timeout=600) == 0, p.stderr.read()
    trials = summary(out)["trials"]
    assert sum(t["state"] in ("COMPLETE", "PRUNED") for t in trials) >= 4
    assert len({t["worker"] for t in trials}) == 2 and len({t["out"] for t in trials}) == len(trials)

@pytest.mark.parametrize("extra,expected", [
    (["--trials", "0"], "trials must be a whole number >= 1, not 0"),
    (["--trials", "2", "--preset", "tiny"], "--preset is an option of pretraining, not of tuning review-sentiment"),
    (["--trials", "2", "--column", "text"], "--column: expected ROLE=COLUMN"),
    (["--trials", "2", "--pruner", "sometimes"], "unknown pruner 'sometimes' (known: median, halving, hyperband, none)"),
])
def test_bad_tune_arguments(extra, expected, tmp_path):
    msg = one_line_error(cli("tune", "review-sentiment", "--out", tmp_path/"s", "--max-steps", "5", *extra))
    assert expected in msg and not (tmp_path/"s").exists()

def test_a_study_folder_keeps_one_target(study, tmp_path):
    out, _ = study
    msg = one_line_error(cli("tune", "review-rating", "--out", out, "--trials", "5", "--max-steps", "5", "--resume"))
    assert "holds a study of 'review-sentiment', not 'review-rating'; choose a new --out" in msg
    (tmp_path/"x").mkdir(); (tmp_path/"x"/"notes.txt").write_text("mine")
    msg = one_line_error(cli("tune", "review-rating", "--out", tmp_path/"x", "--trials", "5", "--max-steps", "5"))
    assert "is not empty and holds no study" in msg and (tmp_path/"x"/"notes.txt").read_text() == "mine"

def test_bad_config_files_and_report_folders(tmp_path):
    (tmp_path/"typo.yaml").write_text("task: review-sentiment\nout: o\nmax_steps: 5\nwarmup_steps: 3\n")
    (tmp_path/"type.json").write_text('{"task": "review-sentiment", "out": "o", "max_steps": 5, "decay": "step"}')
    assert one_line_error(cli("finetune", "--config", tmp_path/"typo.yaml")).endswith(
        "typo.yaml: unknown key 'warmup_steps'; did you mean 'warmup'?")
    assert one_line_error(cli("tune", "review-sentiment", "--trials", "2", "--config", tmp_path/"type.json")).endswith(
        "type.json: decay: expected one of 'cosine', 'linear', not 'step'")
    (tmp_path/"notarun").mkdir(); (tmp_path/"notarun"/"data.csv").write_text("a\n1\n")
    msg = one_line_error(cli("report", tmp_path/"notarun", "--out", tmp_path/"report"))
    assert "notarun is not a run or a study (expected task.json or pretrain_config.json" in msg
    assert not (tmp_path/"report").exists() and not (tmp_path/"o").exists()

def _postgres_bin(name: str) -> str | None:
    "Debian's PostgreSQL server programs are off the PATH (/usr/lib/postgresql/VERSION/bin)."
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)

@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL server in a temporary data directory on a free loopback port, for the module: its SQLAlchemy
    URL. As root, the server runs as `nobody` (PostgreSQL refuses root). A skip without the server programs (a
    failure under SHOPTASKS_REQUIRE_POSTGRES=1, which .ci/run sets after installing Debian's `postgresql`)."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if not (initdb and pg_ctl):
        msg = "PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)"
        if os.environ.get("SHOPTASKS_REQUIRE_POSTGRES") == "1": pytest.fail(msg + " and SHOPTASKS_REQUIRE_POSTGRES=1")
        pytest.skip(msg)
    pytest.importorskip("psycopg", reason="the psycopg driver is missing (pip install 'psycopg[binary]')")
    import tempfile
    home = Path(tempfile.mkdtemp(prefix="shoptasks-postgres-"))   # not under pytest's 0700 folders: `nobody` enters it
    home.chmod(0o777)
    data, port = home/"data", free_port()
    as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    def run(*cmd): subprocess.run([*as_user, *map(str, cmd)], check=True, capture_output=True, text=True)
    run(initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
    run(pg_ctl, "-D", data, "-l", home/"server.log", "-w", "start", "-o",
        f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off")
    try: yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(home)

def test_tune_processes_on_two_machines_share_a_study_in_postgresql(postgres, reviews, backbone, tmp_path):
    """Two `shoptasks tune` processes, each with its own folder as on two machines, on one PostgreSQL study; one is
    killed mid-trial and resumed: the study finishes its trials, the killed one failed by its stale heartbeat."""
    args = [*common(reviews, backbone, steps=10), "--trials", "5", "--storage", postgres, "--heartbeat", "1"]
    a = tune_process(*args, "--out", tmp_path/"a", "--sampler-seed", "0")
    b = tune_process(*args, "--out", tmp_path/"b", "--sampler-seed", "1")
    deadline = time.time() + 300
    while not (tmp_path/"a"/"trials").exists() and a.poll() is None and time.time() < deadline: time.sleep(0.1)
    assert a.poll() is None, a.communicate()
    a.send_signal(signal.SIGKILL)                        # mid-trial: its folder exists, its trial is RUNNING
    a.wait()
    time.sleep(4)                                        # its heartbeat goes stale (3 s of grace)
    r = cli("tune", "review-sentiment", *args, "--out", tmp_path/"a", "--resume")
    assert r.returncode == 0, r.stderr
    assert b.wait(timeout=600) == 0, b.stderr.read()
    import optuna
    trials = optuna.load_study(study_name="shoptasks", storage=postgres).trials
    states = [t.state.name for t in trials]
    assert states.count("FAIL") == 1 and sum(s in ("COMPLETE", "PRUNED") for s in states) >= 5, states
    assert {a.pid, b.pid} <= {t.user_attrs["worker"] for t in trials}    # both machines ran trials
    assert trials[0].params == summary(tmp_path/"a")["trials"][0]["params"]     # both folders' summaries read it

def test_tune_processes_share_a_study_in_a_journal_file(reviews, backbone, tmp_path):
    """The same on Optuna's journal file in a shared folder, which has no heartbeats: `--resume` on the machine of
    the killed process fails its trial (its process is gone) and queues it again."""
    (tmp_path/"shared").mkdir()
    journal = f"journal:{tmp_path/'shared'/'study.log'}"
    args = [*common(reviews, backbone, steps=10), "--trials", "5", "--storage", journal]
    a = tune_process(*args, "--out", tmp_path/"a", "--sampler-seed", "0")
    b = tune_process(*args, "--out", tmp_path/"b", "--sampler-seed", "1")
    deadline = time.time() + 300
    while not (tmp_path/"a"/"trials").exists() and a.poll() is None and time.time() < deadline: time.sleep(0.1)
    assert a.poll() is None, a.communicate()
    a.send_signal(signal.SIGKILL)
    a.wait()
    r = cli("tune", "review-sentiment", *args, "--out", tmp_path/"a", "--resume")
    assert r.returncode == 0, r.stderr
    assert b.wait(timeout=600) == 0, b.stderr.read()
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    storage = JournalStorage(JournalFileBackend(str(tmp_path/"shared"/"study.log")))
    trials = optuna.load_study(study_name="shoptasks", storage=storage).trials
    states = [t.state.name for t in trials]
    assert states.count("FAIL") == 1 and "RUNNING" not in states, states
    assert sum(s in ("COMPLETE", "PRUNED") for s in states) >= 5, states
    failed = next(t for t in trials if t.state.name == "FAIL")
    assert any(t.params == failed.params and t.state.name != "FAIL" for t in trials)   # queued again, and run
    assert {a.pid, b.pid} <= {t.user_attrs["worker"] for t in trials}
    assert "journal" in one_line_error(cli("tune", "review-sentiment", *common(reviews, backbone, steps=10), "--trials",
                                           "1", "--storage", f"journal:{tmp_path/'nowhere'/'x.log'}", "--out",
                                           tmp_path/"c"))
