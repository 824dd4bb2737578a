"""The `classify` stage: top label, score and top-k labels as signals, one namespace per classifier."""

import pytest
from datatrove.data import Document

from curate.core.config import load_recipe
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
