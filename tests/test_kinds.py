"""Kinds as plugins: the `regress` kind from its own distribution through every command, refusals at registration,
a driver that names no kind, and runs written before kinds were plugins."""
import ast, json, subprocess, sys
from pathlib import Path
import httpx, pytest
from conftest import ROOT, cli, install_plugin, serving, shoptasks

def test_regress_runs_through_finetune_evaluate_predict_report_and_serve(shop_dir, backbone, tmp_path):
    run = tmp_path/"stars"
    r = cli("finetune", "review-stars", "--data", shop_dir/"reviews.csv", "--backbone", backbone, "--out", run,
            "--max-steps", "150", "--eval-every", "50")
    assert r.returncode == 0, r.stderr
    test = json.loads((run/"metrics.json").read_text())["test"]
    assert test["headline"] == "mae" and test["maximize"] is False
    assert set(test["other_baselines"]) == {"training mean"} and test["baseline_name"] == "TF-IDF + ridge"
    mean_mae = test["other_baselines"]["training mean"]["mae"]
    assert test["model"]["mae"] < mean_mae / 2 and test["model"]["spearman"] > 0.5, test  # it learnt the stars
    assert {"mae", "rmse", "spearman"} <= set(test["model"]) and set(test["segments"]["model"]) == {"age", "department"}

    r = cli("evaluate", "review-stars", "--model", run, "--data", shop_dir/"reviews.csv", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["model"]["mae"] == pytest.approx(test["model"]["mae"], abs=1e-6)

    r = cli("predict", "review-stars", "--model", run, "--input", shop_dir/"reviews.csv", "--out", tmp_path/"p.jsonl")
    assert r.returncode == 0, r.stderr
    preds = [json.loads(l) for l in (tmp_path/"p.jsonl").read_text().splitlines()]
    assert len(preds) == 1500 and all(1 <= p["prediction"] <= 5 for p in preds)
    close = sum(abs(p["prediction"] - float(p["rating"])) < 1 for p in preds)
    assert close > 0.8 * len(preds), close

    r = cli("report", run, "--out", tmp_path/"report")
    assert r.returncode == 0, r.stderr
    page = (tmp_path/"report"/"report.md").read_text()
    assert "| baseline: training mean |" in page and "| mae | rmse | spearman |" in page
    better = test["model"]["mae"] < test["baseline"]["mae"]
    assert ("The model beats its baseline" in page) == better and ("does not beat" in page) != better

    with serving(f"stars={run}") as url:
        described = httpx.get(url + "/v1/runs").json()["runs"][0]
        assert described["kind"] == "regress" and described["roles"] == ["title", "text"]
        r = httpx.post(url + "/v1/runs/stars/predict", json={"inputs": [{"text": "Love it, perfect fit!"},
                                                                          {"text": "Fell apart, returned it"}]})
        assert r.status_code == 200, r.text
        assert all(1 <= p["prediction"] <= 5 for p in r.json()["predictions"])
        assert httpx.post(url + "/v1/runs/stars/predict", json={"inputs": [{"stars": "5"}]}).status_code == 422

SCORELESS = '''
from shoptasks.hookspecs import hookimpl
from shoptasks.tasks import HeadTask
class Scoreless(HeadTask):
    kind, kind_noun = "scoreless", "scoreless"
    def n_outputs(self): return 1
    def target(self, label): return float(label)
    def loss(self, outputs, labels): return (outputs[:, 0] - labels).abs().mean()
    def predict(self, outputs): return outputs[:, 0].tolist(), [1.0] * len(outputs)
    def metrics(self): return {}
    def baseline(self): return None
class Stars(Scoreless):
    name, description, sample, columns = "scoreless-stars", "stars, unscored", "reviews.csv", dict(label="rating")
@hookimpl
def register_kinds(register): register(Scoreless)
@hookimpl
def register_tasks(register): register(Stars)
'''

def test_a_kind_missing_a_protocol_member_is_refused_at_registration(tmp_path):
    env = install_plugin(tmp_path/"site", "scoreless", SCORELESS, "scoreless = scoreless")
    r = shoptasks("tasks", env=env)
    assert r.returncode == 2 and "review-stars" in r.stdout and "scoreless-stars" not in r.stdout
    assert r.stderr.splitlines() == [
        "shoptasks: broken plugin 'scoreless': kind 'scoreless' (Scoreless) does not implement score; task "
        "'scoreless-stars' has kind 'scoreless', expected one of classify, generate, rank, regress"]

DRIVER = ["finetune", "inference", "report", "serve", "tune", "trainer", "cli", "pretraining", "plugins"]

def test_the_driver_names_no_kind():
    "No kind's name, class or kind-specific output key in the modules that drive every task."
    from shoptasks.plugins import kind_registry
    kinds = kind_registry()
    classes = {c.__name__ for c, _ in kinds.values()}
    names = {*kinds, *classes}
    keys = {"hr_at", "ndcg_at", "confusion_matrix", "labels", "invented", "items"}
    for module in DRIVER:
        tree = ast.parse((ROOT/"shoptasks"/f"{module}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):          # `kind == "rank"`, `"hr_at" in scores`
                for side in [node.left, *node.comparators]:
                    assert not (isinstance(side, ast.Constant) and side.value in names | keys), \
                        f"shoptasks/{module}.py:{node.lineno} compares with {side.value!r}"
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                assert node.slice.value not in keys, f"shoptasks/{module}.py:{node.lineno} reads [{node.slice.value!r}]"
            if isinstance(node, ast.Name | ast.alias):
                name = node.id if isinstance(node, ast.Name) else node.name
                assert name not in classes, f"shoptasks/{module}.py:{getattr(node, 'lineno', '?')} names {name}"
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr"):
                assert not (len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
                            and node.args[1].value in {"monitor", "head", "labels"}), \
                    f"shoptasks/{module}.py:{node.lineno} reads a member the contract does not declare"

def test_the_core_has_no_import_cycle_through_plugins():
    "`shoptasks.plugins` imports no task or kind module, so tasks -> trainer -> plugins ends there."
    code = ("import sys, shoptasks.plugins; "
            "print(sorted(m for m in sys.modules if m.startswith('shoptasks.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(out) == ["shoptasks.errors", "shoptasks.hookspecs", "shoptasks.plugins"]

LEGACY = ROOT/"tests"/"data"/"runs-a452c60"

def test_runs_written_before_kinds_were_plugins_still_evaluate_predict_and_serve(tmp_path):
    """Three runs (one of each kind) written by commit a452c60, before this change, on the sample shop of then (120
    products, 400 reviews, 60 customers; kept beside them, as the generator has changed since)."""
    from shoptasks.serve import ServedRun
    shop = LEGACY/"shop"
    r = cli("evaluate", "review-sentiment", "--model", LEGACY/"review-sentiment", "--data", shop/"reviews.csv",
            "--json")
    assert r.returncode == 0, r.stderr
    then = json.loads((LEGACY/"review-sentiment"/"metrics.json").read_text())["test"]
    assert json.loads(r.stdout)["model"]["macro_f1"] == pytest.approx(then["model"]["macro_f1"], abs=1e-6)
    for task, data, options in [("next-item", "events.csv", []),
                                ("product-description", "products.csv", ["--max-new-tokens", "4"])]:
        r = cli("predict", task, "--model", LEGACY/task, "--input", shop/data, "--output", tmp_path/f"{task}.jsonl",
                *options)
        assert r.returncode == 0, r.stderr
        assert (tmp_path/f"{task}.jsonl").read_text().count("\n") > 50
    for task in ("review-sentiment", "next-item", "product-description"):
        served = ServedRun(task, LEGACY/task)
        assert served.describe()["task"] == task
