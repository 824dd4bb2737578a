"""The `classify` stage: top label, score and top-k labels as signals, one namespace per classifier."""

import pytest
from datatrove.data import Document

from curate.core.config import load_recipe
from curate.core.text import normalize
from curate.filters.classify import Classify
from curate.pipelines.runner import run
from curate.tools.classifier_multi import LabelParams, train_labels
from curate.tools.stats import query
from tests.conftest import write_recipe
from tests.labelled_data import single_topic, write_jsonl


@pytest.fixture(scope="module")
def topic_model(shared, tmp_path_factory) -> str:
    """A small topic classifier trained on real Reuters stories (6 topics, 60 stories each)."""
    root = tmp_path_factory.mktemp("topic")
    train = write_jsonl(single_topic(shared, "train", 60), root / "train.jsonl")
    result = train_labels([str(train)], str(root / "topic.bin"),
                          LabelParams(label_field="topic", tune=False, epoch=25, dim=16, validation=0.2))
    return result.model


def test_records_top_label_score_and_top_k(topic_model, shared):
    stage = Classify(topic_model, name="topic", k=2)
    story = next(r for r in single_topic(shared, "test", 20) if r["topic"] == "crude")
    doc = Document(text=story["text"], id="x")
    assert stage.process(doc) is None  # never drops
    meta = doc.metadata
    ranked = stage.predict(story["text"])
    assert meta["topic__label"] == ranked[0][0] == meta["topic__top_labels"][0]
    assert meta["topic__score"] == meta["topic__top_scores"][0] == ranked[0][1]
    assert len(meta["topic__top_labels"]) == 2 and meta["topic__top_scores"][0] >= meta["topic__top_scores"][1]
    assert meta["topic__value"] is None  # topic labels are not grades
    assert set(meta["topic__top_labels"]) <= set(stage.labels)


@pytest.mark.parametrize("params, message", [
    ({"name": "Topic"}, "lowercase"), ({"name": "language"}, "decision-table column"),
    ({"name": "t", "k": 0}, "k must be"), ({"name": "t", "model": "missing.bin"}, "not found")])
def test_bad_parameters_fail_at_build(topic_model, params, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        Classify(**{"model": topic_model, **params})


def test_graded_model_records_the_expected_grade(shared, tmp_path):
    rows = single_topic(shared, "train", 40)
    grade = {"earn": 0, "acq": 1, "crude": 2, "trade": 3, "money-fx": 4, "grain": 5}  # any ordinal labels
    write_jsonl([{**r, "grade": grade[r["topic"]]} for r in rows], tmp_path / "g.jsonl")
    model = train_labels([str(tmp_path / "g.jsonl")], str(tmp_path / "g.bin"),
                         LabelParams(label_field="grade", kind="graded", tune=False, epoch=25, dim=16)).model
    stage = Classify(model, name="edu", k=6)
    doc = Document(text=rows[0]["text"], id="x")
    stage.process(doc)
    probs = dict(zip(doc.metadata["edu__top_labels"], doc.metadata["edu__top_scores"]))
    assert doc.metadata["edu__value"] == pytest.approx(sum(int(g) * p for g, p in probs.items()) / sum(probs.values()))


def test_two_classifiers_in_one_recipe_give_two_sets_of_columns(topic_model, lid_model, shared, tmp_path):
    stories = single_topic(shared, "test", 10)
    docs = write_jsonl([{"id": r["id"], "text": r["text"]} for r in stories], tmp_path / "docs.jsonl")
    recipe = write_recipe(tmp_path, f"input: [{docs}]\noutput: {tmp_path / 'out'}\nstages:\n"
                                    f"  - classify: {{model: {topic_model}, name: topic, k: 2}}\n"
                                    f"  - classify: {{model: {lid_model}, name: lid, k: 3, normalize: false}}\n")
    run(load_recipe(recipe), progress=False)
    columns, rows = query(str(tmp_path / "out"), "SELECT id, topic__label, topic__score, topic__top_labels, "
                                                 "lid__label, lid__top_labels, reason FROM decisions ORDER BY id")
    assert len(rows) == len(stories) and all(r[-1] is None for r in rows)  # nothing dropped
    lid, text = Classify(lid_model, name="lid", normalize=False), {r["id"]: r["text"] for r in stories}
    assert all(r[4] == lid.predict(text[r[0]])[0][0] and len(r[5]) == 3 for r in rows)  # as scored outside a run
    assert sum(r[4] == "en" for r in rows) >= 0.7 * len(rows)  # short tables of figures read as other languages
    truth = {r["id"]: r["topic"] for r in stories}
    assert all(len(r[3]) == 2 and r[3][0] == r[1] and 0 < r[2] <= 1 for r in rows)
    assert sum(r[1] == truth[r[0]] for r in rows) >= 0.6 * len(rows)  # 6 topics: chance is 1/6
    kept, _ = query(str(tmp_path / "out"), "SELECT * FROM documents LIMIT 1")
    assert {"topic__label", "lid__label", "topic__top_scores", "lid__value"} <= set(kept)


def test_scores_raw_documents_with_the_input_transform_in_the_card(shared, tmp_path):
    """A model trained with `dedup` and `shape`: the stage, reading the card, labels raw documents
    as `fasttext_proba` labels the same documents read for training; without the card it would not
    see the shape tokens."""
    import shutil

    import numpy as np

    from curate.tools.classifier_multi import decide, fasttext_proba, load_labelled

    train = write_jsonl(single_topic(shared, "train", 40), tmp_path / "train.jsonl")
    test = write_jsonl(stories := single_topic(shared, "test", 15), tmp_path / "test.jsonl")
    params = LabelParams(label_field="topic", tune=False, epoch=25, dim=16, dedup=True, shape=True)
    result = train_labels([str(train)], str(tmp_path / "m.bin"), params, test=[str(test)])
    assert result.params["dedup"] and result.params["shape"]
    stage = Classify(result.model, name="topic", k=6)
    heldout = load_labelled([str(test)], params)
    proba = fasttext_proba(stage.model, heldout, result.classes, params)
    expected = [min(s) for s in decide(proba, result.classes, "multiclass")[0]]
    ranked = [dict(stage.predict(r["text"])) for r in stories]
    assert [max(r, key=r.get) for r in ranked] == expected
    assert np.allclose([[r[c] for c in result.classes] for r in ranked], proba, atol=1e-6)
    assert "shape:lines:" in stage.model_input(stories[0]["text"])
    shutil.copy(result.model, tmp_path / "bare.bin")  # no card beside it: normalised text only, as before
    assert Classify(str(tmp_path / "bare.bin"), name="topic").model_input(stories[0]["text"]).split() == \
        normalize(stories[0]["text"]).split()


def test_the_filter_stage_scores_a_graded_model_as_classify_does(shared, tmp_path):
    """`fasttext_classifier` with `integer_scores` (FineWeb-Edu's use of a graded model) reads the same
    card: its score is the `classify` stage's expected grade, shape tokens and dedup included."""
    from curate.filters.fasttext_classifier import FastTextClassifier

    rows = single_topic(shared, "train", 40)
    grade = {"earn": 0, "acq": 1, "crude": 2, "trade": 3, "money-fx": 4, "grain": 5}
    write_jsonl([{**r, "grade": grade[r["topic"]]} for r in rows], tmp_path / "g.jsonl")
    params = LabelParams(label_field="grade", kind="graded", tune=False, epoch=25, dim=16, dedup=True, shape=True)
    model = train_labels([str(tmp_path / "g.jsonl")], str(tmp_path / "g.bin"), params).model
    scorer, labeller = FastTextClassifier(model, integer_scores=True), Classify(model, name="edu", k=6)
    for row in rows[:10]:
        doc = Document(text=row["text"], id="x")
        labeller.process(doc)
        assert scorer.score(row["text"])[0] == pytest.approx(doc.metadata["edu__value"], abs=1e-9)
    assert scorer.input_params["shape"] and scorer.input_params["dedup"]
