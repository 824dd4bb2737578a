import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from curate.ablation import data  # noqa: E402
from curate.ablation.damage import damage  # noqa: E402
from curate.ablation.evaluate import bootstrap, load_tasks, score_pairs  # noqa: E402
from curate.ablation.model import GPT, GPTConfig  # noqa: E402
from curate.ablation.train import TrainConfig, get_lr, train  # noqa: E402
from tests.conftest import REPO  # noqa: E402

TINY = dict(n_layer=1, n_head=2, n_embd=32, block_size=16, batch_size=4, threads=1, log_every=1, lr=3e-3, min_lr=3e-4)


def test_model_is_causal_and_ties_embeddings():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=12, n_layer=2, n_head=2, n_embd=32)).eval()
    assert model.head.weight is model.embed.weight
    x = torch.randint(0, 50, (1, 12))
    y = x.clone()
    y[0, 8:] = (y[0, 8:] + 1) % 50  # change the future: logits of the first 8 positions must not move
    a, _ = model(x)
    b, _ = model(y)
    assert torch.allclose(a[0, :8], b[0, :8], atol=1e-5)
    assert not torch.allclose(a[0, 8:], b[0, 8:])
    _, loss = model(x, x, reduction="none")
    assert loss.shape == (1, 12)


def test_lr_warms_up_then_decays_to_min_lr():
    cfg = TrainConfig(lr=1.0, min_lr=0.1, warmup=0.1)
    lrs = [get_lr(s, 100, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3) and all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


def test_shard_round_trip_and_truncation(tmp_path):
    tokens = np.arange(1000, dtype=np.uint16)
    data.write_shard(tmp_path / "a.bin", tokens)
    assert np.array_equal(data.read_shard(tmp_path / "a.bin"), tokens)
    raw = (tmp_path / "a.bin").read_bytes()
    (tmp_path / "b.bin").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="truncated"):
        data.read_shard(tmp_path / "b.bin")
    (tmp_path / "c.bin").write_bytes(b"\0" * 2000)
    with pytest.raises(ValueError, match="magic"):
        data.read_shard(tmp_path / "c.bin")


def test_training_is_deterministic_and_resumes_exactly(tmp_path):
    tokens = np.random.default_rng(0).integers(0, 64, 4 * 16 * 12 + 1).astype(np.uint16)
    cfg = TrainConfig(tokens=len(tokens) - 1, **TINY)
    a = train(cfg, tokens, 64, seed=1)
    b = train(cfg, tokens, 64, seed=1)
    assert a.steps == 12 and a.curve == b.curve
    assert train(cfg, tokens, 64, seed=2).curve != a.curve
    # a run killed after step 5 and restarted ends exactly where the uninterrupted run does
    ckpt = tmp_path / "ckpt.pt"
    train(cfg, tokens, 64, seed=1, checkpoint=ckpt, stop_at=5)
    resumed = train(cfg, tokens, 64, seed=1, checkpoint=ckpt)
    assert resumed.curve == a.curve
    for p, q in zip(resumed.model.parameters(), a.model.parameters()):
        assert torch.equal(p, q)


def test_damage_kinds():
    docs = ["\n".join(f"doc {d} line {i} is clean text." for i in range(10)) for d in range(200)]
    bad = damage(docs, "boilerplate", 0.5, seed=0)
    lines = [line for doc in bad for line in doc.split("\n")]
    assert sum("clean text" not in line for line in lines) / len(lines) == pytest.approx(0.5, abs=0.01)
    assert len({line for line in lines if "clean text" not in line}) > 500  # varied, not a dozen lines
    dup = damage(docs, "duplicates", 0.3, seed=0)
    assert len(set(dup)) <= 0.7 * len(docs) + 2
    spam = damage(docs, "spam", 0.3, seed=0)
    assert sum(d not in docs for d in spam) == 60
    assert sum(d.startswith("Hallo") for d in damage(docs, "foreign", 0.3, seed=0, foreign=["Hallo Welt"])) == 60
    with pytest.raises(ValueError, match="unknown damage"):
        damage(docs, "typos", 0.3)


def test_bootstrap_ci_covers_the_mean_and_pairs_the_delta():
    rng = np.random.default_rng(0)
    base = [rng.normal(1.0, 0.3, 400) for _ in range(3)]
    worse = [b + 0.05 for b in base]  # the same items, uniformly 0.05 worse: the paired delta CI is tight
    lo, hi, dlo, dhi = bootstrap(worse, base, n=500)
    assert lo < np.mean(worse) < hi
    assert dlo == pytest.approx(0.05) and dhi == pytest.approx(0.05)
    assert hi - lo > 0.03  # the value's own CI is as wide as the item spread makes it


def test_predicate_variant_reads_the_decision_table(tmp_path):
    (tmp_path / "documents").mkdir()
    (tmp_path / "decisions").mkdir()
    ids = ["a", "b", "c"]
    pq.write_table(pa.table({"id": ids, "text": ["short", "a long document", "spam spam"]}),
                   tmp_path / "documents" / "00000.parquet")
    pq.write_table(pa.table({"id": ids, "reason": [None, None, "gopher_quality:too_few_words"],
                             "n_words": [1, 3, 2]}), tmp_path / "decisions" / "00000.parquet")
    assert data.read_documents([tmp_path], where="reason IS NULL") == ["short", "a long document"]
    assert data.read_documents([tmp_path], where="n_words >= 2") == ["a long document", "spam spam"]
    with pytest.raises(ValueError, match="predicate"):
        data.read_documents([tmp_path], where="no_such_column > 1")


def test_score_pairs_sums_the_continuation_log_probabilities():
    from curate.tools.tokenizer import load_tokenizer

    tok = load_tokenizer("bytes")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, block_size=64, n_layer=1, n_head=2, n_embd=32)).eval()
    (lp, n, _, n_bytes), = score_pairs(model, tok, [("The cat", " sat")])
    seq = torch.tensor([list(b"The cat sat")])
    logits, _ = model(seq[:, :-1])
    want = torch.log_softmax(logits[0], -1)[torch.arange(6, 10), seq[0, 7:]].sum().item()
    assert n == 4 and n_bytes == 4 and lp == pytest.approx(want, abs=1e-4)
    # a continuation longer than the context window is scored on its last tokens: its bytes are theirs
    long = " caf\u00e9" * 20  # 120 bytes, 100 characters
    small = GPT(GPTConfig(vocab_size=256, block_size=16, n_layer=1, n_head=2, n_embd=32)).eval()
    (_, n, _, n_bytes), = score_pairs(small, tok, [("x", long)])
    assert n == 16 and n_bytes == 16  # the last 16 byte tokens: " caf\u00e9" ends the text, "é" is 2 of them


def test_continuous_metrics_are_the_gold_answers_log_likelihood_and_bits_per_byte():
    """`<task>_logprob` is the gold continuation's mean log-probability per token, `<task>_bpb` its summed
    -log2 p over its UTF-8 bytes (DataDecide / OLMo), computed from the gold choice whatever the model picks."""
    from curate.ablation.evaluate import evaluate
    from curate.tools.tokenizer import load_tokenizer

    tok = load_tokenizer("bytes")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, block_size=64, n_layer=1, n_head=2, n_embd=32)).eval()
    items = [{"pairs": [("The cat", " sat"), ("The cat", " na\u00efve")], "gold": 1},
             {"pairs": [("A dog", " ran far"), ("A dog", " x")], "gold": 0}]
    windows = np.zeros((1, 65), dtype=np.int64)
    scores = evaluate(model, tok, windows, {"copa": items})
    for item, logprob, bpb in zip(items, scores["copa_logprob"], scores["copa_bpb"]):
        (lp, n, _, n_bytes), = score_pairs(model, tok, [item["pairs"][item["gold"]]])
        assert logprob == pytest.approx(lp / n)
        assert bpb == pytest.approx(-lp / np.log(2) / len(item["pairs"][item["gold"]][1].encode()))
        assert n_bytes == len(item["pairs"][item["gold"]][1].encode())
    assert scores["copa_bpb"][0] > 0 and scores["copa_logprob"][0] < 0


def test_summary_ranks_by_bits_per_byte_lower_first(tmp_path):
    """The summary's `bpb` is the mean over tasks (each task once) and ranks lower first, with paired CIs."""
    from curate.ablation.report import render_summary, write_tables

    rng = np.random.default_rng(0)
    for variant, shift in (("clean", 0.0), ("spam", 0.2)):
        for seed in (0, 1):
            folder = tmp_path / "runs" / variant / f"seed{seed}"
            folder.mkdir(parents=True)
            np.savez(folder / "scores.npz", heldout_loss=rng.normal(4, 0.1, 50),
                     copa_bpb=rng.normal(3.5, 0.05, 40) + shift, piqa_bpb=rng.normal(3.0, 0.05, 10) + shift,
                     copa_centered=np.zeros(40), piqa_centered=np.zeros(10))
            (folder / "result.json").write_text(json.dumps({"tokens": 1, "train_seconds": 1, "tokens_per_second": 1,
                                                            "curve": [(0, 1, 5.0)]}))
    tables = write_tables(tmp_path, ["clean", "spam"], [0, 1], "clean", n_boot=200)
    bpb = {r["variant"]: r for r in tables["summary"] if r["metric"] == "bpb"}
    copa = {r["variant"]: r for r in tables["summary"] if r["metric"] == "copa_bpb"}
    piqa = {r["variant"]: r for r in tables["summary"] if r["metric"] == "piqa_bpb"}
    # each task counts once, however many items it has
    assert bpb["clean"]["value"] == pytest.approx((copa["clean"]["value"] + piqa["clean"]["value"]) / 2)
    assert bpb["spam"]["delta"] == pytest.approx(0.2, abs=0.05) and bpb["spam"]["ci_low"] > 0
    text = render_summary(tables["summary"], "clean")
    lines = [line.split() for line in text.splitlines() if line.startswith("bpb ")]
    assert [line[2] for line in lines] == ["clean", "spam"] and lines[1][-1] == "worse"


@pytest.mark.integration
def test_benchmark_tasks_load(shared):
    tasks = load_tasks(shared / "benchmarks", max_items=20)
    assert set(tasks) == {"hellaswag", "arc_easy", "piqa", "copa", "winogrande", "lambada"}
    assert all(len(items) == 20 for items in tasks.values())
    assert all(len(item["pairs"]) == 4 for item in tasks["hellaswag"])
    assert all(len(item["pairs"]) == 2 for item in tasks["winogrande"])
    assert load_tasks(shared / "benchmarks", max_items=20)["piqa"] == tasks["piqa"]  # a fixed sample


@pytest.mark.integration
def test_ablation_tells_clean_text_from_planted_damage(shared, tmp_path, monkeypatch):
    """The issue's bar, tiny: every damaged copy of the same clean text scores a worse held-out loss than the
    clean baseline: the paired 95% CI of the difference (3 seeds x 256 held-out windows) lies above zero.
    At this size (30k parameters, 98k tokens) seeds differ by ~0.05 nats, so the stricter check, the
    variants' own CIs not overlapping the baseline's, is the bench's (bench/ablation.py, 1M tokens), and so
    are planted duplicates, which cost a model this small nothing measurable (it is short of steps, not data)."""
    from click.testing import CliRunner

    from curate.cli import main

    monkeypatch.setenv("CURATE_SHARED_DATA", str(shared))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["ablate", str(REPO / "pipelines" / "ablation_damage_tiny.yaml"),
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    summary = pq.read_table(out / "summary.parquet").to_pylist()
    loss = {r["variant"]: r for r in summary if r["metric"] == "heldout_loss"}
    assert set(loss) == {"clean", "boilerplate", "foreign", "spam"}
    for name in ("boilerplate", "foreign", "spam"):
        assert loss[name]["ci_low"] > 0, (name, loss[name], loss["clean"])
        assert loss[name]["value"] > loss["clean"]["value"]
    # the continuous benchmark metrics (bits per byte of the gold answer) rank clean first on at least 2 tasks,
    # where accuracy at this size sits within noise of chance
    tasks = [m[:-len("_bpb")] for m in {r["metric"] for r in summary} if m.endswith("_bpb")]
    assert len(tasks) >= 2
    clean_first = [t for t in tasks
                   if min((r for r in summary if r["metric"] == f"{t}_bpb"), key=lambda r: r["value"])["variant"] == "clean"]
    assert len(clean_first) >= 2, {t: {r["variant"]: r["value"] for r in summary if r["metric"] == f"{t}_bpb"}
                                   for t in tasks}
    results = pq.read_table(out / "results.parquet")
    assert results.num_rows == 12 and {"variant", "seed", "tokens", "heldout_loss", "core"} <= set(results.column_names)
    assert len(set(results.column("tokens").to_pylist())) == 1  # the same token budget for every run
    curves = pq.read_table(out / "curves.parquet")
    assert curves.column_names == ["variant", "seed", "step", "tokens", "loss"]
    run = json.loads((out / "run.json").read_text())
    assert {"config", "git_commit", "manifest", "versions"} <= set(run)
    assert run["manifest"]["clean"]["tokens"] == run["manifest"]["spam"]["tokens"]
    assert (out / "tokenizer.json").is_file() and (out / "results.csv").is_file()
    assert (out / "heldout_loss.svg").is_file() or (out / "heldout_loss.png").is_file()
    # a rerun finds every run finished and only rewrites the tables
    again = CliRunner().invoke(main, ["ablate", str(REPO / "pipelines" / "ablation_damage_tiny.yaml"),
                                      "--output", str(out)])
    assert again.exit_code == 0 and "seed 0: held-out loss" not in again.output
    assert pq.read_table(out / "summary.parquet").to_pylist() == summary


def test_without_matplotlib_the_plots_are_standalone_svg_of_the_chart_kit(tmp_path):
    import xml.etree.ElementTree as ET

    from curate.ablation.report import svg_plots

    series = {"base": {0: [(0, 5.0), (100, 4.0)], 1: [(0, 5.1), (100, 4.1)]}, "strict": {0: [(0, 4.9), (100, 3.8)]}}
    bars = [{"variant": "base", "value": 3.2, "value_ci_low": 3.15, "value_ci_high": 3.24},
            {"variant": "strict", "value": 3.1, "value_ci_low": 3.06, "value_ci_high": 3.13}]
    assert svg_plots(tmp_path, series, bars) == ["loss_curves.svg", "heldout_loss.svg"]

    def marks(name):
        root = ET.parse(tmp_path / name).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        return [e for e in root.iter() if e.get("class") in ("line", "bar")]

    assert [m.find("{http://www.w3.org/2000/svg}title").text for m in marks("loss_curves.svg")] == [
        "base (seed 0)", "base (seed 1)", "strict (seed 0)"]
    root = ET.parse(tmp_path / "heldout_loss.svg").getroot()
    held = [float(e.get("cx")) for e in root.iter() if e.get("class") == "dot"]  # points on a zoomed axis, not bars
    assert len(held) == 2 and held[0] - held[1] > 120  # 3.2 vs 3.1: far apart (from 0: 11 px), the higher to the right
    empty = tmp_path / "empty"
    empty.mkdir()
    assert svg_plots(empty, {}, []) == ["loss_curves.svg", "heldout_loss.svg"]  # no data: empty plots, not a crash
    assert all(ET.parse(empty / name).getroot().tag.endswith("svg") for name in ("loss_curves.svg", "heldout_loss.svg"))
