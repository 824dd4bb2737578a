"""Signals: every stage records only what it declares, under its registry name, and a recipe that
reads a signal (a keep rule, a sweep, an ablation `where:`) is checked against the declared ones.

The decision writer writes the declared columns and nothing else, so a signal a stage records but
does not declare vanishes without a word; the run test below is what catches it.
"""

import inspect
import json
import re
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from curate.cli import main
from curate.core import registry
from curate.core.config import RecipeError, load_recipe
from curate.core.step import DROP_REASON, DROP_STAGE, DeclaresSignals
from curate.io.readers import JsonlReader, WarcReader
from curate.io.writers import DECISION_COLUMNS
from curate.pipelines import runner
from curate.pipelines.multipass import chain_prepasses
from curate.pipelines.runner import build_stages
from curate.tools import sweep

PROCESSING = [s for s in registry.STAGES if s.kind not in ("reader", "writer")]
BASE_KEYS = {*DECISION_COLUMNS, DROP_STAGE, DROP_REASON}  # what the writer reads besides signals
PII = ("Write to john.doe@example.org or jane@mail.example.co.uk, or reach the server at 8.8.8.8 and "
       "2001:4860:4860::8888. Call (415) 555-0132 after nine.")
GERMAN = ("Der schnelle braune Fuchs springt über den faulen Hund. Die Stadt liegt an einem Fluss, und ihre "
          "Brücken sind älter als die meisten Häuser. Im Winter friert das Wasser selten zu.")


# ---- every stage, run: what it records is what it declares ------------------------------------

@pytest.mark.parametrize("spec", registry.STAGES, ids=lambda s: s.versioned)
def test_the_namespace_is_the_registry_name(spec):
    """A keep rule's `stage.signal` must read what `stage` records. The declared exceptions are the
    shared namespaces of the readers (`read`) and of the extractors (`extract`): a pipeline has one
    of each, and the decision table's columns are the same whichever it is."""
    cls = spec.load()
    if issubclass(cls, DeclaresSignals):
        assert cls.namespace == spec.namespace, f"{spec.versioned}: namespace {cls.namespace!r}"
    if registry.get(spec.name) is spec:  # the latest version
        shared = {"read": "reader", "extract": "extract"}
        assert spec.namespace == spec.name or shared.get(spec.namespace) == spec.kind, spec


def test_an_old_version_keeps_its_columns():
    assert registry.get("pii_mask").versioned == "pii_mask@2"
    assert set(registry.get("pii_mask@2").columns()) == {"pii_mask__n_emails", "pii_mask__n_ips", "pii_mask__n_phones"}
    assert set(registry.get("pii_mask@1").columns()) == {"pii__n_emails", "pii__n_ips", "pii__n_phones"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, sample_crawl) -> Path:
    """The sample crawl's pages as text, plus documents that make every stage record something:
    two copies and a near copy of a page (dedup), emails, IPs and a phone number, German text."""
    from curate.filters.combined_extract import CombinedExtract

    reader = WarcReader(str(sample_crawl.parent), glob_pattern=sample_crawl.name)
    pages = [d.text for d in CombinedExtract().run(reader.run())][:12]
    assert len(pages) == 12, "the sample crawl has fewer extracted pages than it should"
    docs = {**{f"page{i}": text for i, text in enumerate(pages)}, "copy1": pages[0], "copy2": pages[0],
            "near": pages[0].replace(" the ", " a ", 1), "pii": PII, "german": GERMAN, "short": "short"}
    folder = tmp_path_factory.mktemp("corpus")
    with open(folder / "docs.jsonl", "w") as f:
        for i, (name, text) in enumerate(docs.items()):
            f.write(json.dumps({"id": name, "text": text, "url": f"https://example.org/{i}"}) + "\n")
    return folder


class Keys(PipelineStep):
    """Pass documents on; write each one's metadata keys to `path` (JSON: id -> keys)."""

    name = "keys"

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def run(self, data, rank: int = 0, world_size: int = 1):
        seen = {}
        for doc in data:
            seen[doc.id] = sorted(doc.metadata)
            yield doc
        Path(self.path).write_text(json.dumps(seen))


def run_with_passes(step, reader, work: Path) -> tuple[dict, dict]:
    """Run `step` after `reader`, its own passes first (dedup) as the runner chains them; return
    every document's metadata keys before and after the step."""
    def executor(steps, tasks, logging_dir, depends, name):
        return LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=1, logging_dir=logging_dir, depends=depends)

    before, after = work / "before.json", work / "after.json"
    depends, main_pipeline = chain_prepasses([reader, Keys(str(before)), step], executor, str(work), tasks=1)
    executor([*main_pipeline, Keys(str(after))], 1, str(work / "logs"), depends, "main").run()
    return json.loads(before.read_text()), json.loads(after.read_text())


def example_recipe(spec) -> str:
    example = re.search(r"Example: `(.+?)`", inspect.getdoc(spec.load()), re.S).group(1)
    return yaml.safe_dump({"mode": "annotate", "input": ["x"], "stages": yaml.safe_load(example)})


@pytest.mark.parametrize("spec", PROCESSING, ids=lambda s: s.versioned)
def test_every_stage_records_only_declared_signals(spec, corpus, sample_crawl, tmp_path, request, monkeypatch):
    text = example_recipe(spec)
    overrides = []
    # fasttext_lang needs lid.176; c4_badwords' default LDNOOBW lists are shared data too
    if "CURATE_SHARED_DATA" in text or spec.name in ("fasttext_lang", "c4_badwords"):
        monkeypatch.setenv("CURATE_SHARED_DATA", str(request.getfixturevalue("shared")))
    if spec.name == "fasttext_lang":
        overrides.append(f"stages.fasttext_lang.model={request.getfixturevalue('lid_model')}")
    (step,) = build_stages(load_recipe(text=text, overrides=overrides))
    if spec.kind == "extract":
        reader = WarcReader(str(sample_crawl.parent), glob_pattern=sample_crawl.name)
    else:
        reader = JsonlReader(str(corpus), glob_pattern="docs.jsonl")
    before, after = run_with_passes(step, reader, tmp_path)
    (params,) = [next(iter(stage.values())) or {} for stage in yaml.safe_load(text)["stages"]]
    declared = set(spec.columns(params))  # a stage may take its namespace from its parameters (classify's name)
    namespace = spec.load().namespace_for(params)
    recorded = {key for doc, keys in after.items() for key in set(keys) - set(before[doc])}
    assert recorded - declared - BASE_KEYS == set(), f"{spec.versioned} records undeclared signals"
    assert recorded & declared, f"{spec.versioned} recorded none of its signals on {len(after)} documents"
    assert all(k.startswith(namespace + "__") for k in recorded - BASE_KEYS)


def test_readers_record_only_declared_signals(sample_crawl, corpus):
    warc = WarcReader(str(sample_crawl.parent), glob_pattern=sample_crawl.name)
    recorded = {k for doc in warc.run() for k in doc.metadata if "__" in k} - BASE_KEYS
    assert recorded and recorded <= set(registry.get("warc_reader").columns())
    jsonl = JsonlReader(str(corpus), glob_pattern="docs.jsonl")
    assert {k for doc in jsonl.run() for k in doc.metadata if "__" in k} <= set(registry.get("jsonl_reader").columns())
    assert recorded <= set(registry.reader_columns())


# ---- a keep rule over pii_mask's signals, end to end ------------------------------------------

RUN = """\
name: pii_rule
mode: annotate
input: [{input}]
output: {output}
stages:
  - gopher_quality: {{}}
  - pii_mask: {{}}
  - expression: {{keep: "pii_mask.n_emails < 1 and gopher_quality.n_words > 0"}}
"""


@pytest.fixture(scope="module")
def pii_run(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pii_run") / "out"
    path = corpus / "run.yaml"
    path.write_text(RUN.format(input=corpus / "docs.jsonl", output=out))
    runner.run(load_recipe(path), progress=False)
    return out


def test_a_rule_over_pii_mask_reads_what_pii_mask_recorded(pii_run):
    """The bug this namespace fixed: pii_mask recorded `pii__*`, so `pii_mask.n_emails < 1` was
    false for every document and the rule would have dropped them all."""
    rows = duckdb.sql(f"SELECT id, pii_mask__n_emails, expression__reason FROM '{pii_run}/decisions/*.parquet'"
                      ).fetchall()
    with_email = {i for i, n, _ in rows if n}
    assert "pii" in with_email and len(with_email) < len(rows) / 4  # the planted one, and a page or two
    assert {i for i, _, reason in rows if reason} == with_email


# ---- checked when a recipe loads ------------------------------------------------------------

RULE = """\
name: r
input: [x]
stages:
  - gopher_quality: {}
  - PII: {}
  - expression:
      keep: "RULE"
"""


@pytest.mark.parametrize("pii, rule, error", [
    ("pii_mask", "pii_mask.n_emails < 5 and gopher_quality.n_words > 50", None),
    ("pii_mask@1", "pii.n_emails < 5", None),  # an old recipe, pinned, with the old columns
    ("pii_mask", "source == 'books' and language_score > 0.5", None),  # an input field, a plain key
    ("pii_mask@1", "pii_mask.n_emails < 5", r"unknown signal 'pii_mask\.n_emails' \(did you mean 'pii\.n_emails'\?\)"),
    ("pii_mask", "pii.n_emails < 5", r"unknown signal 'pii\.n_emails' \(did you mean 'pii_mask\.n_emails'\?\)"),
    ("pii_mask", "gopher_quality.n_word > 50", r"did you mean 'gopher_quality\.n_words'"),
    ("pii_mask", "n_emails < 5", r"'n_emails' is not recorded under that name; did you mean 'pii_mask\.n_emails'"),
    ("pii_mask", "language_scor > 0.5", r"did you mean 'language_score'"),
    ("pii_mask", "fineweb_quality.short_line_ratio < 0.5", r"no stage before the rule records it"),
    ("pii_mask", "gopher_quality.n_words >", r"rule ends too early"),
])
def test_expression_rules_are_checked_at_load(tmp_path, pii, rule, error):
    path = tmp_path / "r.yaml"
    path.write_text(RULE.replace("PII", pii).replace("RULE", rule))
    if error is None:
        assert [s.name for s in load_recipe(path).stages][-1] == "expression@1"
        return
    with pytest.raises(RecipeError, match=r"r\.yaml:7: expression\.keep: .*" + error):
        load_recipe(path)


def test_a_rule_reads_only_stages_above_it(tmp_path):
    text = "input: [x]\nstages:\n  - expression: {keep: 'gopher_quality.n_words > 50'}\n  - gopher_quality\n"
    with pytest.raises(RecipeError, match=r"<recipe>:3: .*no stage before the rule records it"):
        load_recipe(text=text)
    recipe = load_recipe(text=text, overrides=["stages.expression.keep=read.http_status == 200"])
    assert recipe.stages[0].params["keep"] == "read.http_status == 200"  # the readers come first
    with pytest.raises(RecipeError, match=r"override stages\.expression\.keep=.*did you mean 'extract\.html_chars'"):
        load_recipe(text="input: [x]\nstages:\n  - extract\n  - expression: {keep: 'x > 1'}\n",
                    overrides=["stages.expression.keep=extract.html_char > 1"])


def test_a_sweep_names_the_closest_signal(pii_run):
    with pytest.raises(ValueError, match=r"no numeric signal column 'pii_mask__n_email'; did you mean 'pii_mask__n_emails'"):
        sweep.sweep(pii_run, "pii_mask__n_email")
    with pytest.raises(ValueError, match=r"did you mean 'gopher_quality__mean_word_length'"):
        sweep.joint(pii_run, ["gopher_quality.mean_word_lenght>=3"])
    result = CliRunner().invoke(main, ["sweep", str(pii_run), "n_email"])
    assert result.exit_code == 1 and "did you mean 'pii_mask__n_emails'" in result.output
    (row,) = sweep.sweep(pii_run, "pii_mask.n_emails", [0], keep="<=").rows
    assert row[1] == duckdb.sql(f"SELECT count(*) FROM '{pii_run}/decisions/*.parquet' "
                                "WHERE pii_mask__n_emails = 0").fetchall()[0][0]


ABLATION = """\
baseline: {name: base, input: [x]}
variants:
  - {name: fine, where: "pii_mask__n_emails = 0 AND pii__n_ips = 0 AND reason IS NULL AND stage <> 'a__b'"}
  - name: typo
    where: >-
      gopher_quality__reason IS NULL
      AND "gopher_quality__n_word" >= 200
"""


def test_an_ablation_where_clause_is_checked_at_load(tmp_path):
    from curate.ablation.run import load_config

    path = tmp_path / "abl.yaml"
    path.write_text(ABLATION.split("  - name: typo")[0])
    assert load_config(path)["variants"][0]["name"] == "fine"  # new and old pii columns, a string literal
    path.write_text(ABLATION)
    message = (r"abl\.yaml:5: variant 'typo': `where:` names 'gopher_quality__n_word', which no registered stage "
               r"records \(did you mean 'gopher_quality__n_words'\?\)")
    with pytest.raises(RecipeError, match=message):
        load_config(path)
    result = CliRunner().invoke(main, ["ablate", str(path)])
    assert result.exit_code == 1 and "did you mean 'gopher_quality__n_words'" in result.output
