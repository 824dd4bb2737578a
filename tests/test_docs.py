"""Every shell command and Python block in README.md and docs/*.md runs, and the output they quote is real.

Commands run in documentation order in one scratch folder laid out like a checkout (links to the
repository's folders, `.venv`, `../shared/data`), so `curate stats out/ann` finds the run the block
above it made (tests/docs_blocks.py reads the blocks and runs them). A command with no rule below runs
as written, so a command added to the docs is tested the day it is added; one that cannot run here
(network, the suite itself, hours of work) has a rule with its reason in RULES. Placeholders the docs
use for the reader's own data (`corpus/`, `shards/`, `good/`, ...) are small real inputs (PLACEHOLDERS).
Python blocks run in a subprocess with a timeout; Python excerpts (with `...` lines) must match the
file they quote, line for line. FIGURES are the outputs the docs quote, compared with the real output
of the same command (timings aside); `.venv/bin/python -m tests.docs_blocks --update` pastes it.

Every recipe in pipelines/ is loaded and run by tests/test_recipes.py (checked here, not repeated).
"""

import re

import pytest

from tests import docs_blocks, docs_figures
from tests.conftest import REPO
from tests.docs_blocks import Block, Command, Rule
from tests.docs_figures import Figure
from tests.test_recipes import TINY

# ---- how documented commands run here: one rule per kind of command that cannot run as written ----
# (first match of skip/suite/help ends the list; requires/insert/append/cap apply in order)
RULES = [
    Rule(r"^curl ", "skip", "network: downloads a ~1 GB Common Crawl shard (the placeholder "
         "CC-MAIN-...warc.gz stands for it in the next command)"),
    Rule(r"s3://", "skip", "needs s3fs and network"),
    Rule(r"^curate annotate |out/ratings\.parquet", "skip", "needs your LLM endpoint (vLLM, llama.cpp, a hosted "
         "API) and the ratings it gives; tests/test_annotate.py runs annotate against a local OpenAI-compatible server "
         "it starts, and trains on its ratings"),
    Rule(r"^curate mix pipelines/mix_by_label\.yaml", "skip", "needs out/classified, a run labelled by two classify "
         "stages with your topic and quality models; tests/test_mix_labels.py::test_the_annealing_example_runs runs "
         "it on labelled Reuters stories"),
    Rule(r"^make test$", "skip", "the whole test suite, which this test is part of (CI runs `make test`)"),
    Rule(r"^make ", "insert", "install steps not remade (make -o): the test runs in the installed environment, "
         "and installing from scratch is CI's `make test`", ["-o", ".venv/bin/.demo", "-o", ".venv/bin/.test"]),
    Rule(r"-m pytest\b", "suite", "a run of this suite's own tests: checked to name existing tests; the suite runs them"),
    Rule(r"executor\.type=ray", "requires", "the Ray executor (pip install 'curate[ray]')", "ray"),
    Rule(r"^curate ablate |-m bench\.ablation", "requires", "the ablation trainer (pip install 'curate[ablation]')",
         "torch"),
    Rule(r"-m tests\.docs_blocks", "help", "this test's own updater: run, it would rewrite the docs under test; "
         "test_quoted_output_is_the_real_output makes the same comparison"),
    Rule(r"-m bench\.", "help", "a benchmark: minutes of timing (--quick: 10-50 s) whose figures are one "
         "machine's measurements; checked to start and to take the documented options"),
    Rule(r"--tasks \d", "cap", "at most 2 tasks: on 2 cores more only start processes (64 tasks: 20 s); "
         "sharding over more tasks is tests/test_minhash_pipeline.py's and tests/test_pipeline.py's", ("--tasks", 2)),
    Rule(r"--workers \d", "cap", "1 worker: each pool of workers spends ~4 s starting per pass "
         "(dedup: 4 passes); parallel workers are tests/test_pipeline.py's", ("--workers", 1)),
    Rule(r"^curate ablate ", "append", "sweeps take 2-60 min: 1 seed, a 2.5k-parameter model, 2,048 tokens "
         "(tests/test_recipes.py's TINY); tests/test_ablation.py runs the damage check at full size", TINY),
    Rule(r"^curate eval-extract (?!.*(--limit|--quick))", "append", "all 1,497 WCXB pages take 5 min: "
         "--limit, the documented quick run", ["--limit", "5"]),
    Rule(r"-m curate\.ablation\.realtext (?!.*--blog-limit)", "append", "the documented corpus (16,000 blog posts, "
         "3,738 gold texts) takes 3 min to build and annotate: 2,000 posts and 400 texts per gold archive; "
         "tests/test_ablation_real.py checks what the build writes", ["--blog-limit", "2000", "--gold-limit", "400"]),
    Rule(r"^curate eval-lang (?!.*--limit)", "append", "75 languages x 3,000 lines take minutes: "
         "--limit, the documented quick run", ["--limit", "20"]),
]

SAMPLE = REPO / "pipelines" / "sample" / "sample-crawl.warc.gz"
DOLMA = ["warc/dolma/cc_en_head-0091.jsonl.gz", "warc/dolma/cc_en_head-0174.jsonl.gz",
         "warc/dolma/provided_documents_000.json.gz", "near_dup/dolma/documents_000.json.gz"]
BOOKS = ["clean_text/gutenberg/pg9198_complete_angler.txt", "clean_text/gutenberg/pg972_devils_dictionary.txt",
         "clean_text/gutenberg/pg3261_news_from_nowhere.txt"]


def folder_of(*sources):
    """A placeholder folder of links: absolute paths, or paths under the shared data."""
    def build(path, shared):
        path.mkdir()
        for i, source in enumerate(sources):
            source = shared / source if isinstance(source, str) else source
            (path / f"{i}-{source.name}").symlink_to(source)
    return build


# ---- the docs' placeholders for the reader's own data, and what stands in for them ----------------
PLACEHOLDERS = {
    "CC-MAIN-...warc.gz": ("the sample crawl, 43 records", lambda path, shared: path.symlink_to(SAMPLE)),
    "crawl/": ("the sample crawl", folder_of(SAMPLE)),
    "shards/": ("two copies of the sample crawl", folder_of(SAMPLE, SAMPLE)),
    "corpus/": ("40 JSONL documents of dolma's test data, 9 of them exact duplicates", folder_of(*DOLMA)),
    "good/": ("a Gutenberg book", folder_of(BOOKS[0])),
    "POS/": ("three Gutenberg books", folder_of(*BOOKS)),
    "NEG/": ("the 40 web documents of corpus/", folder_of(*DOLMA)),
}

# ---- output the docs quote, checked against the same command's real output ----------------------
# train-labels on the 499 human-labelled documents: its macro-F1s, quoted in prose
LABELS = "curate train-labels ../shared/data/labelled/dclm_human_quality/majority_data.jsonl --output out/human.bin"
FIGURES = [
    Figure("make demo", "README.md", block="stage "),
    Figure("curate stats out/ann", "README.md", block="stage "),
    Figure("curate sweep out/ann fineweb_quality__line_punct_ratio --thresholds 0.12,0.3,0.5", "README.md",
           block="fineweb_quality__line_punct_ratio: "),
    Figure("curate mix pipelines/mix_example.yaml", "README.md", block="source "),
    Figure("make demo", "docs/QUALITY.md", inline=(r"its AUC is lower \((\d\.\d+)", r"held-out AUC (\d\.\d+)")),
    Figure("curate stats out/dedup-again --query reasons", "README.md", block="kind "),
    Figure("curate tokenize out/mix --output out/tokens --shard-tokens 100000", "README.md", block="source "),
    Figure(LABELS, "README.md", inline=(r"fastText's held-out macro-F1 is (\d\.\d+)", r"fasttext\s+(\d\.\d+)")),
    Figure(LABELS, "README.md", inline=(r"the regression's (\d\.\d+)", r"bow_logreg\s+(\d\.\d+)")),
    Figure(LABELS, "docs/QUALITY.md", inline=(r"reaches\s+held-out macro-F1 (\d\.\d+)", r"fasttext\s+(\d\.\d+)")),
]

ITEMS = docs_blocks.documented()
COMMANDS = [item for item in ITEMS if isinstance(item, Command)]
EXCERPTS = docs_blocks.excerpts()


@pytest.fixture(scope="module")
def session(tmp_path_factory, shared):
    return docs_blocks.Session(tmp_path_factory.mktemp("checkout"), shared, RULES, PLACEHOLDERS)


@pytest.mark.integration
@pytest.mark.parametrize("index", range(len(ITEMS)), ids=[item.id for item in ITEMS])
def test_documented_command_runs(session, index):
    outcome = session.outcome(index)
    if outcome.kind == "skipped":
        pytest.skip("; ".join(outcome.reasons))
    assert not outcome.problem, f"{ITEMS[index].id}: {outcome.report()}"


@pytest.mark.integration
@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f.id)
def test_quoted_output_is_the_real_output(session, figure):
    outcome = session.outcome(session.index(figure.command))
    if outcome.kind == "skipped":
        pytest.skip("; ".join(outcome.reasons))
    assert not outcome.problem, outcome.report()
    problem = docs_figures.figure_problem(figure, session, outcome.stdout)
    assert not problem, f"{problem}\n(`.venv/bin/python -m tests.docs_blocks --update` pastes the real output)"


@pytest.mark.parametrize("block", EXCERPTS, ids=lambda b: b.id)
def test_python_excerpt_matches_the_file_it_quotes(block):
    problem = docs_blocks.excerpt_problem(block)
    assert not problem, f"{block.id}: {problem}"


def test_the_docs_have_commands_python_and_excerpts():
    assert len(COMMANDS) > 30 and any(isinstance(i, Block) for i in ITEMS) and EXCERPTS
    assert [c.text for c in COMMANDS[:2]] == ["make demo", "make test"]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.pattern)
def test_every_rule_is_for_a_documented_command(rule):
    assert any(re.search(rule.pattern, c.text) for c in COMMANDS), f"no documented command matches {rule.pattern!r}"


@pytest.mark.parametrize("name", PLACEHOLDERS)
def test_every_placeholder_is_used_by_the_docs(name):
    texts = [c.text for c in COMMANDS] + ["\n".join(i.lines) for i in ITEMS if isinstance(i, Block)]
    assert any(name in text for text in texts), f"no documented command uses {name}"


def test_every_figure_names_a_documented_command_and_its_quote():
    commands = {c.text: c for c in reversed(COMMANDS)}  # the first of equal ones
    for figure in FIGURES:
        command = commands.get(docs_blocks.normal_command(figure.command))
        assert command, f"{figure.command!r} is not a documented command"
        if figure.block:
            assert command.doc == figure.doc and docs_figures.quoted_block(figure, command.line)
        else:
            assert re.search(figure.inline[0], (REPO / figure.doc).read_text()), figure.inline[0]


def test_commands_are_in_bash_blocks():
    """A command in an untagged block would be skipped silently: tag it ```bash."""
    from curate.cli import main

    looks_run = re.compile(rf"\s*(\.venv/bin/\S+|python3? -m \S+|make \w+|curate ({'|'.join(main.commands)}))(\s|$)")
    found = [f"{b.doc}:{b.line + 1 + n}: {line.strip()}" for doc in docs_blocks.docs() for b in docs_blocks.read_blocks(doc)
             if b.lang == "" for n, line in enumerate(b.lines) if looks_run.match(line)]
    assert not found, "commands outside ```bash blocks:\n" + "\n".join(found)


def test_commands_are_split_joined_and_planned():
    block = Block("x.md", 1, "bash", ("curate run r.yaml \\", "    --tasks 64 --workers 8   # all cores",
                                      "", "curl -O https://x/y.warc.gz"), "")
    run, curl = docs_blocks.split_commands(block)
    assert (run.line, run.text) == (2, "curate run r.yaml --tasks 64 --workers 8") and curl.line == 5
    assert docs_blocks.plan(run, RULES).argv == ["curate", "run", "r.yaml", "--tasks", "2", "--workers", "1"]
    assert docs_blocks.plan(curl, RULES).action == "skip"


def test_every_recipe_is_loaded_and_run_by_test_recipes():
    from tests import test_recipes

    assert set(test_recipes.RECIPES) == set((REPO / "pipelines").glob("*.yaml"))


def test_a_changed_figure_is_caught_and_a_changed_timing_is_not():
    block = Block("x.md", 1, "", ("stage  in", "read   43", "...", "", "43 records in, in 0.9 s: 46.7 docs/s, 0.13 MB/s"), "")
    printed = "Summary\nstage  in\nread   43\nextract 42\n\n43 records in, in 2.0 s: 21.5 docs/s, 0.06 MB/s\nOutputs:\n"
    assert docs_figures.block_problem(block, printed) is None
    assert docs_figures.block_problem(block, printed.replace("read   43", "read   44"))
    assert docs_figures.block_problem(block, printed.replace("43 records in", "44 records in"))
