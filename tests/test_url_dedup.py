"""url_dedup: URL normalisation, and one document per URL through the runner (longest, latest, any task count)."""

from __future__ import annotations

import json

import duckdb
import pytest
import yaml

from curate.core.config import load_recipe
from curate.filters.url_dedup import normalize_url, timestamp
from curate.pipelines import runner


@pytest.mark.parametrize("url, expected", [
    ("HTTPS://Example.ORG/Path/", "https://example.org/Path"),
    ("https://example.org:443/a#section", "https://example.org/a"),
    ("http://example.org:80", "http://example.org/"),
    ("http://example.org:8080/a/", "http://example.org:8080/a"),
    ("https://user:pw@example.org/a", "https://example.org/a"),
    ("https://example.org/a?utm_source=x&id=3&UTM_Medium=y", "https://example.org/a?id=3"),
    ("https://example.org/a?b=2&a=1", "https://example.org/a?b=2&a=1"),  # order kept: servers may read it
    ("https://[2001:db8::1]:443/x", "https://[2001:db8::1]/x"),
    ("  https://example.org/  ", "https://example.org/"),
])
def test_urls_of_one_page_normalise_alike(url, expected):
    assert normalize_url(url) == expected


def test_query_patterns_and_scheme_are_options():
    assert normalize_url("https://e.org/a?fbclid=1&x=2", ("utm_*", "fbclid")) == "https://e.org/a?x=2"
    assert normalize_url("https://e.org/a?utm_x=1", ()) == "https://e.org/a?utm_x=1"
    assert normalize_url("http://e.org/a", ignore_scheme=True) == normalize_url("https://e.org/a", ignore_scheme=True)


@pytest.mark.parametrize("value, expected", [
    ("2024-02-20T10:11:12Z", 1708423872), ("2024-02-20T10:11:12+01:00", 1708420272),
    ("2024-02-20T10:11:12", 1708423872), (None, None), ("", None), ("yesterday", None),
])
def test_warc_dates_are_read_as_utc_seconds(value, expected):
    assert timestamp(value) == expected


def corpus() -> list[dict]:
    """Three pages fetched several times each (URL variants, lengths, crawl dates), a page once, and no-URL documents."""
    docs = []
    for page in range(3):
        for copy, (variant, date) in enumerate([("https://Site.org/p{}/", "2023-05-01T00:00:00Z"),
                                               ("http://site.org/p{}?utm_source=feed", "2024-01-01T00:00:00Z"),
                                               ("https://site.org/p{}#top", None),
                                               ("https://site.org:443/p{}", "2022-01-01T00:00:00Z")]):
            doc = {"id": f"p{page}-c{copy}", "text": "page text " * (3 + (copy + page) % 4), "url": variant.format(page)}
            if date:
                doc["date"] = date
            docs.append(doc)
    docs.append({"id": "single", "text": "a page seen once", "url": "https://site.org/single"})
    docs += [{"id": f"nourl{i}", "text": "no address"} for i in range(2)]
    return docs


def run(tmp_path, name, stage, tasks=1, mode="filter"):
    folder = tmp_path / "in"
    if not folder.exists():
        folder.mkdir()
        docs = corpus()
        for k in range(3):
            (folder / f"part{k}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs[k::3]))
    out = tmp_path / name
    recipe = {"name": "url", "mode": mode, "input": [str(folder)], "output": str(out),
              "executor": {"type": "local", "tasks": tasks, "workers": 1}, "stages": [{"url_dedup": stage}]}
    runner.run(load_recipe(text=yaml.safe_dump(recipe)), progress=False)
    return duckdb.sql(f"SELECT id, reason, url_dedup__kept, url_dedup__normalized_url FROM '{out}/decisions/*.parquet' "
                      "ORDER BY id").fetchall()


def kept_pages(rows) -> dict[str, str]:
    return {r[3]: r[0] for r in rows if r[1] is None and r[3] and "/p" in r[3]}


def test_one_document_per_url_the_longest(tmp_path):
    rows = run(tmp_path, "longest", {"ignore_scheme": True})
    docs = {d["id"]: d for d in corpus()}
    kept = kept_pages(rows)
    assert set(kept) == {f"//site.org/p{page}" for page in range(3)}
    for page in range(3):
        copies = [d for i, d in docs.items() if i.startswith(f"p{page}-")]
        assert len(docs[kept[f"//site.org/p{page}"]]["text"]) == max(len(d["text"]) for d in copies)
    reasons = {r[0]: r[1] for r in rows}
    assert sum(r == "url_dedup:duplicate_url" for r in reasons.values()) == 9
    assert reasons["single"] is None and reasons["nourl0"] is None and reasons["nourl1"] is None
    assert all(r[2] == (r[1] is None) for r in rows)


def test_the_latest_crawl_wins_and_undated_copies_count_as_oldest(tmp_path):
    rows = run(tmp_path, "latest", {"keep": "latest", "ignore_scheme": True})
    assert sorted(kept_pages(rows).values()) == ["p0-c1", "p1-c1", "p2-c1"]  # dated 2024
    # without ignore_scheme, http and https are different pages: the https copies keep their own
    https = {r[0] for r in run(tmp_path, "latest_https", {"keep": "latest"}) if r[1] is None and r[0].startswith("p")}
    assert https == {f"p{page}-c{c}" for page in range(3) for c in (0, 1)}  # 2023 beats 2022 and undated


def test_one_and_four_tasks_keep_the_same_documents(tmp_path):
    stage = {"keep": "longest"}
    assert run(tmp_path, "four", stage, tasks=4) == run(tmp_path, "one", stage, tasks=1)


def test_annotate_mode_drops_nothing(tmp_path):
    rows = run(tmp_path, "ann", {}, mode="annotate")
    assert all(r[1] is None for r in rows)
    assert sum(r[2] is False for r in rows) == 6  # https variants: 3 copies of each of 3 pages lose
