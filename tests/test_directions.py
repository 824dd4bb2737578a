"""Declared keep directions (`curate.core.step.Signal`) agree with what each filter decides.

The demo recipe (pipelines/fineweb.yaml) runs in annotate mode on the sample crawl, with every
other stage that declares a direction appended (length, nsfw_words, fasttext_classifier, MinHash
and exact dedup), so every filter judges every document and records why it would drop it. For
each declared signal, with the recipe's threshold read back from the run's config.resolved.yaml
(`curate.tools.sweep.declarations`, the path `sweep` and the report take): every document the
stage keeps lies on the keep side, and every document it drops for that signal's reason on the
other. A declaration flipped the other way fails the same check, wherever the data can tell.
"""

from __future__ import annotations

import dataclasses
import inspect

import duckdb
import pytest
import yaml

from curate.core import registry
from curate.core.config import load_recipe
from curate.core.step import Signal
from curate.pipelines import runner
from curate.tools import sweep
from tests.conftest import REPO

EXTRA_STAGES = [  # thresholds inside the sample's range, so both sides of each rule are populated
    {"length": {"min_chars": 500, "max_chars": 5000, "min_words": 100, "max_words": 800}},
    {"nsfw_words": {"max_per_1k": 0.5}},
    {"minhash": {}},
    {"exact_dedup": {}},
    {"url_dedup": {}},
]


def directed() -> list[tuple[str, str]]:
    """(stage, column) of every signal a registered filter declares a keep direction for."""
    found = []
    for spec in registry.STAGES:
        if spec.kind == "filter" and spec.version == registry.get(spec.name).version:
            found += [(spec.name, column) for column, s in spec.load().declared().items() if s.keep]
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory, sample_crawl, lid_model, shared):
    """pipelines/fineweb.yaml in annotate mode on the sample crawl, plus the other directed stages."""
    out = tmp_path_factory.mktemp("directions") / "ann"
    recipe = yaml.safe_load((REPO / "pipelines" / "fineweb.yaml").read_text())
    recipe.update({"mode": "annotate", "input": [str(sample_crawl)], "output": str(out)})
    classifier = {"fasttext_classifier": {"model": lid_model, "label": "en", "threshold": 0.9, "normalize": False}}
    recipe["stages"] += [classifier, *EXTRA_STAGES]
    runner.run(load_recipe(text=yaml.safe_dump(recipe)), progress=False)
    return out, sweep.declarations(out)


def rows(out, d: sweep.Declared) -> list[tuple]:
    """(value, the stage's would-drop reason, language) of every record with a value."""
    return duckdb.sql(f'SELECT "{d.column}", "{d.reason_column}", language FROM \'{out}/decisions/*.parquet\' '
                      f'WHERE "{d.column}" IS NOT NULL').fetchall()


def disagreements(records: list[tuple], d: sweep.Declared, signal: Signal, params: dict | None = None) -> list[str]:
    """Where the stage's decisions contradict `signal` (the bounds from `params`, else the run's)."""
    low, high = signal.bounds(params) if params is not None else d.bounds
    ours = {f"{d.namespace}:{reason}" for reason in signal.reasons}
    problems = []
    if signal.threshold is None:  # a direction without a threshold: every drop on the non-keep side of every keep
        kept = [v for v, reason, _ in records if reason is None]
        dropped = [v for v, reason, _ in records if reason in ours]
        if kept and dropped and not (max(dropped) < min(kept) if signal.keep == "higher" else min(dropped) > max(kept)):
            problems.append(f"dropped {sorted(set(dropped))} vs kept {sorted(set(kept))}")
        return problems
    for value, reason, language in records:
        if language in signal.exempt_languages:
            continue
        keeps = (low is None or value >= low) and (high is None or value <= high)
        if reason is None and not keeps:
            problems.append(f"kept with {value} outside [{low}, {high}]")
        elif reason in ours and keeps:
            problems.append(f"dropped ({reason}) with {value} inside [{low}, {high}]")
    return problems


def flipped(signal: Signal) -> Signal:
    """The declaration a careless edit would make: the other side, or a two-sided rule's bounds swapped."""
    if signal.keep == "within":
        return dataclasses.replace(signal, threshold=signal.threshold[::-1])
    return dataclasses.replace(signal, keep="lower" if signal.keep == "higher" else "higher")


def params_of(out, stage: str) -> dict:
    config = yaml.safe_load((out / "config.resolved.yaml").read_text())
    return next(params for entry in config["stages"] for name, params in entry.items() if name == stage)


@pytest.mark.parametrize("stage, column", directed(), ids=[c for _, c in directed()])
def test_the_declared_direction_agrees_with_the_filters_own_decisions(demo, stage, column):
    out, declared = demo
    assert column in declared, f"{stage} is not in the demo recipe: add it to EXTRA_STAGES"
    d = declared[column]
    records = rows(out, d)
    if column != "fasttext_classifier__int_score":  # recorded only with integer_scores
        assert records, f"no record has {column}"
    assert disagreements(records, d, d.signal) == []
    if d.signal.threshold is not None:
        assert d.bounds != (None, None), f"{column}: the demo recipe leaves its rule switched off"
        # the data can tell a flip where some kept value lies strictly inside the keep side
        can_tell = any(reason is None and value not in d.bounds and language not in d.signal.exempt_languages
                       for value, reason, language in records)
    else:  # where the stage dropped something for this signal's reason
        can_tell = any(reason is not None for _, reason, _ in records)
    if can_tell:
        assert disagreements(records, d, flipped(d.signal), params_of(out, d.stage)), f"{column}: a flip went unnoticed"


def test_the_issues_two_backwards_signals_are_declared_the_right_way_and_a_flip_fails(demo):
    out, declared = demo
    for column, keep, bounds in (("gopher_quality__mean_word_length", "within", (3, 10)),
                                 ("gopher_quality__bullet_lines_ratio", "lower", (None, 0.9))):
        d = declared[column]
        assert (d.signal.keep, d.bounds) == (keep, bounds)
        records = rows(out, d)
        assert disagreements(records, d, d.signal) == []
        assert disagreements(records, d, flipped(d.signal), params_of(out, d.stage))
    # sweep reads the declaration: `<=` for the bullet-line ratio, and asks which bound of a two-sided rule
    assert sweep.sweep(out, "bullet_lines_ratio").keep == "<="
    assert sweep.sweep(out, "line_punct_ratio").keep == ">="
    with pytest.raises(ValueError, match=r"within \[3, 10\].*'>='.*'<='"):
        sweep.sweep(out, "gopher_quality__mean_word_length")
    with pytest.raises(ValueError, match="descriptive"):
        sweep.sweep(out, "gopher_quality__n_words")
    assert not hasattr(sweep, "infer_keep")  # nothing guesses from medians any more


def test_every_filter_declares_each_signal_with_real_parameters_and_reasons():
    for spec in registry.STAGES:
        cls = spec.load()
        if spec.kind != "filter":
            continue
        source = "".join(inspect.getsource(inspect.getmodule(c)) for c in cls.__mro__ if c.__module__.startswith("curate."))
        reasons = set(getattr(cls, "datatrove_reasons", {}).values())  # the stage's own names for datatrove's
        accepted = set(inspect.signature(cls.__init__).parameters)
        for name, declared in cls.signals.items():
            assert isinstance(declared, Signal), f"{spec.versioned}.{name}: declare a Signal (keep=None if descriptive)"
        for column, s in cls.declared().items():
            thresholds = s.threshold if isinstance(s.threshold, tuple) else (s.threshold,)
            for param in filter(None, thresholds):
                assert param.partition("[")[0] in accepted, f"{column}: no parameter {param!r}"
            for reason in s.reasons:
                assert reason in reasons or f'"{reason}"' in source, f"{column}: {reason!r} is not a reason of the stage"


def test_signal_bounds_read_the_parameters():
    gopher = registry.get("gopher_quality").load().signals
    assert gopher["mean_word_length"].bounds({"min_avg_word_length": 3, "max_avg_word_length": 10}) == (3, 10)
    assert gopher["hash_ratio"].bounds({"max_symbol_word_ratio": 0}) == (None, None)  # 0 switches the rule off
    repetition = registry.get("gopher_repetition").load().signals
    assert repetition["top_3_gram_char_frac"].bounds({"top_n_grams": None}) == (None, 0.18)  # the stage's default
    assert repetition["top_3_gram_char_frac"].bounds({"top_n_grams": [[2, 0.5], [3, 0.25]]}) == (None, 0.25)
    assert repetition["dup_5_gram_char_frac"].bounds({"dup_n_grams": [[6, 0.1]]}) == (None, None)  # no 5-gram rule
    assert Signal("int64").bounds({"x": 1}) == (None, None)
    with pytest.raises(ValueError, match="keep must be"):
        Signal("int64", keep="up")
    with pytest.raises(ValueError, match="within"):
        Signal("int64", keep="within", threshold="x")
    with pytest.raises(ValueError, match="descriptive"):
        Signal("int64", threshold="x")
    fasttext = registry.get("fasttext_lang").load()
    assert fasttext.declared()["language_score"].keep == "higher" and "fasttext_lang__language_score" not in (
        registry.get("fasttext_lang").columns())  # a core column: declared for its direction, not written twice
