"Bad input: one line on stderr naming what and where, exit status 2, nothing half-written (in-process: the same `main` as the command)."
import gzip
import pytest
from conftest import cli, one_line_error

def pretrain(data, out, *extra):
    return cli("pretrain", "--data", data, "--out", out, "--preset", "tiny", "--max-steps", "2", "--no-compile", *extra)

def assert_one_line_error(r, *fragments):
    line = one_line_error(r)
    for f in fragments: assert f in line, line

def test_empty_corpus(tmp_path):
    (tmp_path/"empty.txt").write_text("\n \n")
    assert_one_line_error(pretrain(tmp_path/"empty.txt", tmp_path/"run"), "corpus is empty")
    assert not (tmp_path/"run").exists()

def test_missing_column(tmp_path):
    (tmp_path/"r.csv").write_text("Title,Review Text\nNice,Soft\n")
    assert_one_line_error(pretrain(tmp_path/"r.csv", tmp_path/"run", "--column", "review_text"),
                          "r.csv: line 2 has no column 'review_text' (columns: Title, Review Text)")
    assert not (tmp_path/"run").exists()

def test_missing_jsonl_field(tmp_path):
    with gzip.open(tmp_path/"r.jsonl.gz", "wt") as f: f.write('{"text": "a"}\n{"body": "b"}\n')
    assert_one_line_error(pretrain(tmp_path/"r.jsonl.gz", tmp_path/"run", "--column", "text"), "line 2 has no field 'text' (fields: body)")

def test_undecodable_bytes(tmp_path):
    (tmp_path/"c.txt").write_bytes(b"good line\n" * 50 + b"caf\xe9 latin-1\n")
    assert_one_line_error(pretrain(tmp_path/"c.txt", tmp_path/"run"), "c.txt: line 51 is not valid UTF-8")
    assert not (tmp_path/"run").exists() and [p.name for p in tmp_path.iterdir()] == ["c.txt"]

def test_vocabulary_too_small(shop_dir, tmp_path):
    assert_one_line_error(pretrain(shop_dir/"corpus.txt", tmp_path/"run", "--vocab-size", "100"), "vocab_size=100 is too small", "at least 275")
    assert not (tmp_path/"run").exists()

def test_out_dir_with_a_different_run(shop_dir, tmp_path):
    r = pretrain(shop_dir/"corpus.txt", tmp_path/"run", "--vocab-size", "400")
    assert r.returncode == 0, r.stderr
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path/"run").iterdir()}
    assert_one_line_error(pretrain(shop_dir/"corpus.txt", tmp_path/"run", "--vocab-size", "500"),
                          "holds a different run", "vocab_size: 400 there, 500 here")
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path/"run").iterdir()} == before

def test_out_dir_that_is_not_a_run(shop_dir, tmp_path):
    (tmp_path/"photos").mkdir(); (tmp_path/"photos"/"cat.jpg").write_bytes(b"\xff\xd8")
    assert_one_line_error(pretrain(shop_dir/"corpus.txt", tmp_path/"photos"), "holds no run of this kind (pretrain_config.json is missing)")
    assert [p.name for p in (tmp_path/"photos").iterdir()] == ["cat.jpg"]

@pytest.mark.parametrize("args,fragment", [
    (["generate", "--model", "runs/nowhere/x", "--prompt", "x"], "runs/nowhere/x: no such directory"),
    (["generate", "--model", ".", "--prompt", "x"], ".: not a model directory"),
    (["tokenizer", "encode", "--tokenizer", ".", "x"], ".: not a tokenizer directory"),
    (["pretrain", "--data", "nowhere.csv", "--column", "t", "--out", "r", "--max-steps", "1"], "nowhere.csv: no such file"),
    (["pretrain", "--data", "c.xlsx", "--out", "r", "--max-steps", "1"], "unknown corpus format"),
    (["pretrain", "--data", "c.parquet", "--out", "r", "--max-steps", "1"], "a PARQUET corpus needs the column"),
])
def test_bad_paths(args, fragment, tmp_path):
    assert_one_line_error(cli(*args, cwd=tmp_path), fragment)
    assert list(tmp_path.iterdir()) == []

@pytest.mark.parametrize("extra,fragment", [
    (["--max-steps", "-5"], "max_steps must be > 0, not -5"),
    (["--lr", "-1"], "lr must be >= 0, not -1.0"),
    (["--preset", "huge"], "unknown preset 'huge' (known: tiny, small, base)"),
    (["--batch-size", "0"], "batch_size must be > 0, not 0"),
    (["--warmup", "-1"], "warmup must be >= 0, not -1"),
    (["--micro-batch-size", "5"], "batch_size 16 must split into 1 processes x micro-batches of 5"),
    (["--eval-every", "0"], "eval_every must be > 0, not 0"),
])
def test_arguments_are_checked_before_any_work(extra, fragment, shop_dir, tmp_path):
    "Each fails in one line before a tokenizer is trained or a folder made (the last flag wins in argparse)."
    assert_one_line_error(pretrain(shop_dir/"corpus.txt", tmp_path/"run", *extra), fragment)
    assert not (tmp_path/"run").exists()

def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_directory(shop_dir, tmp_path):
    "The tokenizer and packed data were written; a rate of 1e30 then overflows at step 2: nothing stays."
    r = pretrain(shop_dir/"corpus.txt", tmp_path/"run", "--vocab-size", "400", "--max-steps", "20",
                 "--eval-every", "10", "--lr", "1e30")
    last = r.stderr.strip().splitlines()[-1]                             # after the progress bars, closed first
    assert r.returncode == 2 and last.startswith("shoptasks: the loss is nan at step 2"), r.stderr
    assert "none (none was written yet)" in last and "lower the learning rate" in last
    assert list(tmp_path.iterdir()) == []

def test_finetune_arguments_are_checked_before_any_work(backbone, tmp_path):
    common = ("--backbone", backbone, "--out", tmp_path/"run")
    assert_one_line_error(cli("finetune", "review-sentiment", *common, "--max-steps", "1", "--layer-decay", "0"),
                          "layer_decay must be > 0 and <= 1, not 0.0")
    assert_one_line_error(cli("finetune", "review-sentiment", *common, "--minutes", "-1"),
                          "minutes must be > 0, not -1.0")
    assert not (tmp_path/"run").exists()
