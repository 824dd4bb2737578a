"""paragraph_dedup: units, the first-of-group merge, the stage through the runner, and the planted-boilerplate bar.

The bar (issue 18): into real blog posts (Blog Authorship Corpus sample, shared data) plant 50
distinct paragraphs, each repeated in 2 to 500 documents; the stage must remove >= 99% of the
copies beyond each first one and < 0.5% of the other paragraphs, and 1 and 4 tasks must give the
same output. Truth is known by construction; blog posts also repeat naturally (a post copied into
two blogs), so every eligible line that occurs in two or more of the unplanted documents is a
natural repeat: an expected removal (exactly one copy must survive), not an "other" paragraph.
"""

from __future__ import annotations

import random
import re
import tarfile
from collections import Counter, defaultdict

import duckdb
import numpy as np
import pytest
import yaml

from curate.core.config import load_recipe
from curate.core.text import lower_collapsed
from curate.filters.keyed_dedup.passes import FirstOfGroup
from curate.filters.minhash.extsort import records
from curate.filters.paragraph_dedup import split_units, unit_hash
from curate.pipelines import runner
from tests import dedup_helpers

BLOGS = "web_text/blog_authorship_sample/blogs_sample.tar.xz"
POST = re.compile(r"<post>(.*?)</post>", re.S)
MIN_WORDS = 13


def run(inputs, output, stages, tasks=1, mode="filter"):
    recipe = {"name": "pd", "mode": mode, "input": [str(inputs)], "output": str(output),
              "executor": {"type": "local", "tasks": tasks, "workers": 1}, "stages": stages}
    runner.run(load_recipe(text=yaml.safe_dump(recipe)), progress=False)


def write_jsonl(folder, docs, files=3):
    return dedup_helpers.write_jsonl(folder, docs, files=files)


def texts(out) -> dict[str, str]:
    return dict(duckdb.sql(f"SELECT id, text FROM '{out}/documents/*.parquet'").fetchall())


def rows(out, columns="*"):
    return duckdb.sql(f"SELECT {columns} FROM '{out}/decisions/*.parquet' ORDER BY id").fetchall()


# ---- units ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("unit, text, expected", [
    ("line", "a\nb\n\nc", ["a", "b", "", "c"]),
    ("paragraph", "a\nb\n\nc", ["a\nb", "c"]),
    ("paragraph", "a\n  \n\n d\n\ne", ["a", "d", "e"]),
    ("line", "", [""]),
])
def test_units_split_and_join_back(unit, text, expected):
    units, seps = split_units(text, unit)
    assert [u.strip() for u in units] == expected
    assert "".join(u + s for u, s in zip(units, seps)) == text


def test_a_unit_is_hashed_normalised_and_only_when_long_enough():
    long = " ".join(f"w{i}" for i in range(MIN_WORDS))
    assert unit_hash(long, MIN_WORDS) == unit_hash("  " + long.upper().replace(" ", "\t "), MIN_WORDS)
    assert unit_hash(long, MIN_WORDS) != unit_hash(long + ".", MIN_WORDS)
    assert unit_hash(" ".join(long.split()[:-1]), MIN_WORDS) is None
    assert unit_hash("", 0) is None


@pytest.mark.parametrize("min_group", [2, 3, 5])
def test_first_of_group_matches_a_direct_count_however_the_blocks_fall(min_group):
    rnd = np.random.default_rng(min_group)
    dtype = records("h", "key", "ref")
    data = np.empty(5000, dtype)
    data["h"] = rnd.integers(0, 400, len(data))
    data["h"][:600] = 7  # one group larger than any block
    data["key"], data["ref"] = rnd.integers(0, 1 << 40, len(data)), np.arange(len(data))
    data = np.sort(data, order=["h", "key", "ref"])
    sizes = Counter(data["h"].tolist())
    first = {}
    for h, ref in zip(data["h"].tolist(), data["ref"].tolist()):
        first.setdefault(h, ref)
    expected = {ref for h, ref in zip(data["h"].tolist(), data["ref"].tolist())
                if sizes[h] >= min_group and first[h] != ref}
    for cuts in ([], sorted(rnd.integers(1, len(data), 40).tolist()), list(range(1, len(data)))[::3]):
        groups = FirstOfGroup(min_group)
        found = [groups.removals(block) for block in np.split(data, cuts)]
        assert set(np.concatenate(found)["ref"].tolist()) == expected
        assert groups.groups == sum(n >= min_group for n in sizes.values())


def test_small_buffers_spill_and_give_the_same_result(tmp_path, monkeypatch):
    """Many spilled runs, compacted pending arrays, small merge blocks: the same texts as one big buffer."""
    from datatrove.data import Document

    from curate.filters.keyed_dedup import passes
    from curate.filters.keyed_dedup.passes import KeepFirst, KeyRecords
    from curate.filters.paragraph_dedup import ParagraphDedup

    docs = small_docs() * 3  # ids repeat: ties on the order key fall back to the position

    def dedup(work, buffer_records):
        stage = ParagraphDedup(work_dir=str(work), buffer_records=buffer_records)
        make = lambda: (Document(text=d["text"], id=d["id"], metadata={}) for d in docs)  # noqa: E731
        list(KeyRecords(stage, buffer_records).run(make()))
        list(KeepFirst(str(work), stage.record_fields, stage.min_group, buffer_records).run(None))
        return [d.text for d in stage.run(make())], len(list(work.glob("runs/*.bin")))

    big, one_run = dedup(tmp_path / "big", 1 << 20)
    monkeypatch.setattr(passes, "COMPACT", 3)
    small, runs = dedup(tmp_path / "small", 4)
    assert one_run == 1 and runs > 5 and small == big
    assert sum(BOILER in t.split("\n") for t in big) == 1


# ---- the stage, through the runner ------------------------------------------------------------------

BOILER = "Subscribe to our newsletter and get the latest stories, offers and news delivered to your inbox"
SHORT = "Share this post"


def small_docs() -> list[dict]:
    docs = []
    for i in range(12):
        lines = [f"Document {i} says something of its own, in words that no other document of this corpus uses"]
        if i < 3:
            lines.append(BOILER + " twice")  # in 3 documents
        if i < 6:
            lines.insert(0, BOILER)  # in 6 documents
        lines.append(SHORT)  # too short to remove
        docs.append({"id": f"d{i:02d}", "text": "\n".join(lines)})
    docs.append({"id": "only", "text": f"{BOILER}\n{SHORT}"})
    return docs


@pytest.mark.parametrize("k, removed", [(1, {BOILER: 6, BOILER + " twice": 2}), (2, {BOILER: 6, BOILER + " twice": 2}),
                                        (3, {BOILER: 6}), (6, {BOILER: 6}), (7, {})])
def test_a_unit_in_at_least_k_other_documents_is_removed_but_once(tmp_path, k, removed):
    inputs = write_jsonl(tmp_path / "in", small_docs())
    run(inputs, tmp_path / "out", [{"paragraph_dedup": {"k": k, "min_remaining_chars": None}}])
    kept = texts(tmp_path / "out")
    for line, n_removed in {BOILER: 0, BOILER + " twice": 0, **removed}.items():
        holders = [i for i, text in kept.items() if line in text.split("\n")]
        total = 7 if line == BOILER else 3
        assert len(holders) == total - n_removed, line
    assert all(SHORT in text for text in kept.values())
    by_id = {r[0]: r[1:] for r in rows(tmp_path / "out", "id, paragraph_dedup__n_removed, paragraph_dedup__chars_removed")}
    assert sum(r[0] for r in by_id.values()) == sum(removed.values())
    assert sum(r[1] for r in by_id.values()) == sum(len(line) * n for line, n in removed.items())


def test_a_document_left_with_too_little_is_dropped_or_annotated(tmp_path):
    lonely = [{"id": f"only{i}", "text": f"{BOILER}\n{SHORT}"} for i in range(1, 5)]
    inputs = write_jsonl(tmp_path / "in", small_docs() + lonely)
    stage = {"paragraph_dedup": {"min_remaining_chars": 20}}
    run(inputs, tmp_path / "out", [stage])
    reasons = dict(rows(tmp_path / "out", "id, reason"))
    # the five "only" documents lose the boilerplate, bar the one that may hold its first copy
    dropped = {i for i, r in reasons.items() if r is not None}
    assert {r for r in reasons.values()} == {None, "paragraph_dedup:too_little_left"}
    assert dropped <= {"only", *(d["id"] for d in lonely)} and len(dropped) >= 4
    run(inputs, tmp_path / "ann", [stage], mode="annotate")
    annotated = rows(tmp_path / "ann", "id, reason, paragraph_dedup__reason")
    assert all(r[1] is None for r in annotated)
    assert {r[0] for r in annotated if r[2]} == dropped
    assert texts(tmp_path / "ann").keys() == reasons.keys()


def test_paragraph_mode_removes_blank_line_blocks(tmp_path):
    block = f"{BOILER}\nsecond line of the block, long enough on its own to count as words here"
    docs = [{"id": f"p{i}", "text": f"Own paragraph {i} " + "word " * 15 + f"\n\n{block}\n\nEnd {i}."} for i in range(4)]
    run(write_jsonl(tmp_path / "in", docs), tmp_path / "out", [{"paragraph_dedup": {"unit": "paragraph"}}])
    kept = texts(tmp_path / "out")
    assert sum(block in t for t in kept.values()) == 1
    assert all(t.startswith(f"Own paragraph {i[1:]}") and t.endswith(f"End {i[1:]}.") for i, t in kept.items())


# ---- the bar: planted boilerplate in real blog posts -----------------------------------------------

def blog_lines(shared, limit: int) -> list[str]:
    """Whitespace-collapsed lines of blog posts, in archive order."""
    out = []
    with tarfile.open(shared / BLOGS) as tar:
        for member in tar:
            if member.isfile():
                for post in POST.findall(tar.extractfile(member).read().decode("latin-1")):
                    out += [" ".join(line.split()) for line in post.splitlines() if line.strip()]
                    if len(out) >= limit:
                        return out
    return out


@pytest.fixture(scope="module")
def planted(shared, tmp_path_factory):
    """About 3,000 documents of 1-4 blog lines each, 50 other blog lines planted in 2 to 500 of them."""
    rnd = random.Random(18)
    lines = blog_lines(shared, 9000)
    base_lines, spare = lines[:7500], lines[7500:]
    docs, i = [], 0
    while len(docs) < 3000 and i < len(base_lines):
        n = rnd.randint(1, 4)
        docs.append(base_lines[i:i + n])
        i += n
    seen = {lower_collapsed(line) for doc in docs for line in doc}
    candidates = [" ".join(line.split()[:60]) for line in spare if len(line.split()) >= 20]
    boiler = list(dict.fromkeys(c for c in candidates if lower_collapsed(c) not in seen))[:50]
    assert len(boiler) == 50, "the sample has too few blog posts left to plant"
    copies = {}
    for j, paragraph in enumerate(boiler):
        n = round(2 * 250 ** (j / 49))  # 2 ... 500
        copies[paragraph] = n
        for d in rnd.sample(range(len(docs)), n):
            docs[d].insert(rnd.randint(0, len(docs[d])), paragraph)
    records_ = [{"id": f"blog{d:05d}", "text": "\n".join(doc)} for d, doc in enumerate(docs)]
    rnd.shuffle(records_)
    inputs = write_jsonl(tmp_path_factory.mktemp("planted"), records_, files=5)
    outs = {}
    for tasks in (1, 4):
        outs[tasks] = tmp_path_factory.mktemp(f"tasks{tasks}") / "out"
        run(inputs, outs[tasks], [{"paragraph_dedup": {}}], tasks=tasks)
    return records_, copies, outs


def test_planted_boilerplate_goes_and_other_paragraphs_stay(planted):
    docs, copies, outs = planted
    kept = {i: set(t.split("\n")) for i, t in texts(outs[1]).items()}
    natural = Counter(lower_collapsed(line) for d in docs for line in set(d["text"].split("\n"))
                      if line not in copies and len(line.split()) >= MIN_WORDS)
    survivors = defaultdict(int)
    other = other_removed = short = short_removed = 0
    for d in docs:
        out = kept.get(d["id"], set())
        for line in set(d["text"].split("\n")):
            if line in copies or natural[lower_collapsed(line)] > 1:
                survivors[lower_collapsed(line)] += line in out
            elif len(line.split()) >= MIN_WORDS:
                other, other_removed = other + 1, other_removed + (line not in out)
            else:
                short, short_removed = short + 1, short_removed + (line not in out)
    repeats = sum(n - 1 for n in copies.values())
    removed = sum(n - survivors[lower_collapsed(p)] for p, n in copies.items())
    assert removed / repeats >= 0.99, f"{removed} of {repeats} planted repeats removed"
    assert all(survivors[lower_collapsed(p)] == 1 for p in copies), "each planted paragraph keeps one copy"
    naturals = [h for h, n in natural.items() if n > 1]
    assert naturals and all(survivors[h] == 1 for h in naturals), "natural repeats: one copy each"
    assert other > 2000 and other_removed / other < 0.005, f"{other_removed} of {other} other paragraphs removed"
    assert short > 0 and short_removed == 0


def test_one_and_four_tasks_give_identical_output(planted):
    _, _, outs = planted
    assert texts(outs[4]) == texts(outs[1])
    columns = "id, reason, paragraph_dedup__n_removed, paragraph_dedup__chars_removed, paragraph_dedup__removed_share"
    assert rows(outs[4], columns) == rows(outs[1], columns)
