"""`curate mix`: token shares, determinism and the epoch cap, on inline data and on real sources."""

import hashlib
import json
import re

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import main
from curate.core.config import load_recipe
from curate.pipelines import runner
from curate.tools.mix import MixError, load_mix, mix, select
from tests.conftest import REPO


def write_mix(tmp_path, text: str):
    path = tmp_path / "mix.yaml"
    path.write_text(text)
    return path


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shard_rows(out) -> list[tuple]:
    return duckdb.sql(f"SELECT source, id, epoch, tokens FROM '{out}/shards/*.parquet'").fetchall()


# ---- select: the document-level arithmetic ------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_select_lands_near_target_and_never_passes_the_limit(seed):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(50, 5000, size=300)
    total = int(tokens.sum())
    for target in (total // 3, total, int(2.37 * total)):
        index, epoch = select(tokens, target, limit=4 * total, rng=np.random.default_rng(seed))
        got = int(tokens[index].sum())
        assert abs(got - target) <= 0.001 * target, (target, got)
        assert np.bincount(index, minlength=len(tokens)).max() <= int(np.ceil(target / total))
        assert set(np.unique(epoch)) == set(range(int(np.ceil(target / total))))


def test_select_at_the_cap_takes_every_document_exactly_cap_times():
    tokens = np.array([10, 20, 30, 40])
    index, epoch = select(tokens, target=300, limit=300, rng=np.random.default_rng(0))
    assert np.bincount(index).tolist() == [3, 3, 3, 3] and epoch.max() == 2
    index, _ = select(tokens, target=999, limit=250, rng=np.random.default_rng(0))
    assert int(tokens[index].sum()) <= 250


# ---- inline sources -------------------------------------------------------------------------------

@pytest.fixture
def tiny(tmp_path):
    """Two JSONL sources (one with a corrupt line and an empty text) and one Parquet source."""
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    rng = np.random.default_rng(0)
    lines = [json.dumps({"id": f"a{i}", "text": " ".join(rng.choice(words, size=rng.integers(5, 60)))})
             for i in range(200)]
    (tmp_path / "a.jsonl").write_text("\n".join(lines[:100] + ["{not json", '{"id": "x", "text": ""}'] + lines[100:]))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "part.jsonl").write_text("\n".join(
        json.dumps({"q": f"question {i} " * 3, "a": "answer " * (i % 7 + 1)}) for i in range(150)))
    pq.write_table(pa.table({"text": [" ".join(words[: i % 10 + 1]) * 3 for i in range(100)]}), tmp_path / "c.parquet")
    return tmp_path


TINY = """
output: {out}
seed: {seed}
budget: {budget}
tokenizer: whitespace
on_shortfall: {on_shortfall}
sources:
  a: {{path: "${{RECIPE_DIR}}/a.jsonl", share: 0.5}}
  b: {{path: "${{RECIPE_DIR}}/b", share: 0.3, text_field: [q, a]}}
  c: {{path: "${{RECIPE_DIR}}/*.parquet", share: 0.2, max_epochs: 2}}
"""


def run_tiny(tiny, out, seed=0, budget=8000, on_shortfall="fail", overrides=()):
    text = TINY.format(out=out, seed=seed, budget=budget, on_shortfall=on_shortfall)
    return mix(load_mix(write_mix(tiny, text), overrides), overwrite=True)


def test_inline_mix_counts_skips_and_writes_the_columns(tiny):
    result = run_tiny(tiny, tiny / "out")
    a = next(r for r in result.reports if r.source == "a")
    assert (a.documents_available, a.skipped_corrupt, a.skipped_empty) == (200, 1, 1)
    assert any("a.jsonl:101" in m for m in result.messages)  # the corrupt record is named
    table = pq.read_table(tiny / "out" / "shards" / "00000.parquet")
    assert table.column_names == ["text", "id", "source", "epoch", "tokens"]
    assert pq.ParquetFile(tiny / "out" / "shards" / "00000.parquet").metadata.row_group(0).column(0).is_stats_set
    # tokens are whitespace words, recounted here independently
    assert [len(t.split()) for t in table["text"].to_pylist()] == table["tokens"].to_pylist()
    for r in result.reports:
        assert abs(r.achieved_share - r.requested_share) <= 0.01 * r.requested_share, r


def test_fail_names_the_capped_source_and_renormalise_rebalances(tiny):
    # c has 1,450 words; max_epochs 2 caps it at 2,900 of 0.2 x 18,000; a and b have room to take the rest
    with pytest.raises(MixError, match=r"epoch cap exceeded.*c: asked 3,600 tokens .* capped at max_epochs 2 = 2,900"):
        run_tiny(tiny, tiny / "fail", budget=18000)
    result = run_tiny(tiny, tiny / "renorm", budget=18000, on_shortfall="renormalise")
    c = next(r for r in result.reports if r.source == "c")
    assert c.tokens <= 2 * c.tokens_available and c.shortfall_tokens > 0 and c.epochs <= 2
    assert any(m.startswith("c: asked") for m in result.messages)
    assert any(m.startswith("renormalised: ") and "to a (now" in m for m in result.messages)
    a, b = (next(r for r in result.reports if r.source == s) for s in "ab")
    assert abs(a.tokens / b.tokens - 0.5 / 0.3) < 0.01 * (0.5 / 0.3)  # the rest keep their ratio
    assert abs(result.tokens - 18000) <= 18  # and fill the budget
    counts = duckdb.sql(f"SELECT max(n) FROM (SELECT count(*) n FROM '{tiny}/renorm/shards/*.parquet' "
                        "GROUP BY source, id)").fetchall()[0][0]
    assert counts <= 4  # a and b stay under their default cap of 4 epochs; c under 2


def test_no_budget_means_the_largest_mix_the_caps_allow(tiny):
    result = run_tiny(tiny, tiny / "max", budget="null")
    c = next(r for r in result.reports if r.source == "c")
    assert c.planned_tokens == 2 * c.tokens_available
    assert abs(c.tokens - c.planned_tokens) <= 0.01 * c.planned_tokens


@pytest.mark.parametrize("text, message", [
    ("sources: {a: {path: x.jsonl, share: 1, tokens: 5}}", "exactly one of `share`"),
    ("sources: {a: {path: x.jsonl, shares: 1}}", "unknown key(s) ['shares']"),
    ("budjet: 5\nsources: {a: {path: x.jsonl, share: 1}}", "unknown key(s) ['budjet']"),
    ("sources: {a: {path: nope.jsonl, share: 1}}", "source path not found: nope.jsonl"),
    ("on_shortfall: ignore\nsources: {a: {path: x.jsonl, share: 1}}", "on_shortfall must be one of"),
])
def test_bad_mix_files_fail_clearly(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MixError, match=re.escape(message)):
        mix(load_mix(write_mix(tmp_path, text)))


def test_cli_prints_the_table_and_refuses_to_overwrite_silently(tiny):
    path = write_mix(tiny, TINY.format(out=tiny / "cli", seed=0, budget=5000, on_shortfall="fail"))
    result = CliRunner().invoke(main, ["mix", str(path), "seed=3"])
    assert result.exit_code == 0, result.output
    assert "requested share" in result.output and "manifest" in result.output
    assert json.loads((tiny / "cli" / "manifest.json").read_text())["seed"] == 3
    again = CliRunner().invoke(main, ["mix", str(path)])
    assert again.exit_code == 1 and "already holds a mix" in again.output


# ---- real sources: books vs wikitext vs the sample crawl's output -------------------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory, shared, lid_model, sample_crawl):
    """Gutenberg books (chunks of ~4,000 characters), WikiText-2 articles and the demo run's kept pages."""
    root = tmp_path_factory.mktemp("mix_real")
    run = load_recipe(REPO / "pipelines" / "fineweb.yaml",
                      overrides=[f"output={root / 'web'}", f"stages.fasttext_lang.model={lid_model}"])
    runner.run(run, progress=False)
    with open(root / "books.jsonl", "w") as f:
        for book in sorted((shared / "clean_text" / "gutenberg").glob("pg*.txt")):
            chunk = ""
            for paragraph in book.read_text(encoding="utf-8", errors="replace").split("\n\n"):
                chunk += paragraph + "\n\n"
                if len(chunk) > 4000:
                    f.write(json.dumps({"text": chunk}) + "\n")
                    chunk = ""
    articles = []
    for part in ("test", "valid"):
        text = (shared / "clean_text" / "wikitext-2" / f"{part}.txt").read_text(encoding="utf-8")
        articles += [a for a in re.split(r"\n(?= = [^=].* = \n)", text) if a.strip()]
    pq.write_table(pa.table({"id": [f"wiki{i}" for i in range(len(articles))], "text": articles}),
                   root / "wiki.parquet")
    return root


REAL = """
output: {out}
seed: {seed}
budget: {budget}
tokenizer: {tokenizer}
on_shortfall: {on_shortfall}
sources:
  web: {{path: "${{RECIPE_DIR}}/web", share: {web}}}
  books: {{path: "${{RECIPE_DIR}}/books.jsonl", share: 0.4}}
  wiki: {{path: "${{RECIPE_DIR}}/wiki.parquet", share: 0.4}}
"""


def run_real(real, name, seed=0, budget=150000, web=0.2, tokenizer="{train: {vocab_size: 4096, sample_docs: 600}}",
             on_shortfall="fail"):
    text = REAL.format(out=real / name, seed=seed, budget=budget, tokenizer=tokenizer, web=web,
                       on_shortfall=on_shortfall)
    return mix(load_mix(write_mix(real, text)), overwrite=True)


@pytest.mark.integration
def test_real_sources_land_within_one_percent_and_are_byte_identical(real):
    first = run_real(real, "a")
    second = run_real(real, "b")
    for r in first.reports:
        print(f"{r.source}: requested {r.requested_share:.4f} achieved {r.achieved_share:.4f} "
              f"tokens {r.tokens:,} epochs {r.epochs:.3f}")
        assert abs(r.achieved_share - r.requested_share) <= 0.01 * r.requested_share, r
    web = next(r for r in first.reports if r.source == "web")
    assert web.epochs > 1.5  # the few kept pages are repeated: a real upsampling case
    names = ["shards/00000.parquet", "tokenizer.json", "manifest.parquet"]
    assert second.reports == first.reports
    assert [sha256(real / "a" / n) for n in names] == [sha256(real / "b" / n) for n in names]
    # the shards hold what the manifest says
    by_source = dict(duckdb.sql(f"SELECT source, sum(tokens) FROM '{real}/a/shards/*.parquet' GROUP BY 1").fetchall())
    assert by_source == {r.source: r.tokens for r in first.reports}
    other = run_real(real, "c", seed=1, tokenizer=real / "a" / "tokenizer.json")
    assert sha256(real / "c" / names[0]) != sha256(real / "a" / names[0])
    assert sorted(shard_rows(real / "c")) != sorted(shard_rows(real / "a"))  # another seed, other documents
    for r in other.reports:  # and shares as close
        assert abs(r.achieved_share - r.requested_share) <= 0.01 * r.requested_share, r


@pytest.mark.integration
def test_real_epoch_cap_holds_when_it_binds(real):
    tok = real / "a" / "tokenizer.json" if (real / "a").exists() else "bytes"
    with pytest.raises(MixError, match="web: asked"):
        run_real(real, "cap_fail", web=0.6, tokenizer=tok)
    result = run_real(real, "cap", web=0.6, tokenizer=tok, on_shortfall="renormalise")
    web = next(r for r in result.reports if r.source == "web")
    assert web.epochs <= 4 and web.shortfall_tokens > 0
    most = duckdb.sql(f"SELECT source, max(n) FROM (SELECT source, id, count(*) n FROM '{real}/cap/shards/*.parquet' "
                      "GROUP BY ALL) GROUP BY 1").fetchall()
    assert all(n <= 4 for _, n in most), most
    epochs = dict(duckdb.sql(f"SELECT source, max(epoch) FROM '{real}/cap/shards/*.parquet' GROUP BY 1").fetchall())
    assert epochs["web"] <= 3


@pytest.mark.integration
def test_the_example_mix_runs_on_the_shared_data(real, shared, monkeypatch):
    monkeypatch.setenv("CURATE_SHARED_DATA", str(shared))
    config = load_mix(REPO / "pipelines" / "mix_example.yaml",
                      [f"output={real / 'example'}", "tokenizer=whitespace", "budget=150000",
                       f"sources.web.path=['{real / 'web'}', '{shared}/warc/dolma/cc_en_head-*.jsonl.gz']"])
    result = mix(config, overwrite=True)
    by_name = {r.source: r for r in result.reports}
    assert by_name["web"].files == 3 and by_name["math"].documents_available == 7473
    assert by_name["code"].documents_available == 164 and by_name["code"].epochs > 1
    for r in result.reports:
        assert abs(r.achieved_share - r.requested_share) <= 0.01 * r.requested_share, r
