import json

import pytest
from click.testing import CliRunner
from datatrove.data import Document

from curate.cli import main
from curate.filters.fasttext_classifier import FastTextClassifier
from curate.tools.classifier import TrainParams, chunks, normalize, precision_recall, roc_auc, train
from tests.classifier_data import negative_texts, positive_texts, write_texts
from tests.conftest import REPO, write_recipe

GOOD = ["The committee examined the evidence carefully and published a detailed report on its findings.",
        "In the spring the river rose, and the farmers moved their animals to the higher fields.",
        "The author describes the history of the town, its bridges and its mills, with great care."]
BAD = ["Home | About | Contact | Login | Sign up | Cart (0) | Privacy policy | Cookies",
       "click here buy now cheap deals free shipping subscribe newsletter accept all cookies",
       "Share on Facebook Tweet Pin Email Related posts Next post Previous post Menu Search"]


@pytest.mark.parametrize("scores, labels, auc", [
    ([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0], 1.0),
    ([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0], 0.0),
    ([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0], 0.5),
    ([0.9, 0.3, 0.6, 0.1], [1, 1, 0, 0], 0.75),
])
def test_roc_auc(scores, labels, auc):
    assert roc_auc(scores, labels) == pytest.approx(auc)


def test_precision_recall():
    assert precision_recall([0.9, 0.6, 0.7, 0.2], [1, 1, 0, 0], 0.5) == (pytest.approx(2 / 3), 1.0)


def test_normalize_lowercases_and_splits_punctuation():
    assert normalize("Hello,  World!\nNew\tline ﬁne") == "hello , world ! new line fine"


def test_chunks_keep_document_like_lengths():
    text = "\n\n".join(" ".join(f"w{i}" for i in range(n)) for n in (30, 30, 500, 5))
    pieces = chunks(text, 100)
    assert [len(p.split()) for p in pieces] == [60, 100, 100, 100, 100, 105]
    assert " ".join(pieces).split() == text.split()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    (root / "good.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in GOOD * 20) + "\n{broken\n")
    write_texts(BAD * 20, root / "bad")
    return root


def test_train_writes_model_and_card_and_counts_corrupt_records(tiny, tmp_path):
    result = train([str(tiny / "good.jsonl")], [str(tiny / "bad")], str(tmp_path / "m.bin"),
                   TrainParams(dim=16, bucket=10_000, epoch=25, holdout=0.2))
    card = json.loads((tmp_path / "m.card.json").read_text())
    assert card["inputs"]["positive"][0] == {"path": str(tiny / "good.jsonl"), "documents": 60, "skipped": 1}
    assert card["counts"]["positive_train"] == 48 and card["counts"]["negative_heldout"] == 12
    assert card["metrics"]["auc"] == result.metrics["auc"] == 1.0
    assert "| AUC | precision | recall" in (tmp_path / "m.card.md").read_text()


def test_cli_train_classifier_with_yaml_config(tiny, tmp_path):
    config = tmp_path / "data.yaml"
    config.write_text(f"positive: [{tiny / 'good.jsonl'}]\nnegative: [{tiny / 'bad'}]\ndim: 16\nbucket: 10000\nepoch: 25\n")
    out = CliRunner().invoke(main, ["train-classifier", "--config", str(config), "--output", str(tmp_path / "m.bin"),
                                    "--quantize"])
    assert out.exit_code == 0, out.output
    assert "held-out AUC 1.0000" in out.output
    assert json.loads((tmp_path / "m.card.json").read_text())["params"]["dim"] == 16


def test_cli_names_a_missing_input(tmp_path):
    out = CliRunner().invoke(main, ["train-classifier", "--positive", str(tmp_path / "nope"), "--negative",
                                    str(tmp_path), "--output", str(tmp_path / "m.bin")])
    assert out.exit_code == 1 and "classifier input not found" in out.output and "nope" in out.output


def test_stage_threshold_and_unknown_label(tiny, tmp_path):
    model = tmp_path / "m.bin"
    train([str(tiny / "good.jsonl")], [str(tiny / "bad")], str(model), TrainParams(dim=16, bucket=10_000, epoch=25))
    stage = FastTextClassifier(str(model), label="hq", threshold=0.5)
    good, bad = Document(text=GOOD[0], id="g"), Document(text=BAD[0], id="b")
    assert stage.filter(good) is None and stage.filter(bad) == "below_threshold"
    assert good.metadata["fasttext_classifier__score"] > 0.5 > bad.metadata["fasttext_classifier__score"]
    with pytest.raises(ValueError, match="label 'toxic' is not in"):
        FastTextClassifier(str(model), label="toxic")
    with pytest.raises(ValueError, match="integer_scores needs integer labels"):
        FastTextClassifier(str(model), integer_scores=True)


def test_integer_scores_fineweb_edu_style(tiny, tmp_path):
    # integer labels 0 and 1: the score is sum(p(l) * l) = p(1), int_score its rounded value
    train([str(tiny / "good.jsonl")], [str(tiny / "bad")], str(tmp_path / "edu.bin"),
          TrainParams(dim=16, bucket=10_000, epoch=25, label="1", negative_label="0"))
    stage = FastTextClassifier(str(tmp_path / "edu.bin"), integer_scores=True, threshold=1)
    high, low = Document(text=GOOD[1], id="h"), Document(text=BAD[1], id="l")
    assert stage.filter(high) is None and stage.filter(low) == "below_threshold"
    assert high.metadata["fasttext_classifier__int_score"] == 1 and low.metadata["fasttext_classifier__int_score"] == 0
    assert 0.5 < high.metadata["fasttext_classifier__score"] <= 1.0
    assert high.metadata["fasttext_classifier__score"] == pytest.approx(stage.model.predict(normalize(GOOD[1]), k=-1)[1][
        list(stage.model.predict(normalize(GOOD[1]), k=-1)[0]).index("__label__1")], abs=1e-4)


def test_top_percent_keeps_the_best_scoring_share_via_a_first_pass(tiny, tmp_path):
    from curate.core.config import load_recipe
    from curate.pipelines.runner import run
    from curate.tools.stats import query

    model = tmp_path / "m.bin"
    train([str(tiny / "good.jsonl")], [str(tiny / "bad")], str(model), TrainParams(dim=16, bucket=10_000, epoch=25))
    docs = tmp_path / "docs.jsonl"
    texts = GOOD + BAD + [GOOD[0] + " " + BAD[1], BAD[2] + " " + GOOD[1]]
    docs.write_text("\n".join(json.dumps({"id": str(i), "text": t}) for i, t in enumerate(texts)) + "\n")
    recipe = write_recipe(tmp_path, f"input: [{docs}]\noutput: {tmp_path / 'out'}\nexecutor: {{tasks: 2}}\n"
                                    f"stages:\n  - fasttext_classifier: {{model: {model}, top_percent: 25}}\n")
    run(load_recipe(recipe), progress=False)
    _, rows = query(str(tmp_path / "out"), "SELECT id, fasttext_classifier__score, reason FROM decisions ORDER BY 2 DESC")
    assert len(rows) == 8 and [r[2] is None for r in rows] == [True, True] + [False] * 6
    threshold = json.loads((tmp_path / "out/classifier/fasttext_classifier/threshold.json").read_text())
    assert threshold["scores"] == 8 and threshold["threshold"] == rows[1][1]


@pytest.fixture(scope="module")
def quality_data(shared, lid_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    return write_texts(positive_texts(shared), root / "pos"), write_texts(negative_texts(shared, lid_model), root / "neg")


QUALITY = TrainParams(chunk_words=200, max_per_class=2000, dim=32, bucket=100_000, epoch=5, seed=0)


def test_quality_classifier_on_real_data_reaches_auc_0_9_and_is_deterministic(quality_data, tmp_path):
    pos, neg = quality_data
    first = train([str(pos)], [str(neg)], str(tmp_path / "a.bin"), QUALITY)
    print(f"\nquality classifier: counts {first.counts} metrics {first.metrics}")
    assert first.metrics["auc"] >= 0.9
    assert first.counts["positive_train"] == first.counts["negative_train"] == 1800
    # lengths are comparable: length alone ranks the classes far worse than the classifier
    assert abs(first.metrics["length_only_auc"] - 0.5) < abs(first.metrics["auc"] - 0.5) - 0.15
    second = train([str(pos)], [str(neg)], str(tmp_path / "b.bin"), QUALITY)
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    assert second.metrics == first.metrics
    stage_a = FastTextClassifier(str(tmp_path / "a.bin"))
    stage_b = FastTextClassifier(str(tmp_path / "b.bin"))
    texts = [(pos / "00000.txt").read_text()[:3000], (neg / "00000.txt").read_text()[:3000]]
    assert [stage_a.score(t) for t in texts] == [stage_b.score(t) for t in texts]
    other = train([str(pos)], [str(neg)], str(tmp_path / "c.bin"), TrainParams(**{**QUALITY.__dict__, "seed": 1}))
    assert (tmp_path / "c.bin").read_bytes() != (tmp_path / "a.bin").read_bytes()
    assert other.metrics["auc"] >= 0.9


@pytest.mark.parametrize("tokens, vocab", [(2_000, 500), (19_655, 3_000), (5_000_000, 200_000), (10**9, 2_000_000)])
def test_default_size_fits_the_data(tokens, vocab):
    from curate.tools.classifier import MAX_MODEL_BYTES, model_bytes, sized

    params, notes = sized(TrainParams(), tokens, vocab)
    assert params.dim <= (64 if tokens <= 100_000_000 else 100) and params.bucket <= max(2 * tokens, 2**14)
    size = model_bytes(vocab, params.bucket, params.dim)
    assert params.quantize == (size > MAX_MODEL_BYTES) and notes
    assert size <= MAX_MODEL_BYTES or params.bucket == 2**14  # only a vocabulary that large needs quantizing
    # values given are kept
    given, _ = sized(TrainParams(dim=100, bucket=2_000_000, quantize=False), tokens, vocab)
    assert (given.dim, given.bucket, given.quantize) == (100, 2_000_000, False)


def test_readme_flags_give_a_small_model_and_a_complete_card(shared, sample_crawl, tmp_path):
    """README: `curate train-classifier --positive good/ --negative out/cc/documents --output
    models/quality.bin --chunk-words 300 --quantize` (good/: a Gutenberg book), without size options;
    fastText's defaults made an 803 MB model of it (103 MB quantized)."""
    good = tmp_path / "good"
    good.mkdir()
    (good / "book.txt").symlink_to(shared / "clean_text" / "gutenberg" / "pg9198_complete_angler.txt")
    run = CliRunner().invoke(main, ["run", str(REPO / "pipelines" / "fineweb.yaml"), "--input", str(sample_crawl),
                                    "--output", str(tmp_path / "cc"), "--no-progress"])
    assert run.exit_code == 0, run.output
    for extra in (["--quantize"], []):
        model = tmp_path / "models" / f"quality{len(extra)}.bin"
        out = CliRunner().invoke(main, ["train-classifier", "--positive", str(good), "--negative",
                                        str(tmp_path / "cc" / "documents"), "--output", str(model),
                                        "--chunk-words", "300", *extra])
        assert out.exit_code == 0, out.output
        size = model.stat().st_size
        assert size < 20 * 2**20
        assert f"({size / 2**20:.2f} MB;" in out.output  # the size is printed
        for phase in ("reading: ", "training: ", "evaluating: "):
            assert phase in out.output
        card = json.loads(model.with_name(model.stem + ".card.json").read_text())
        assert card["fasttext_version"].startswith("fasttext") and card["fasttext_version"].split()[-1][0].isdigit()
        assert card["model_bytes"] == size and card["params"]["dim"] <= 64 and card["params"]["quantize"] == bool(extra)
