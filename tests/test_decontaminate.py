import csv
import io
import json
import random
import tarfile
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from datatrove.data import Document

from curate.core.hashing import shingle_hash
from curate.filters.decontaminate.filter import Decontaminate, cut_lines
from curate.filters.decontaminate.index import NGramIndex, cache_key, cached_index, kgram_hashes, word_hashes, words
from curate.resources import benchmarks

Q1 = "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends."
A1 = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n#### 18"
Q2 = "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total does it take?"
SHORT = "Which planet is known as the red planet?"  # 8 words: indexed whole
TINY = "Predators eat"  # 2 words: too short to be evidence
FILLER = ("The river town kept its mills running through the long winter, and the bakers sold bread at dawn "
          "to the workers who crossed the old stone bridge every morning before the bells.")


def make_bench(root):
    (root / "gsm8k").mkdir(parents=True)
    rows = [{"question": Q1, "answer": A1}, {"question": Q2, "answer": "It takes 2/2=<<2/2=1>>1\n#### 3"}]
    (root / "gsm8k" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    icl = [{"query": f"Question: {SHORT}\n", "choices": ["Mars", "Venus"], "gold": 0},
           {"query": TINY, "choices": ["lions", "bunnies"], "gold": 1}]
    (root / "icl").mkdir()
    (root / "icl" / "arc_easy.jsonl").write_text("".join(json.dumps(r) + "\n" for r in icl))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["question", "choice0", "choice1", "choice2", "choice3", "answer"])
    w.writerow(["The longest river that flows entirely within one country is found on which continent today?",
                "Asia", "Africa", "Europe", "South America", 0])
    data = buf.getvalue().encode()
    with tarfile.open(root / "mmlu.tar.xz", "w:xz") as tar:
        info = tarfile.TarInfo("data/mmlu/test/geography_test.csv")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (root / "notes.md").write_text("not a benchmark")
    (root / "other.jsonl").write_text(json.dumps({"foo": 1}) + "\n")
    return root


@pytest.fixture()
def bench(tmp_path):
    return make_bench(tmp_path / "bench")


@pytest.fixture()
def index(bench):
    return NGramIndex.build([bench])


@pytest.mark.parametrize("text, expected", [
    ("Janet’s Ducks, lay 16 eggs!", ["janets", "ducks", "lay", "16", "eggs"]),
    ("don't  DON'T\tdon’t", ["dont", "dont", "dont"]),
    ("well-known 2+1=3 <<x>>", ["well", "known", "2", "1", "3", "x"]),
    ("snake_case\n\nnext", ["snake", "case", "next"]),
    ("", []),
])
def test_words_are_normalised(text, expected):
    assert words(text) == expected


def test_keys_are_the_minhash_shingle_hash_widened_to_64_bits():
    ws = words(Q1)
    keys = kgram_hashes(word_hashes(ws), [13])[13]
    assert len(keys) == len(ws) - 12
    for i in (0, 5):
        assert int(keys[i]) >> 32 == shingle_hash(" ".join(ws[i:i + 13]))


def test_items_read_every_format_and_count_bad_records(bench):
    report = benchmarks.LoadReport()
    items = benchmarks.items([bench], report=report)
    assert [i.benchmark for i in items] == ["gsm8k", "gsm8k", "arc_easy", "arc_easy", "mmlu"]
    assert items[-1].item_id == "mmlu.tar.xz/data/mmlu/test/geography_test.csv#0"
    assert items[2].fields["question"] == SHORT and items[2].fields["answer"] == "Mars"
    assert "<<" not in items[0].text(["question", "answer"])
    assert report.corrupt == 1 and any(s.startswith("other.jsonl") for s in report.skipped)
    assert benchmarks.items([bench], {"gsm8k": ["question"]})[0].text(["question"]) == Q1
    with pytest.raises(ValueError, match="unknown field"):
        benchmarks.items([bench], {"gsm8k": ["prompt"]})


def test_index_finds_items_and_attributes_them(index):
    assert index.stats["too_short"] == 1 and index.stats["corrupt_records"] == 1
    doc = f"{FILLER}\n{Q2.upper().replace('.', ' ...')}\n{FILLER}"
    match = index.find(doc)
    assert index.item_ids[match.best()] == "gsm8k/test.jsonl#1"
    short = index.find(f"{FILLER} Which planet is known as the RED planet? Mars! {FILLER}")
    assert index.item_ids[short.best()] == "icl/arc_easy.jsonl#0"
    assert index.find(FILLER) is None
    assert index.find(f"{FILLER} Predators eat bunnies.") is None  # too short to index


def test_one_shared_ngram_is_not_enough_for_a_long_item(index):
    ws = words(Q1 + " " + A1)
    assert index.find(" ".join(ws[:13]) + " " + FILLER) is None  # 1 of its 13-grams
    assert index.find(" ".join(ws[:15]) + " " + FILLER) is not None  # 3 of them
    assert index.find(" ".join(ws[:13]) + " " + FILLER, min_matches=1) is not None


def test_frequent_and_allowed_ngrams_are_no_evidence(bench):
    (bench / "copies.jsonl").write_text("".join(json.dumps({"question": Q2, "answer": str(i)}) + "\n" for i in range(3)))
    assert NGramIndex.build([bench], max_items=2).find(Q2) is None  # in 4 items now
    assert NGramIndex.build([bench], max_items=10).find(Q2) is not None
    index = NGramIndex.build([bench])
    assert index.allow([Q2]) > 0 and index.find(Q2) is None


def test_save_load_round_trip_and_cache(index, bench, tmp_path):
    loaded = NGramIndex.load(index.save(tmp_path / "i.npz"))
    assert loaded.item_ids == index.item_ids and loaded.n == 13
    assert all(np.array_equal(loaded.tables[k][0], index.tables[k][0]) for k in index.tables)
    first = cached_index([bench], tmp_path / "cache")
    assert cached_index([bench], tmp_path / "cache") == first
    assert cache_key([bench], n=12) != cache_key([bench], n=13)
    with pytest.raises(ValueError, match="not a curate decontamination index"):
        NGramIndex.load(bench / "notes.md")


def test_stage_drop_cut_and_annotate(bench, tmp_path):
    text = "\n".join([FILLER] * 3 + [f"Puzzle: {Q2}"] + [FILLER] * 3)
    common = dict(benchmarks=[str(bench)], cache_dir=str(tmp_path))
    doc = Document(text=text, id="a")
    assert Decontaminate(**common).filter(doc) == "gsm8k"
    assert doc.metadata["decontaminate__item"] == "gsm8k/test.jsonl#1"
    assert doc.metadata["decontaminate__ngram"] == " ".join(words(Q2)[:13])
    doc = Document(text=text, id="b")
    assert Decontaminate(**common, action="cut").filter(doc) is None
    assert Q2 not in doc.text and doc.text.count(FILLER) == 6
    assert doc.metadata["decontaminate__chars_removed"] == len(text) - len(doc.text)
    doc = Document(text=f"Puzzle: {Q2}\n{FILLER}", id="c")
    assert Decontaminate(**common, action="cut", min_chars_after_cut=1000).filter(doc) == "gsm8k"
    doc = Document(text=text, id="d")
    step = Decontaminate(**common, action="cut", mode="annotate")
    assert step.process(doc) is None and doc.text == text
    assert doc.metadata["decontaminate__reason"] == "decontaminate:gsm8k"
    with pytest.raises(ValueError, match="action"):
        Decontaminate(**common, action="mask")


def test_cut_lines_removes_lines_of_spans_across_breaks():
    text = "a b c\nd e f\ng h\ni j k"
    assert cut_lines(text, [(4, 1)]) == "a b c\ng h\ni j k"
    assert cut_lines(text, [(5, 2)]) == "a b c\ni j k"


def test_cli_builds_an_index(bench, tmp_path):
    from curate.cli import main

    out = tmp_path / "i.npz"
    result = CliRunner().invoke(main, ["decontam-index", str(bench), "--output", str(out), "--fields", "gsm8k=question"])
    assert result.exit_code == 0, result.output
    assert "gsm8k" in result.output and "1 items under 8 words left out" in result.output
    assert NGramIndex.load(out).params["fields"]["gsm8k"] == ["question"]
    bad = CliRunner().invoke(main, ["decontam-index", str(bench), "--output", str(out), "--fields", "gsm8k"])
    assert bad.exit_code == 1 and "FORMAT=field" in bad.output


def test_recipe_runs_and_writes_the_report(bench, tmp_path, monkeypatch):
    from curate.core.config import load_recipe
    from curate.pipelines.runner import run
    from curate.tools import stats

    docs = [{"id": f"d{i}", "text": f"{FILLER}\n{Q1 if i % 3 == 0 else FILLER}\n{FILLER}"} for i in range(9)]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    monkeypatch.setenv("CURATE_SHARED_DATA", str(tmp_path / "shared"))
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "benchmarks").symlink_to(bench)
    recipe = load_recipe("pipelines/decontaminate.yaml", overrides=[
        f"input=[{tmp_path / 'docs.jsonl'}]", f"output={tmp_path / 'out'}",
        f"stages.decontaminate.cache_dir={tmp_path / 'cache'}"])
    run(recipe, progress=False)
    report = pq.read_table(tmp_path / "out" / "reports" / "decontamination.parquet").to_pylist()
    chars = sum(len(d["text"]) for d in docs[::3])
    assert report == [{"benchmark": "gsm8k", "items_found": 1, "documents": 3, "documents_dropped": 3,
                       "chars_removed": chars}]
    _, rows = stats.query(tmp_path / "out", "SELECT documents FROM decontamination")
    assert rows == [(3,)]


# -- integration: every benchmark in ../shared/data, real pages ---------------------------------

@pytest.fixture(scope="module")
def full_index(shared, tmp_path_factory):
    return NGramIndex.load(cached_index([shared / "benchmarks"], tmp_path_factory.mktemp("decontam")))


@pytest.fixture(scope="module")
def real_pages(shared, request):
    from bench.realpages import default_cache_dir, load_pages

    cache = getattr(request.config, "cache", None)  # the conformance tests' cache: extracted once
    return load_pages(shared, cache.mkdir("curate-pages") if cache else default_cache_dir())


def test_recall_on_planted_benchmark_items(shared, full_index, real_pages):
    """>= 1,000 items (up to 80 per benchmark), each planted 3 ways into real pages: all found and
    attributed to their own item (or to an identical or containing copy of it: TruthfulQA's CSV and
    JSON, HellaSwag's repeated contexts; or to what the page already matched before planting)."""
    from bench.decontam_data import planted

    fields = full_index.params["fields"]
    items = benchmarks.items([shared / "benchmarks"])
    assert [i.item_id for i in items] == full_index.item_ids
    texts = [" ".join(words(it.text(fields[it.format]))) for it in items]
    by = {}
    for i, it in enumerate(items):
        if len(texts[i].split()) >= full_index.params["min_words"]:
            by.setdefault(it.benchmark, []).append((i, it.text(fields[it.format])))
    rng = random.Random(0)
    chosen = [x for b in sorted(by) for x in rng.sample(by[b], min(80, len(by[b])))]
    assert len(chosen) >= 1000 and len(by) == 20
    pages = [p["text"] for p in real_pages if p["id"].startswith("gold:")]
    outcome, page_items = Counter(), None
    for text, item, variant in planted(chosen, pages):
        match = full_index.find(text)
        assert match is not None and item in match.votes, (variant, items[item].item_id)
        best = match.best()
        if best == item:
            outcome["own item"] += 1
        elif match.votes[best] == match.votes[item] and texts[best] == texts[item]:
            outcome["identical copy"] += 1
        elif texts[item] in texts[best]:
            outcome["containing copy"] += 1
        else:
            if page_items is None:  # the items the pages hold before anything is planted
                page_items = {i for p in pages if (m := full_index.find(p)) for i in m.votes}
            assert best in page_items, (variant, items[item].item_id, items[best].item_id)
            outcome["page's own match"] += 1
    print(f"planted {len(chosen)} items x 3 variants: {dict(outcome)}")
    assert outcome["own item"] >= 0.9 * 3 * len(chosen)


def test_false_positives_on_clean_texts_and_pages(shared, full_index, real_pages):
    """Documents with nothing planted: every match must be a real shared passage (the item and the
    document share a run of >= 15 words, checked without hashing); spurious matches < 0.1%."""
    from difflib import SequenceMatcher

    from bench.decontam_data import clean_documents

    fields = full_index.params["fields"]
    items = benchmarks.items([shared / "benchmarks"])
    docs = clean_documents(shared) + real_pages
    flagged, spurious = [], 0
    for doc in docs:
        ws = words(doc["text"])
        match = full_index.find(ws)
        if match is None:
            continue
        item = items[match.best()]
        iw = words(item.text(fields[item.format]))
        run = SequenceMatcher(None, ws, iw, autojunk=False).find_longest_match(0, len(ws), 0, len(iw)).size
        flagged.append((doc["id"], item.item_id, run))
        spurious += run < 15
    print(f"{len(docs)} documents, {len(flagged)} flagged ({100 * len(flagged) / len(docs):.3f}%), "
          f"{spurious} spurious ({100 * spurious / len(docs):.3f}%): {flagged}")
    assert len(docs) > 5000 and spurious / len(docs) < 0.001
