"""A Llama-2-style analysis of the kept documents: pronouns, identity terms, toxicity, languages.

Llama 2 (Touvron et al. 2023, section 4.1) published, for its pretraining data, how many
documents use He, She and unspecified pronouns (Table 9a), how often demographic identity terms of
five axes appear (Table 9b, terms from HolisticBias), the distribution of a toxicity score and the
share of documents above a threshold, and the language distribution. `analyze(out)` computes the
same tables over a curate run's kept documents with DuckDB (tokens by one regular expression,
joined against the term lists in `curate/tools/data/identity_terms.yaml`, which cites its sources).

Toxicity uses what the run recorded: a numeric signal column whose name contains `toxic` (a
toxicity tagger's score), the `c4_badwords__badword` column, `nsfw_words__matches`, or, given `badwords=PATH` (an
LDNOOBW-style list, one term per line, or its folder, read for `badwords_language`), the number
of list terms each document contains.

Example:
    tables = analyze("out/demo", badwords="../shared/data/blocklists/ldnoobw")
    headers, rows = tables["pronouns"]
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import yaml

from curate.resources import wordlists
from curate.tools import stats

TERMS = Path(__file__).parent / "data" / "identity_terms.yaml"
TOKEN = r"[\pL\pN]+(?:-[\pL\pN]+)*\+?"  # words, hyphenated compounds (african-american), lgbtq+
Table = tuple[list[str], list[tuple]]


def load_terms(path: str | Path = TERMS) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _prepare(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TEMP TABLE docs AS SELECT row_number() OVER () AS doc, lower(text) AS lt FROM documents")
    con.execute(f"CREATE TEMP TABLE tokens AS SELECT doc, unnest(regexp_extract_all(lt, '{TOKEN}')) AS w FROM docs")
    con.execute("CREATE TEMP TABLE terms (grp VARCHAR, axis VARCHAR, term VARCHAR)")
    con.execute("CREATE TEMP TABLE hits (grp VARCHAR, axis VARCHAR, term VARCHAR, doc BIGINT, mentions BIGINT)")


def _count(con: duckdb.DuckDBPyConnection, grp: str, lists: dict[str, list[str]]) -> None:
    """Add to `hits` one row per (term, document containing it) for every term of `lists`."""
    single, multi = [], []
    for axis, words in lists.items():
        for word in dict.fromkeys(str(w).lower() for w in words):
            (single if re.fullmatch(r"[\w]+(?:-[\w]+)*\+?", word) else multi).append((grp, axis, word))
    if single:
        con.executemany("INSERT INTO terms VALUES (?, ?, ?)", single)
    con.execute("INSERT INTO hits SELECT t.grp, t.axis, t.term, k.doc, count(*) FROM tokens k "
                "JOIN terms t ON k.w = t.term WHERE t.grp = ? GROUP BY ALL", [grp])
    for _, axis, word in multi:  # multi-word or punctuated terms: one regex scan each
        pattern = r"(?:^|[^\pL\pN-])" + re.escape(word).replace("'", "''").replace(r"\ ", r"\s+") + r"(?:$|[^\pL\pN-])"
        con.execute(f"INSERT INTO hits SELECT ?, ?, ?, doc, len(regexp_extract_all(lt, '{pattern}')) FROM docs "
                    f"WHERE regexp_matches(lt, '{pattern}')", [grp, axis, word])


def pronouns(con: duckdb.DuckDBPyConnection, families: dict[str, list[str]], n_docs: int) -> Table:
    """Per family: documents containing it (and their share), mentions and share of mentions."""
    _count(con, "pronoun", families)
    rows = con.execute("SELECT axis, count(DISTINCT doc), sum(mentions) FROM hits WHERE grp = 'pronoun' "
                       "GROUP BY axis").fetchall()
    found = {axis: (docs, int(mentions)) for axis, docs, mentions in rows}
    gender = [f for f in families if not f.endswith("person")]
    person = [f for f in families if f.endswith("person")]
    out = []
    for group in (gender, person):
        total = sum(found.get(f, (0, 0))[1] for f in group)
        for family in group:
            docs, mentions = found.get(family, (0, 0))
            out.append((family, docs, _pct(docs, n_docs), mentions, _pct(mentions, total)))
    for label, names in (("any of he/she", ["he", "she"]), ("any pronoun", list(families))):
        (docs,) = con.execute("SELECT count(DISTINCT doc) FROM hits WHERE grp = 'pronoun' AND list_contains(?, axis)",
                              [names]).fetchone()
        out.append((label, docs, _pct(docs, n_docs), None, None))
    return ["family", "documents", "pct_documents", "mentions", "pct_mentions"], out


def identity(con: duckdb.DuckDBPyConnection, axes: dict[str, dict[str, list[str]]], n_docs: int, top: int = 5) -> Table:
    """Per axis: share of all documents mentioning any of its terms; its top terms, as Llama 2 Table 9b:
    the share, among the documents that mention the axis, of those that mention each term."""
    out = []
    for axis, buckets in axes.items():
        grp = f"identity:{axis}"
        _count(con, grp, {axis: [t for terms in buckets.values() for t in terms]})
        (docs, mentions) = con.execute("SELECT count(DISTINCT doc), coalesce(sum(mentions), 0) FROM hits WHERE grp = ?",
                                       [grp]).fetchone()
        out.append((axis, "(any term)", docs, _pct(docs, n_docs), int(mentions)))
        for term, term_docs, term_mentions in con.execute(
                "SELECT term, count(DISTINCT doc) AS d, sum(mentions) FROM hits WHERE grp = ? GROUP BY term "
                "ORDER BY d DESC, term LIMIT ?", [grp, top]).fetchall():
            out.append((axis, term, term_docs, _pct(term_docs, docs), int(term_mentions)))
    return ["axis", "term", "documents", "pct", "mentions"], out


def badword_list(path: str | Path, language: str = "en") -> list[str]:
    """The lowercased words of an LDNOOBW-style list file, or of `language`'s list in the folder `path`."""
    words = wordlists.load_words(path, language)
    if words is None:
        raise FileNotFoundError(f"bad-word list not found: {wordlists.list_path(path, language)}")
    return sorted({w.lower() for w in words})


def toxicity(con: duckdb.DuckDBPyConnection, n_docs: int, threshold: float, badwords: str | Path | None,
             badwords_language: str = "en") -> Table:
    """Score histogram and the share of documents at or above `threshold`, from every source available."""
    out = []
    cols = stats.columns(con, "documents")
    for column in [c for c in stats.signal_columns(con, "documents") if "toxic" in c.lower()]:
        bins = con.execute(f'SELECT least(floor("{column}" * 10), 9) / 10 AS b, count(*) FROM documents '
                           f'WHERE "{column}" IS NOT NULL GROUP BY b ORDER BY b').fetchall()
        for low, n in bins:
            out.append((column, f"[{low:.1f}, {low + 0.1:.1f})", n, _pct(n, n_docs)))
        (above,) = con.execute(f'SELECT count(*) FROM documents WHERE "{column}" >= {float(threshold)}').fetchone()
        out.append((column, f">= {threshold:g}", above, _pct(above, n_docs)))
    if "c4_badwords__badword" in cols:
        (n,) = con.execute("SELECT count(*) FROM documents WHERE c4_badwords__badword IS NOT NULL").fetchone()
        out.append(("c4_badwords__badword", "has a bad word", n, _pct(n, n_docs)))
    minimum = max(1, int(threshold))  # a count: the score threshold 0.5 means one match
    if "nsfw_words__matches" in cols:  # the nsfw_words stage's LDNOOBW matches per document
        out += _count_buckets(con, "nsfw_words__matches",
                              "SELECT coalesce(nsfw_words__matches, 0) AS m FROM documents", n_docs, minimum)
    if badwords is not None:
        _count(con, "badwords", {"ldnoobw": badword_list(badwords, badwords_language)})
        per_doc = ("SELECT coalesce(sum(mentions), 0) AS m FROM docs LEFT JOIN hits h "
                   "ON h.doc = docs.doc AND h.grp = 'badwords' GROUP BY docs.doc")
        out += _count_buckets(con, f"badword matches ({badwords_language})", per_doc, n_docs, minimum)
    return ["source", "bucket", "documents", "pct_documents"], out


def _count_buckets(con, source: str, per_doc: str, n_docs: int, minimum: int) -> list[tuple]:
    """Documents by number of matches (`per_doc` yields one `m` per document), and those with >= minimum."""
    bucket = ("CASE WHEN m = 0 THEN '0' WHEN m = 1 THEN '1' WHEN m <= 2 THEN '2' WHEN m <= 5 THEN '3-5' "
              "WHEN m <= 10 THEN '6-10' ELSE '>10' END")
    rows = [(source, label, n, _pct(n, n_docs)) for label, n in
            con.execute(f"SELECT {bucket} AS b, count(*) FROM ({per_doc}) GROUP BY b ORDER BY min(m)").fetchall()]
    (above,) = con.execute(f"SELECT count(*) FROM ({per_doc}) WHERE m >= {minimum}").fetchone()
    return rows + [(source, f">= {minimum}", above, _pct(above, n_docs))]


def languages(con: duckdb.DuckDBPyConnection) -> Table:
    rows = con.execute("SELECT coalesce(language, '(none)'), count(*), sum(n_chars) FROM documents "
                       "GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    docs, chars = sum(r[1] for r in rows), sum(r[2] or 0 for r in rows)
    return (["language", "documents", "pct_documents", "characters", "pct_characters"],
            [(lang, n, _pct(n, docs), c, _pct(c or 0, chars)) for lang, n, c in rows])


def analyze(out: str | Path, badwords: str | Path | None = None, threshold: float = 0.5,
            badwords_language: str = "en", terms: str | Path = TERMS) -> dict[str, Table]:
    """Pronouns, identity terms, toxicity and languages of OUT's kept documents."""
    con = stats.connect(out)
    spec = load_terms(terms)
    (n_docs,) = con.execute("SELECT count(*) FROM documents").fetchone()
    _prepare(con)
    return {
        "pronouns": pronouns(con, spec["pronouns"], n_docs),
        "identity": identity(con, spec["identity"], n_docs),
        "toxicity": toxicity(con, n_docs, threshold, badwords, badwords_language),
        "languages": languages(con),
    }


def _pct(part, whole) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None
