"""Benchmark items, read from the files evaluation suites ship, for decontamination.

Every record becomes an `Item`: its benchmark (`gsm8k`, `mmlu`, `arc_easy`, ...), an id that
points back at the record (`FILE#N`: the N-th record, from 0, of FILE relative to the folder given;
`ARCHIVE/MEMBER#N` inside a tar archive, read in place) and four canonical fields:

| field | gsm8k | humaneval | truthfulqa (CSV / mc JSON) | mmlu | hellaswag | llm-foundry ICL |
|---|---|---|---|---|---|---|
| context | | | | | ctx | passage, `context`, the chosen `context_options` |
| question | question | prompt | Question / question | question | | query without "Question:"-style labels |
| choices | | | correct + incorrect answers / mc1 targets | choice0..3 | endings | choices (or the "Choices:" lines) |
| answer | answer, `<<calc>>` marks removed | canonical_solution | Best Answer / mc1 true target | | gold ending | gold choice, continuation or answer |

The format is told by the record's keys (or the CSV header), not by the file name; a file in no
known format is skipped and reported. `DEFAULT_FIELDS` says which fields form an item's text, in the
order context, question, choices, answer: the benchmark's prompt and its gold answer, as datatrove
indexes lighteval tasks (query + gold), except MMLU, whose pages list the four choices.
Example: `items(["../shared/data/benchmarks"], {"gsm8k": ["question"]})`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

FIELDS = ("context", "question", "choices", "answer")
DEFAULT_FIELDS = {
    "gsm8k": ["question", "answer"],
    "humaneval": ["question", "answer"],
    "truthfulqa": ["question", "answer"],
    "truthfulqa_mc": ["question", "answer"],
    "mmlu": ["question", "choices"],
    "hellaswag": ["context", "answer"],
    "icl": ["context", "question", "answer"],
}
SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".csv", ".tar.xz", ".tar.gz", ".tar")
CALC = re.compile(r"<<[^>]*>>")
ICL_LABEL = re.compile(r"^\s*(Question|Context|Passage|Answer|Choices):\s*", re.M)
ICL_CHOICE = re.compile(r"^\s*[A-E][.)]\s+(.*)$")
CATEGORY = re.compile(r"^[A-Z0-9][A-Z0-9 &'\"\-.,!?/]*:\s+")  # Jeopardy's "WORLD HISTORY: " prefix


@dataclass
class Item:
    benchmark: str
    item_id: str
    format: str
    fields: dict = field(default_factory=dict)

    def text(self, names: list[str]) -> str:
        parts = []
        for name in FIELDS:
            value = self.fields.get(name) if name in names else None
            if isinstance(value, list):
                parts += [v for v in value if v]
            elif value:
                parts.append(value)
        return "\n".join(parts)


@dataclass
class LoadReport:
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "FILE: why"
    corrupt: int = 0


def _gsm8k(r):
    return {"question": r["question"], "answer": CALC.sub("", r["answer"]).replace("####", "")}


def _humaneval(r):
    return {"question": r["prompt"], "answer": r["canonical_solution"]}


def _hellaswag(r):
    endings = list(r["endings"])
    gold = r.get("label")
    return {"context": r["ctx"], "choices": endings,
            "answer": endings[int(gold)] if str(gold).lstrip("-").isdigit() and 0 <= int(gold) < len(endings) else None}


def _icl(r):
    out = {}
    if "context_options" in r:  # WinoGrande, WSC: the sentence with its gold option filled in
        options = r["context_options"]
        out["context"] = options[r.get("gold", 0)] if options else None
        out["answer"] = r.get("continuation")
        return out
    if "query" in r:
        query, _, block = r["query"].partition("\nChoices:\n")
        inline = [m.group(1) for line in block.splitlines() if (m := ICL_CHOICE.match(line))]
        passage, sep, question = query.rpartition("\nQuestion:")
        if sep and passage.lstrip().startswith(("Passage:", "Context:")):
            out["context"] = ICL_LABEL.sub("", passage).strip()
            query = question
        out["question"] = ICL_LABEL.sub("", query).strip()
        choices = [c for c in r.get("choices", []) if isinstance(c, str)]
        if inline or all(len(c.strip()) <= 1 for c in choices):
            choices = inline
        out["choices"] = choices
        gold = r.get("gold")
        if isinstance(gold, int) and 0 <= gold < len(choices):
            out["answer"] = choices[gold]
        return out
    context = ICL_LABEL.sub("", r.get("context", "")).strip()
    if "category" in r:
        context = CATEGORY.sub("", context, count=1)
    out["question" if "answer" in r else "context"] = context
    out["answer"] = r.get("continuation", r.get("answer"))
    return out


def _truthfulqa_mc(r):
    targets = r.get("mc1_targets") or {}
    return {"question": r["question"], "choices": list(targets),
            "answer": next((t for t, label in targets.items() if label == 1), None)}


def _truthfulqa(r):
    split = [a.strip() for key in ("Correct Answers", "Incorrect Answers") for a in (r.get(key) or "").split(";")]
    return {"question": r["Question"], "answer": r.get("Best Answer"), "choices": [a for a in split if a]}


def _mmlu(r):
    choices = [r[k] for k in sorted(r) if k.startswith("choice") and r[k]]
    return {"question": r["question"], "choices": choices}


CONVERTERS = {"gsm8k": _gsm8k, "humaneval": _humaneval, "hellaswag": _hellaswag, "icl": _icl,
              "truthfulqa_mc": _truthfulqa_mc, "truthfulqa": _truthfulqa, "mmlu": _mmlu}
NAMED = {"gsm8k", "humaneval", "hellaswag", "truthfulqa", "truthfulqa_mc", "mmlu"}  # else: the file's stem


def detect(record: dict) -> str | None:
    """The format of one JSON record or CSV row, from its keys."""
    keys = set(record)
    if {"task_id", "prompt", "canonical_solution"} <= keys:
        return "humaneval"
    if {"ctx", "endings"} <= keys:
        return "hellaswag"
    if "mc1_targets" in keys:
        return "truthfulqa_mc"
    if {"Question", "Best Answer"} <= keys:
        return "truthfulqa"
    if "question" in keys and "choice0" in keys:
        return "mmlu"
    if {"question", "answer"} <= keys:
        return "gsm8k"
    if keys & {"query", "context_options"} or "context" in keys:
        return "icl"
    return None


def _records(name: str, data: bytes, report: LoadReport):
    """Raw records of one file: dicts, or None for a record that does not parse (counted)."""
    if name.endswith(".gz"):
        data = gzip.decompress(data)
        name = name[:-3]
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".csv"):
        yield from csv.DictReader(io.StringIO(text))
    elif name.endswith(".json"):
        records = json.loads(text)
        yield from (records if isinstance(records, list) else records.get("data", []))
    else:
        for line in text.split("\n"):  # not splitlines(): records may hold \x85 or \u2028
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    yield None


def _file_items(rel: str, data: bytes, fmt_fields: dict, report: LoadReport):
    fmt, stem = None, Path(rel).name.split(".")[0]
    for n, record in enumerate(_records(rel, data, report)):
        if not isinstance(record, dict):
            report.corrupt += 1
            continue
        fmt = fmt or detect(record)
        if fmt is None:
            report.skipped.append(f"{rel}: not a known benchmark format (keys {sorted(record)[:6]})")
            return
        try:
            fields = CONVERTERS[fmt](record)
        except (KeyError, IndexError, TypeError, ValueError):
            report.corrupt += 1
            continue
        benchmark = ("truthfulqa" if fmt.startswith("truthfulqa") else fmt) if fmt in NAMED else stem
        item = Item(benchmark, f"{rel}#{n}", fmt, fields)
        if item.text(fmt_fields.get(fmt, DEFAULT_FIELDS[fmt])).strip():
            yield item
    if fmt is not None:
        report.files.append(rel)


def _sources(root: Path):
    """(relative name, bytes) of every benchmark file under `root` (or `root` itself), archive
    members included."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        rel = path.name if root.is_file() else path.relative_to(root).as_posix()
        if not path.name.endswith(SUFFIXES):
            continue
        if ".tar" in path.name:
            with tarfile.open(path) as tar:
                for member in tar:
                    if member.isfile() and member.name.endswith(SUFFIXES):
                        yield f"{rel}/{member.name}", tar.extractfile(member).read()
        else:
            yield rel, path.read_bytes()


def items(paths: list[str | Path], fields: dict | None = None, report: LoadReport | None = None) -> list[Item]:
    """Every item of every benchmark file under `paths`, in a stable order."""
    fmt_fields = {**DEFAULT_FIELDS, **(fields or {})}
    for fmt, names in fmt_fields.items():
        if fmt not in DEFAULT_FIELDS:
            raise ValueError(f"unknown benchmark format {fmt!r}; known: {', '.join(DEFAULT_FIELDS)}")
        if unknown := set(names) - set(FIELDS):
            raise ValueError(f"unknown field(s) {sorted(unknown)} for {fmt}; fields are {', '.join(FIELDS)}")
    report = report if report is not None else LoadReport()
    out = []
    for path in paths:
        root = Path(path)
        if not root.exists():
            raise FileNotFoundError(f"benchmark path not found: {root}")
        for rel, data in _sources(root):
            try:
                out += _file_items(rel, data, fmt_fields, report)
            except (UnicodeDecodeError, json.JSONDecodeError, csv.Error, OSError) as error:
                raise ValueError(f"{root / rel}: cannot read benchmark file: {error}") from error
    return out
