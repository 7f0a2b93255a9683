import contextlib, fcntl, io, json, os, socket, subprocess, sys, time
from pathlib import Path
import httpx, pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent/"shared"/"data"

@pytest.fixture
def shared_data() -> Path:
    "../shared/data, or a skip (a failure under SHOPTASKS_REQUIRE_DATA=1) where it is absent."
    if not SHARED_DATA.is_dir():
        msg = f"real data folder {SHARED_DATA} is absent"
        if os.environ.get("SHOPTASKS_REQUIRE_DATA") == "1": pytest.fail(msg + " and SHOPTASKS_REQUIRE_DATA=1")
        pytest.skip(msg)
    return SHARED_DATA

def pytest_configure(config):
    "Under `pytest -n N` (pytest-xdist), each worker and the processes it starts take their share of the cores."
    if workers := os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
        threads = max(1, (os.cpu_count() or 1) // int(workers))
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
        if "torch" in sys.modules: sys.modules["torch"].set_num_threads(threads)

def free_port() -> int:
    "A TCP port free on the loopback interface now."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def shoptasks(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    "Run the `shoptasks` command as a user would."
    exe = Path(sys.executable).parent/"shoptasks"
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)

def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    "Run the command's `main` in this process (as the `shoptasks` script does, without its seconds of imports)."
    from shoptasks.cli import main
    out, err, code, here = io.StringIO(), io.StringIO(), 0, os.getcwd()
    try:
        if cwd: os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): main([str(a) for a in args])
    except SystemExit as e: code = e.code if isinstance(e.code, int) else 1
    finally: os.chdir(here)
    return subprocess.CompletedProcess(["shoptasks", *map(str, args)], code, out.getvalue(), err.getvalue())

@contextlib.contextmanager
def serving(*args):
    "`shoptasks serve` with `args` (runs and options) on a free loopback port, once healthy: its URL; stopped after."
    port = free_port()
    exe = Path(sys.executable).parent/"shoptasks"
    proc = subprocess.Popen([str(exe), "serve", *map(str, args), "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(url + "/health").status_code == 200: break
            except httpx.TransportError: pass
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)

def one_line_error(r: subprocess.CompletedProcess) -> str:
    "The error of a command that failed as bad input should: exit status 2, one line on stderr naming the problem."
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("shoptasks: "), r.stderr
    return lines[0]

def install_plugin(site: Path, module: str, source: str, entry_points: str) -> dict:
    "Write plugin module `module` and a .dist-info declaring `entry_points` into `site`; the environment that finds it."
    site.mkdir(exist_ok=True)
    (site/f"{module}.py").write_text(source)
    info = site/f"{module}-0.1.dist-info"; info.mkdir()
    (info/"METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (info/"entry_points.txt").write_text(f"[shoptasks]\n{entry_points}\n")
    return {**os.environ, "PYTHONPATH": str(site)}

@pytest.fixture(scope="session")
def shop_dir(tmp_path_factory) -> Path:
    "The generated sample shop, written once for the session."
    from shoptasks.sample import make_shop, write_shop
    return write_shop(make_shop(n_products=200, n_reviews=1500, n_customers=100), tmp_path_factory.mktemp("shop"))

@pytest.fixture(scope="session")
def backbone(shop_dir, tmp_path_factory) -> Path:
    "A tiny causal model pretrained for a few steps on the sample shop's text."
    out = tmp_path_factory.mktemp("backbone")/"run"
    r = cli("pretrain", "--data", shop_dir/"corpus.txt", "--out", out, "--preset", "tiny", "--vocab-size", "512",
            "--max-steps", "30", "--eval-every", "30", "--no-compile")
    assert r.returncode == 0, r.stderr
    return out

BAD_SAMPLE = """
from shoptasks.hookspecs import hookimpl
from shoptasks.tasks import ClassificationTask
class NoSuchColumn(ClassificationTask):
    name, description, sample = "aa-broken-sample", "reads a column the sample shop lacks", "reviews.csv"
    columns = dict(text="body", label="rating")
@hookimpl
def register_tasks(register): register(NoSuchColumn)
"""

@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """`shoptasks demo` (tiny, 200 steps of pretraining: the same model on any machine, however loaded) with a third
    party's task that cannot read the sample shop installed. Built once for the session however many pytest-xdist
    workers read it: the first builds it, under a lock, in the workers' common folder."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"): root = root.parent
    tmp = root/"demo"
    with open(root/"demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (tmp/"result.json").exists():
            tmp.mkdir(exist_ok=True)
            env = install_plugin(tmp/"site", "bad_sample", BAD_SAMPLE, "bad = bad_sample")
            r = shoptasks("demo", "--out", tmp/"demo", "--max-steps", "200", "--preset", "tiny", env=env)
            assert r.returncode == 0, r.stderr
            (tmp/"result.json").write_text(json.dumps(dict(args=r.args, stdout=r.stdout, stderr=r.stderr)))
    saved = json.loads((tmp/"result.json").read_text())
    return tmp/"demo", subprocess.CompletedProcess(saved["args"], 0, saved["stdout"], saved["stderr"])
