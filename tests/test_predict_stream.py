"`predict` streams: an interrupted prediction resumes to the very file an uninterrupted one writes; bad input leaves nothing."
import csv, json, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import cli, one_line_error
from test_resume import interruptible

ROWS = 8000

@pytest.fixture(scope="module")
def sentiment(shop_dir, backbone, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stream")/"run"
    r = cli("finetune", "review-sentiment", "--data", shop_dir/"reviews.csv", "--backbone", backbone, "--out", out,
            "--max-steps", "3", "--eval-every", "3")
    assert r.returncode == 0, r.stderr
    return out

@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    "A shop's export of reviews: ids, and texts with commas, quotes and line breaks (CSV quotes them); some empty."
    path = tmp_path_factory.mktemp("in")/"reviews.csv"
    words = ["soft", "warm, cosy", 'a "true" fit', "runs small\nsize up", "lovely", "fell apart"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sku", "text"])
        for i in range(ROWS): w.writerow([f"SKU-{i:06d}", "" if i % 997 == 0 else " ".join(words[j % 6] for j in range(i % 7, i % 7 + 4))])
    return path

def predict(run, src, out, *extra):
    return cli("predict", "review-sentiment", "--model", run, "--input", src, "--output", out, *extra)

@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_an_interrupted_prediction_resumes_to_the_same_file(sentiment, catalogue, tmp_path, suffix):
    ref, out = tmp_path/f"ref.{suffix}", tmp_path/f"out.{suffix}"
    r = predict(sentiment, catalogue, ref)
    assert r.returncode == 0, r.stderr
    usable = ROWS - len(range(0, ROWS, 997))
    assert f"{usable} rows predicted into {ref}; {ROWS - usable} rows with an empty text skipped" in r.stdout
    progress = tmp_path/f".out.{suffix}.progress"
    exe = Path(sys.executable).parent/"shoptasks"
    cmd = [str(exe), "predict", "review-sentiment", "--model", str(sentiment), "--input", str(catalogue), "--output", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    while not progress.exists() and proc.poll() is None: time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].endswith(f"continue with: shoptasks {' '.join(cmd[1:])} --resume"), err
    written = json.loads(progress.read_text())["rows"]
    assert 0 < written < usable and not out.exists()
    r = predict(sentiment, catalogue, out, "--resume")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ref.read_bytes()
    assert not progress.exists() and not (tmp_path/f".out.{suffix}.partial").exists()
    first = (next(csv.DictReader(open(out, newline=""))) if suffix == "csv" else json.loads(out.open().readline()))
    assert list(first) == ["sku", "text", "prediction", "probability"] and first["sku"] == "SKU-000001"

def test_resume_needs_the_same_interrupted_job(sentiment, catalogue, tmp_path):
    out = tmp_path/"out.csv"
    assert f"{out}: no interrupted prediction to resume" in one_line_error(predict(sentiment, catalogue, out, "--resume"))
    (tmp_path/".out.csv.partial").write_text("sku,text,prediction,probability\n")
    (tmp_path/".out.csv.progress").write_text(json.dumps(dict(input=str(catalogue), model=str(sentiment), options={},
                                                             columns={}, keep=["sku"], rows=0, bytes=33)))
    msg = one_line_error(predict(sentiment, catalogue, out, "--resume"))
    assert msg.endswith("the interrupted prediction had another keep (['sku']); run it again without --resume"), msg

def test_bad_input_half_way_leaves_nothing(sentiment, catalogue, tmp_path):
    "A line that is not UTF-8 after several chunks: a one-line error naming it, no output, no partial file."
    bad = tmp_path/"bad.csv"
    bad.write_bytes(catalogue.read_bytes() + b"SKU-X,caf\xe9\n")
    out = tmp_path/"out.csv"
    r = predict(sentiment, bad, out)
    assert r.returncode == 2 and f"{bad}: line " in r.stderr and "is not valid UTF-8" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
