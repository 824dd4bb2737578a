"""Look at documents: their decision, reason, signals and text (`curate inspect`).

The decision table says how many documents a rule dropped; deciding whether the rule is right
needs the documents themselves (datatrove's `inspect_data` and Data-Juicer's tracer exist for the
same reason). This joins OUT/decisions with the text of kept documents (OUT/documents) and with
the seeded sample of dropped text that filter mode keeps (OUT/dropped, `curate.io.samples`: 20
per reason per task), so a dropped document can be read without re-running anything. Documents
whose text is stored come first; the others are shown with their decision and signals only.

In annotate mode nothing is dropped: `--reason` and `--stage` then also match the documents a
stage *would* drop (its `<stage>__reason` column), whose text is in OUT/documents.
Example: `find("out/demo", reason="gopher_quality:too_few_stop_words", n=5)`.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from curate.core.sql import files as sql_files
from curate.core.sql import identifier
from curate.tools import stats

CORE = ("language", "language_score", "n_chars", "n_words")


@dataclass
class Shown:
    """One document as `curate inspect` shows it."""

    id: str
    url: str | None
    stage: str | None
    reason: str | None
    core: dict
    signals: dict = field(default_factory=dict)  # the non-null signals of the relevant stage
    text: str | None = None


@dataclass
class Found:
    documents: list[Shown]
    matching: int  # documents matching the filters, shown or not
    sampled: bool  # whether OUT/dropped exists (a run that keeps dropped text)


def connect(out: str | Path):
    """stats.connect's views plus `texts` (id, text): kept documents and the dropped sample."""
    out = Path(out)
    con = stats.connect(out)
    dropped = sorted((out / "dropped").glob("*.parquet"))
    sample = (f"SELECT id, text FROM read_parquet({sql_files(dropped)}, union_by_name=true)" if dropped
              else "SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS text WHERE false")
    con.execute(f"CREATE VIEW texts AS SELECT id, text FROM documents UNION ALL {sample}")
    return con, bool(dropped)


def conditions(columns: dict[str, str], reason: str | None, stage: str | None, where: str | None,
               kept: bool) -> tuple[list[str], list]:
    """SQL conditions on `decisions` and their parameters; `where` is the user's own SQL."""
    sql, params = [], []
    if kept:
        sql.append("reason IS NULL")
    if reason:
        column = f"{reason.partition(':')[0]}__reason"
        would = f" OR {identifier(column)} = ?" if column in columns else ""
        sql.append(f"(reason = ?{would})")
        params += [reason] * (2 if would else 1)
    if stage:
        column = f"{stage}__reason"
        would = f" OR {identifier(column)} IS NOT NULL" if column in columns else ""
        sql.append(f"(stage = ?{would})")
        params.append(stage)
    if where:
        sql.append(f"({where})")
    return sql, params


def find(out: str | Path, reason: str | None = None, stage: str | None = None, where: str | None = None,
         kept: bool = False, n: int = 5) -> Found:
    """Up to `n` documents of OUT matching every filter given, those with stored text first."""
    con, sampled = connect(out)
    try:
        columns = stats.columns(con)
        sql, params = conditions(columns, reason, stage, where, kept)
        clause = ("WHERE " + " AND ".join(sql)) if sql else ""
        matching = con.execute(f"SELECT count(*) FROM decisions {clause}", params).fetchone()[0]
        cursor = con.execute(
            f"SELECT d.*, t.text AS curate__text FROM (SELECT * FROM decisions {clause}) d "
            "LEFT JOIN (SELECT id, any_value(text) AS text FROM texts GROUP BY id) t USING (id) "
            f"ORDER BY t.text IS NULL, d.source_file, d.id LIMIT {int(n)}", params)
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        con.close()
    focus = stage or (reason.partition(":")[0] if reason else None)
    return Found([shown(row, focus) for row in rows], matching, sampled)


def shown(row: dict, focus: str | None) -> Shown:
    namespace = focus or row.get("stage")
    prefix = f"{namespace}__" if namespace else None
    signals = {k[len(prefix):]: v for k, v in row.items()
               if prefix and k.startswith(prefix) and v is not None and k != f"{namespace}__reason"}
    would = row.get(f"{namespace}__reason") if namespace else None
    return Shown(id=row["id"], url=row.get("url"), stage=row.get("stage"), reason=row.get("reason") or would,
                 core={k: row.get(k) for k in CORE if row.get(k) is not None}, signals=signals,
                 text=row.get("curate__text"))


def render(found: Found, chars: int = 500, width: int | None = None) -> str:
    """The documents as terminal text: a header line each, signals, the first `chars` of text, wrapped."""
    width = width or min(shutil.get_terminal_size((100, 24)).columns, 100)
    if not found.documents:
        return f"no documents match ({found.matching} in the decision table)"
    blocks = [f"{len(found.documents)} of {found.matching:,} matching document(s)"]
    for i, doc in enumerate(found.documents, 1):
        blocks.append("\n".join(_render_one(i, doc, found.sampled, chars, width)))
    return "\n\n".join(blocks)


def _render_one(i: int, doc: Shown, sampled: bool, chars: int, width: int) -> list[str]:
    decision = "kept" if doc.stage is None else f"dropped by {doc.stage}"
    if doc.reason and doc.stage is None:
        decision += f" (would drop: {doc.reason})"
    elif doc.reason:
        decision += f": {doc.reason}"
    lines = [f"[{i}] {doc.id}", f"    url: {doc.url or '-'}", f"    {decision}"]
    if doc.core:
        lines.append("    " + "  ".join(f"{k}={_value(v)}" for k, v in doc.core.items()))
    if doc.signals:
        lines += textwrap.wrap("  ".join(f"{k}={_value(v)}" for k, v in doc.signals.items()), width,
                               initial_indent="    signals: ", subsequent_indent="      ")
    if doc.text is None:
        why = ("not in this task's sample of dropped text" if sampled and doc.stage
               else "not stored (dropped by the reader, or a run made before the dropped sample)")
        lines.append(f"    text: {why}")
        return lines
    head = doc.text[:chars] + (" ..." if len(doc.text) > chars else "")
    lines.append(f"    text ({len(doc.text):,} chars stored):")
    for para in re.split(r"\n\s*\n", head):  # a paragraph per block; its line breaks shown as ⏎
        text = " ⏎ ".join(line.strip() for line in para.splitlines() if line.strip())
        lines += textwrap.wrap(text, width, initial_indent="    | ", subsequent_indent="    | ") or ["    |"]
    return lines


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)
