import os, subprocess, sys
from pathlib import Path
import pytest

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

def shoptasks(*args, cwd=None) -> subprocess.CompletedProcess:
    "Run the `shoptasks` command as a user would."
    exe = Path(sys.executable).parent/"shoptasks"
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd)

@pytest.fixture(scope="session")
def shop_dir(tmp_path_factory) -> Path:
    "The generated sample shop, written once for the session."
    from shoptasks.sample import make_shop, write_shop
    return write_shop(make_shop(n_products=200, n_reviews=1500, n_customers=100), tmp_path_factory.mktemp("shop"))
