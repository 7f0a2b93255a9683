"""Next-item recommendation end to end through the same driver as every kind: the sample shop's click log, and Online
Retail (UCI, CC BY 4.0, ../shared/data) with the issue's protocol, beside popularity, repeat and item-kNN."""
import csv, json
import pytest
from conftest import cli, one_line_error

def finetune(out, *extra):
    return cli("finetune", "next-item", "--out", out, "--max-steps", "100", "--batch-size", "32", "--lr", "3e-3",
               "--warmup", "10", "--eval-every", "50", *extra)

@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    "next-item trained from scratch for 100 steps on the default sample shop's click log, and what it printed."
    out = tmp_path_factory.mktemp("ranked")/"run"
    r = finetune(out)
    assert r.returncode == 0, r.stderr
    return out, r.stdout

def test_the_model_beats_every_baseline_on_the_sample_shop(ranked):
    run, stdout = ranked
    report = json.loads((run/"metrics.json").read_text())["test"]
    assert report["rows"] == 400 and report["shown"][:2] == ["hr_10", "ndcg_10"]
    baselines = [report["baseline"], *report["other_baselines"].values()]
    assert all(report["model"]["ndcg_10"] > b["ndcg_10"] for b in baselines), report
    alone = report["variants"]["model: Transformer alone"]
    assert alone["ndcg_10"] > 1.5 * report["other_baselines"]["popularity"]["ndcg_10"], report
    mix = json.loads((run/"task.json").read_text())["mix"]
    assert set(mix) == {"repeat", "last", "earlier"} and any(mix.values()) and report["model_params"] == mix
    for name in ("baseline: item-kNN (transitions) (window=", "baseline: repeat", "baseline: popularity",
                 "ndcg_10 by segment: ", "targets bought 5 times or less in training (", "model (repeat=",
                 "model: Transformer alone"):
        assert name in stdout, name
    assert json.loads((run/"items.json").read_text())[:2] == ["P0000", "P0001"]     # the vocabulary: the catalogue
    again = cli("evaluate", "next-item", "--model", run, "--json")
    assert again.returncode == 0, again.stderr
    again = json.loads(again.stdout)
    assert again["model"] == report["model"] and again["other_baselines"] == report["other_baselines"]

def test_predict_ranks_each_history_of_a_log(ranked, tmp_path):
    run, _ = ranked
    log = tmp_path/"log.csv"
    log.write_text("user_id,timestamp,item_id\nu1,2026-02-01 10:00,P0001\nu1,2026-02-01 10:05,P0002\n"
                   "u2,2026-02-01 11:00,P0003\nu2,2026-02-01 11:01,NOPE\nu3,2026-02-01 12:00,NOPE\n")
    r = cli("predict", "next-item", "--model", run, "--input", log, "--output", tmp_path/"recs.csv", "--k", "5",
            "--exclude-seen")
    assert r.returncode == 0, r.stderr
    assert "3 rows predicted" in r.stdout and "history items the model does not know, ignored: 2" in r.stdout
    assert "histories with no item the model knows, ranked by popularity: 1" in r.stdout
    rows = list(csv.DictReader(open(tmp_path/"recs.csv")))
    assert [r["user_id"] for r in rows] == ["u1", "u2", "u3"] and list(rows[0]) == ["user_id", "items", "scores"]
    first = rows[0]["items"].split(";")
    assert len(first) == 5 and not {"P0001", "P0002"} & set(first)
    popular = list(json.loads((run/"task.json").read_text())["popularity"])
    assert rows[2]["items"].split(";") == popular[:5]                        # only unknown items: the most popular
    scores = [float(s) for s in rows[0]["scores"].split(";")]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1

    from shoptasks.ranking import recommend
    top = recommend(run, ["P0001", "P0002"], k=5, exclude_seen=True)
    assert [x for x, _ in top] == first

@pytest.mark.parametrize("flags,fragment", [(["--k", "0"], "k must be >= 1, not 0"),
                                            (["--num-beams", "2"], "next-item takes the options k, exclude_seen and features, not num_beams")])
def test_bad_prediction_options(ranked, shop_dir, tmp_path, flags, fragment):
    run, _ = ranked
    msg = one_line_error(cli("predict", "next-item", "--model", run, "--input", shop_dir/"events.csv",
                             "--output", tmp_path/"r.csv", *flags))
    assert fragment in msg and not (tmp_path/"r.csv").exists()

def test_bad_event_files(tmp_path):
    bad = tmp_path/"bad.csv"
    bad.write_text("user_id,timestamp,item_id\na,2026-01-01,x\na,2026-01-02,y\na,soon,z\n")
    msg = one_line_error(finetune(tmp_path/"run", "--data", bad))
    assert "bad.csv: line 4: timestamp is 'soon': expected an ISO 8601 time" in msg and not (tmp_path/"run").exists()
    msg = one_line_error(finetune(tmp_path/"run", "--data", bad, "--column", "user=visitor"))
    assert "has no column 'visitor' for user" in msg
    msg = one_line_error(cli("finetune", "review-sentiment", "--out", tmp_path/"cls", "--max-steps", "2"))
    assert "review-sentiment fine-tunes a pretrained backbone: pass --backbone" in msg

def test_online_retail_protocol_and_baselines(shared_data):
    "The issue's protocol on the real file: its counts, and the baselines' reference figures on the test split."
    from shoptasks.plugins import load_task
    task = load_task("next-item")
    task.min_item_events = 5                                                     # the published protocol's filter
    source = shared_data/"online_retail"/"online_retail.csv.gz"
    train, val, test = (task.load(source, s) for s in ("train", "val", "test"))
    assert len(test) == len(val) == 4198 and len(train) == 9973                 # long histories train as windows of 50
    assert train.counts["training histories of one item, skipped"] == 52
    assert test.counts == {"events without a user or an item, dropped": 135080,
                           "events the source's protocol drops": 8905,
                           "duplicate events (same user, time and item), dropped": 10127,
                           "consecutive repeats of an item, collapsed": 405,
                           "events of items with fewer than 5 events, dropped": 1037,
                           "histories with fewer than 3 items, skipped": 141}
    task.setup(train, val, test)
    assert len(task.items) == 3186
    scores = {b.name: task.score(b.fit(train.rows, val.rows).predict(test.rows), test.rows) for b in task.baselines()}
    assert round(scores["popularity"]["hr_10"], 3) == 0.039 and round(scores["popularity"]["ndcg_10"], 3) == 0.021
    assert round(scores["repeat"]["hr_10"], 3) == 0.136
    assert round(scores["item-kNN (transitions)"]["hr_10"], 3) == 0.284
    assert abs(scores["item-kNN (transitions)"]["ndcg_10"] - 0.194) < 0.002
    assert len(task.subsets(test)["next-basket targets"]) == 234                  # 94% share the last item's time

def test_the_report_plots_hit_rate_by_list_length(ranked, tmp_path):
    out, _ = ranked
    r = cli("report", out, "--out", tmp_path/"report")
    assert r.returncode == 0, r.stderr
    page = (tmp_path/"report"/"report.html").read_text()
    assert "Hit rate and NDCG by list length" in page and "baseline: popularity" in page
    metrics = json.loads((out/"metrics.json").read_text())["test"]
    assert len(metrics["model"]["hr_at"]) == 20 and metrics["model"]["hr_at"][9] == metrics["model"]["hr_10"]
    from shoptasks.report import sample_outputs
    shown, _ = sample_outputs([json.loads(l) for l in (out/"test_outputs.jsonl").read_text().splitlines()], 8)
    assert page.count("<mark>") == sum(bool(h["highlights"]) + bool(h["baseline_highlights"]) for h in shown)
