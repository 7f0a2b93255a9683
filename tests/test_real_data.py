"Women's E-Commerce Clothing Reviews (CC0, ../shared/data): the reader, the split and a short pretraining run."
import json
from collections import Counter
from transformers import AutoTokenizer
from conftest import cli
from shoptasks.data import read_texts, split_of

def reviews(shared_data): return shared_data/"womens_clothing_reviews"/"reviews.csv.gz"

def test_reader_and_split(shared_data):
    texts = list(read_texts(reviews(shared_data), "Review Text"))
    assert len(texts) == 23486 - 845                            # rows without text are skipped
    assert texts[0] == "Absolutely wonderful - silky and sexy and comfortable"
    sizes = Counter(split_of(i) for i in range(len(texts)))
    assert sizes == {"train": 13584, "val": 4528, "test": 4529}

def test_short_pretraining_on_real_reviews(shared_data, tmp_path):
    r = cli("pretrain", "--data", reviews(shared_data), "--column", "Review Text", "--out", tmp_path/"run",
                  "--preset", "tiny", "--vocab-size", "2048", "--max-steps", "40", "--eval-every", "20", "--no-compile")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path/"run"/"data"/"meta.json").read_text())["splits"]
    assert [meta[s]["documents"] for s in ("train", "val", "test")] == [13584, 4528, 4529]
    tok = AutoTokenizer.from_pretrained(tmp_path/"run")
    text = next(read_texts(reviews(shared_data), "Review Text"))
    assert tok.decode(tok(text)["input_ids"]) == text
    m = json.loads((tmp_path/"run"/"metrics.json").read_text())
    assert m["val_ppl"] < 2048                                   # learnt something in 40 steps
