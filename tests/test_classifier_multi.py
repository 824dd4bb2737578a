"""Multi-class, multi-label and graded classifiers with their held-out report and baselines."""

import json
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from curate.commands.classify import train_labels as train_labels_command
from curate.core.classifier_input import card_params, document_line, model_line, shape_tokens
from curate.core.text import normalize
from curate.tools import classifier_report as rep
from curate.tools.classifier_baselines import BowVectorizer, fit_bow
from curate.tools.classifier_data import Labelled, balanced, labels_of
from curate.tools.classifier_multi import LabelParams, decide, train_labels, trial_count
from tests.labelled_data import TOPICS, single_topic, topic_files, write_jsonl

# ---- the metrics ----------------------------------------------------------------------------------

def test_class_metrics_by_hand():
    truth = [{"a"}, {"a"}, {"b"}, {"b"}, {"c"}]
    pred = [{"a"}, {"b"}, {"b"}, {"b"}, {"a"}]
    m = rep.class_metrics(truth, pred, ["a", "b", "c"])
    assert m["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "tp": 1, "fp": 1, "fn": 1}
    assert m["per_class"]["b"]["f1"] == pytest.approx(0.8) and m["per_class"]["c"]["f1"] == 0.0
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3, abs=1e-4)
    assert m["micro_f1"] == pytest.approx(3 / 5) and m["accuracy"] == pytest.approx(3 / 5)


def test_macro_f1_averages_only_classes_with_held_out_support():
    m = rep.class_metrics([{"a"}, {"a"}], [{"a"}, {"z"}], ["a", "z"])
    assert m["classes_scored"] == 1 and m["macro_f1"] == pytest.approx(2 / 3, abs=1e-4)


def test_confusion_rows_are_truth():
    assert rep.confusion(["a", "a", "b"], ["a", "b", "b"], ["a", "b"]) == [[1, 1], [0, 1]]


def test_correlations_and_thresholds():
    truth, scores = [0, 1, 2, 3, 4, 5], [0.2, 0.9, 2.4, 2.6, 4.1, 4.4]
    g = rep.graded_metrics(truth, scores, [0, 1, 2, 3, 4, 5])
    assert g["spearman"] == pytest.approx(1.0) and g["pearson"] == pytest.approx(np.corrcoef(truth, scores)[0, 1], abs=1e-4)
    # rounded: 0, 1, 2, 3, 4, 4 -> at t=5 nothing is predicted >= 5: recall 0
    assert g["f1_at"]["3"]["f1"] == 1.0 and g["f1_at"]["5"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert set(g["f1_at"]) == {"1", "2", "3", "4", "5"}
    assert np.isnan(rep.graded_metrics([0, 1], [2.0, 2.0], [0, 1])["pearson"])  # a constant predictor


@pytest.mark.parametrize("value, kind, expected", [
    ("earn", "multiclass", ["earn"]), ("page type", "multiclass", ["page_type"]), (["a", "b"], "multilabel", ["a", "b"]),
    ("a, b", "multilabel", ["a", "b"]), (3.6, "graded", ["4"]), ("x", "graded", None), (None, "multiclass", None),
    (["a", "b"], "multiclass", None)])
def test_labels_of(value, kind, expected):
    assert labels_of(value, kind) == expected


def test_multilabel_decision_falls_back_to_the_top_label():
    sets, _ = decide(np.array([[0.9, 0.6, 0.1], [0.3, 0.2, 0.4]]), ["a", "b", "c"], "multilabel")
    assert sets == [{"a", "b"}, {"c"}]
    sets, scores = decide(np.array([[0.5, 0.5, 0.0]]), ["0", "1", "2"], "graded")
    assert scores[0] == pytest.approx(0.5) and sets == [{"0"}]  # round half to even


def test_bow_logistic_regression_learns_real_topics(shared):
    from curate.core.text import normalize

    train, test = single_topic(shared, "train", 40), single_topic(shared, "test", 15)
    classes = sorted(TOPICS)
    model = fit_bow([normalize(r["text"]) for r in train], [[r["topic"]] for r in train], classes, False, 1e-5, 0)
    pred, _ = decide(model.proba([normalize(r["text"]) for r in test]), classes, "multiclass")
    assert np.mean([p == {r["topic"]} for p, r in zip(pred, test)]) > 0.7  # chance: 1/6
    x = BowVectorizer().fit(["a b b", "c"]).transform(["b b a zzz"])
    assert x.indices[0] == 0 and np.linalg.norm(x.data[1:]) == pytest.approx(1.0)  # bias, then a unit row


def test_balanced_oversamples_rare_classes_and_leaves_multilabel_alone():
    data = Labelled(["a1", "a2", "a3", "a4", "b1", "c1", "c2"], [["a"]] * 4 + [["b"]] + [["c"]] * 2)
    out = balanced(data, 1.0, "multiclass")
    assert out.texts.count("b1") == 4 and out.texts.count("c1") == 2 and out.texts.count("a1") == 1
    assert Counter(lab[0] for lab in out.labels) == {"a": 4, "b": 4, "c": 4}
    assert balanced(data, 0.5, "multiclass").texts.count("b1") == 2  # round(4 ** 0.5)
    assert balanced(data, 0.0, "multiclass") is data and balanced(data, 1.0, "multilabel") is data
    shaped = Labelled(["a", "b"], [["x"], ["y"]], 0, ["shape:lines:1", "shape:lines:2"], 2.0)
    taken = shaped.take([1, 1, 0])  # the shape tokens follow their documents; their cost pro rata
    assert taken.shapes == ["shape:lines:2", "shape:lines:2", "shape:lines:1"] and taken.shape_s == pytest.approx(3.0)
    assert taken.lines(False) == ["", "", ""] and balanced(shaped, 1.0, "multiclass").shapes == shaped.shapes


def test_model_line_dedup_keeps_first_occurrences_and_leaves_shape_tokens_last():
    assert model_line("the cat\nthe  hat the", False) == "the cat the hat the"
    assert model_line("the cat\nthe  hat the", True) == "the cat hat"
    assert model_line("a b a", True, "shape:x:1 shape:y:1") == "a b shape:x:1 shape:y:1"


PRODUCT = "Blue Widget\n$5.99\n- in stock\n- ships in 2 days\nBuy now"
PROSE = ("The council met on Tuesday to discuss the new budget, which critics say is far too small for the city. "
         "Members argued for hours and voted to postpone the decision until next month. It was the third delay.")


def test_shape_tokens_read_the_layout_that_normalize_flattens():
    product, prose = (dict(t.rsplit(":", 1) for t in shape_tokens(x)) for x in (PRODUCT, PROSE))
    assert all(t.startswith("shape:") for t in shape_tokens(PRODUCT)) and len(product) == len(prose) == 14
    assert product["shape:lines"] == "2" and prose["shape:lines"] == "1"  # int(log2(5 + 1)), int(log2(1 + 1))
    assert product["shape:short"] == "4" and prose["shape:short"] == "0"  # 5 of 5 lines under 40 characters
    assert product["shape:bullet"] == "2" and product["shape:price"] == "1"  # 2 of 5, 1 of 5: quintiles 2 and 1
    assert prose["shape:end"] == "4" and prose["shape:long"] == "4" and product["shape:end"] == "0"
    assert product["shape:digit"] == "2" and prose["shape:digit"] == "0" and shape_tokens("\n \n")[0] == "shape:lines:0"
    # a normalised word can never be a shape token: normalize splits ':' off
    assert not set(shape_tokens(PRODUCT)) & set(normalize(" ".join(shape_tokens(PRODUCT))).split())


def test_document_line_is_normalize_then_dedup_then_shape(tmp_path):
    assert document_line(PRODUCT, {}) == normalize(PRODUCT)  # a model without a card: today's input
    assert document_line(PRODUCT, {"dedup": True, "shape": False}) == model_line(normalize(PRODUCT), True)
    assert document_line(PRODUCT, {"dedup": True, "shape": True}) == model_line(
        normalize(PRODUCT), True, " ".join(shape_tokens(PRODUCT)))
    model = tmp_path / "m.bin"
    assert card_params(model) is None
    (tmp_path / "m.card.json").write_text(json.dumps({"params": {"dedup": True, "shape": True}}))
    assert card_params(model) == {"dedup": True, "shape": True} and card_params(str(model)) == card_params(model)


def test_trial_count_skips_balance_and_loss_for_multilabel():
    grid = {"dedup": (False, True), "loss": ("softmax", "ova"), "balance": (0.0, 1.0), "lr": (0.5, 1.0)}
    assert trial_count(LabelParams(grid=grid)) == 2 + 1 + 1 + 1  # loss and lr start at softmax and 1.0
    assert trial_count(LabelParams(kind="multilabel", grid=grid)) == 2 + 1


# ---- training runs --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def topics(shared, tmp_path_factory):
    return topic_files(shared, tmp_path_factory.mktemp("topics"), train=50, test=20)


def test_multiclass_card_compares_fasttext_with_both_baselines(topics, tmp_path):
    result = train_labels([str(topics[0])], str(tmp_path / "t.bin"), LabelParams(label_field="topic", epoch=25, dim=16,
                          grid={"lr": (0.25, 1.0), "balance": (0.0, 1.0)}), test=[str(topics[1])])
    m = result.metrics
    assert set(m) == {"fasttext", "majority", "bow_logreg"} and result.classes == sorted(TOPICS)
    assert m["fasttext"]["macro_f1"] > m["majority"]["macro_f1"] + 0.3
    assert m["bow_logreg"]["macro_f1"] > m["majority"]["macro_f1"] + 0.3
    assert all(v["docs_per_s"] > 0 for v in m.values())
    cm = np.array(m["fasttext"]["confusion"])
    test = [json.loads(line) for line in topics[1].read_text().splitlines()]
    assert cm.shape == (6, 6) and cm.sum() == result.counts["heldout"] == len(test)
    assert cm.sum(axis=1).tolist() == [sum(r["topic"] == c for r in test) for c in result.classes]
    assert np.trace(cm) / cm.sum() == pytest.approx(m["fasttext"]["accuracy"], abs=1e-3)
    # 3 fastText trials (lr 0.25 and 1.0, then balance 1), chosen, 3 l2 x 2 balance for the regression
    assert len(result.tuning) == 3 + 1 + 6 and result.params["lr"] in (0.25, 1.0)
    assert m["bow_logreg"]["balance"] in (0.0, 1.0) and sum("balance 1.0: validation" in n for n in result.tuning) == 4
    card = (tmp_path / "t.card.md").read_text()
    assert "| majority |" in card and "| bow_logreg |" in card and "Confusion matrix" in card
    card_json = json.loads((tmp_path / "t.card.json").read_text())
    assert card_json["metrics"]["fasttext"]["per_class"]["crude"]["support"] == sum(r["topic"] == "crude" for r in test)


def test_multilabel_and_graded_runs(shared, tmp_path):
    rows = single_topic(shared, "train", 40)
    multi = [{**r, "topics": [r["topic"], "oil"] if r["topic"] == "crude" else [r["topic"]]} for r in rows]
    write_jsonl(multi, tmp_path / "m.jsonl")
    result = train_labels([str(tmp_path / "m.jsonl")], str(tmp_path / "m.bin"),
                          LabelParams(label_field="topics", kind="multilabel", tune=False, epoch=25, dim=16,
                                      dedup=True))
    assert "oil" in result.classes and "confusion" not in result.metrics["fasttext"]
    assert result.metrics["fasttext"]["per_class"]["oil"]["support"] == result.metrics["fasttext"]["per_class"]["crude"]["support"]
    grade = dict(zip(sorted(TOPICS), range(6)))
    write_jsonl([{**r, "grade": grade[r["topic"]]} for r in rows], tmp_path / "g.jsonl")
    result = train_labels([str(tmp_path / "g.jsonl")], str(tmp_path / "g.bin"),
                          LabelParams(label_field="grade", kind="graded", tune=False, epoch=25, dim=16))
    g = result.metrics["fasttext"]["graded"]
    assert result.classes == ["0", "1", "2", "3", "4", "5"] and g["spearman"] > 0.5 and set(g["f1_at"]) == set("12345")
    assert np.isnan(result.metrics["majority"]["graded"]["pearson"])


def test_cli_command_prints_the_comparison(topics, tmp_path):
    out = CliRunner().invoke(train_labels_command, [str(topics[0]), "--test", str(topics[1]), "--label-field", "topic",
                                                    "--no-tune", "--epoch", "25", "--output", str(tmp_path / "c.bin")])
    assert out.exit_code == 0, out.output
    assert "bow_logreg" in out.output and "majority" in out.output and (tmp_path / "c.card.md").is_file()
    bad = CliRunner().invoke(train_labels_command, [str(topics[0]), "--label-field", "nope", "--output", str(tmp_path / "d.bin")])
    assert bad.exit_code == 1 and "at least 2 labels in `nope`" in bad.output
