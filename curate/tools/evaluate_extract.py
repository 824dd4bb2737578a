"""`curate eval-extract`: word-F1, snippet accuracy and speed of extractors on gold pages.

Word-F1 is WCXB's definition: precision and recall over the multisets of lowercased `\\w+` tokens of
the extracted text and the gold `main_content`, averaged over pages (a page with empty gold scores 1
if the extraction is empty too, else 0), overall and per page type. Snippet accuracy is
trafilatura's evaluation (`evaldata.json`): a page's `with` snippets must be in the text, its
`without` snippets must not. Speed is pages per CPU-second of this process and its children (the
extraction sandboxes), so per core whatever else loads the machine, measured on the same pages in
the same run for curate's stages and for two peers: datatrove's `Trafilatura` step with its defaults
and `trafilatura.extract` with trafilatura's defaults (the per-type reference).

Example: `evaluate(Path("wcxb_dev.tar.xz"), ["extract", "resiliparse_extract"])`.
"""

from __future__ import annotations

import gzip
import json
import re
import resource
import sys
import tarfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from datatrove.data import Document

from curate.core import registry
from curate.io.readers import decode_html

WORD = re.compile(r"\w+")
PEERS = ("datatrove", "trafilatura")
DEFAULT_EXTRACTORS = ("extract", "resiliparse_extract", "trafilatura_extract")


def _files(path: Path):
    """(name, bytes) of every file under a folder, or inside a .tar/.tar.xz/.tar.gz archive."""
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.is_file():
                yield file.as_posix(), file.read_bytes()
        return
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile():
                yield member.name, tar.extractfile(member).read()


def _html(data: bytes, name: str) -> str:
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    decoded = decode_html(data, None)
    return decoded[0] if decoded else data.decode("utf-8", "replace")


def load_wcxb(path: Path, limit: int | None = None) -> list[dict]:
    """[{id, html, gold, type}] from a WCXB-layout folder or archive (`ground-truth/ID.json`, `html/ID.html[.gz]`)."""
    gold, html = {}, {}
    for name, data in _files(path):
        parts = name.split("/")
        if len(parts) >= 2 and parts[-2] == "ground-truth" and name.endswith(".json"):
            record = json.loads(data)
            page_type = (record.get("_internal") or {}).get("page_type", {}).get("primary")
            gold[Path(name).stem] = ((record.get("ground_truth") or {}).get("main_content") or "", page_type)
        elif len(parts) >= 2 and parts[-2] == "html" and (name.endswith(".html") or name.endswith(".html.gz")):
            html[parts[-1].split(".")[0]] = _html(data, name)
    ids = sorted(set(gold) & set(html))
    if not ids:
        raise FileNotFoundError(f"{path}: no pages in WCXB layout (ground-truth/ID.json with html/ID.html[.gz])")
    if limit:
        ids = ids[:: max(1, len(ids) // limit)][:limit]  # spread over the ids, so every page type shows
    return [{"id": i, "html": html[i], "gold": gold[i][0], "type": gold[i][1] or "unknown"} for i in ids]


def load_snippets(path: Path, limit: int | None = None) -> list[dict]:
    """[{id, html, with, without}] from a folder holding trafilatura's `evaldata.json` and its HTML
    (as files or inside a tar archive in that folder)."""
    evaldata = json.loads((path / "evaldata.json").read_text())
    wanted = {entry["file"]: entry for entry in evaldata.values()}
    found = {}
    sources = [path] + sorted(p for p in path.iterdir() if p.name.endswith((".tar", ".tar.xz", ".tar.gz")))
    for source in sources:
        for name, data in _files(source) if source != path else _html_files(path):
            base = name.rsplit("/", 1)[-1]
            if base in wanted and base not in found:
                found[base] = _html(data, name)
    names = sorted(found)[:: max(1, len(found) // limit)][:limit] if limit else sorted(found)
    return [{"id": n, "html": found[n], "with": wanted[n]["with"], "without": wanted[n]["without"]} for n in names]


def _html_files(path: Path):
    for file in sorted(path.rglob("*.htm*")):
        yield file.as_posix(), file.read_bytes()


def word_prf(predicted: str, reference: str) -> tuple[float, float, float]:
    """WCXB's word-level (precision, recall, F1)."""
    pred, ref = Counter(WORD.findall(predicted.lower())), Counter(WORD.findall(reference.lower()))
    if not ref:
        return (1.0, 1.0, 1.0) if not pred else (0.0, 0.0, 0.0)
    if not pred:
        return 0.0, 0.0, 0.0
    overlap = sum((pred & ref).values())
    p, r = overlap / sum(pred.values()), overlap / sum(ref.values())
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def build(name: str, timeout: float | None = None):
    """A step that extracts: a registered extraction stage, or a peer (`datatrove`, `trafilatura`)."""
    if name == "datatrove":
        from datatrove.pipeline.extractors import Trafilatura

        return Trafilatura()  # its defaults: favour_precision, 1 s timeout
    if name == "trafilatura":
        return _PlainTrafilatura()
    spec = registry.get(name)
    if spec.kind != "extract":
        raise ValueError(f"{name!r} is not an extraction stage")
    return spec.load()(**({"timeout": timeout} if timeout else {}), emit_dropped=True)


class _PlainTrafilatura:
    """`trafilatura.extract(html)` with trafilatura's own defaults, in this process."""

    def run(self, data, rank=0, world_size=1):
        import trafilatura

        for doc in data:
            doc.text = trafilatura.extract(doc.text) or ""
            yield doc


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_extractor(step, pages: list[dict]) -> tuple[dict[str, str], dict[str, str], float, float]:
    """(text by id, extractor by id, CPU seconds, wall seconds) for `pages` through `step`."""
    docs = [Document(text=p["html"], id=p["id"], metadata={"read__warc_type": "response",
            "read__content_type": "text/html", "read__payload_bytes": len(p["html"].encode())}) for p in pages]
    cpu, wall = _cpu(), time.perf_counter()
    out = list(step.run(iter(docs)))
    cpu, wall = _cpu() - cpu, time.perf_counter() - wall  # sandboxes are joined by now, so counted
    texts = {d.id: ("" if "curate__reason" in d.metadata else d.text) for d in out}
    used = {d.id: d.metadata.get("extract__extractor") or d.metadata.get("curate__reason") for d in out}
    return texts, used, cpu, wall


def score_wcxb(texts: dict[str, str], pages: list[dict]) -> dict:
    by_type: dict[str, list] = defaultdict(list)
    for page in pages:
        prf = word_prf(texts.get(page["id"], ""), page["gold"])
        by_type["all"].append(prf)
        by_type[page["type"]].append(prf)
        by_type["heldout" if int(re.sub(r"\D", "", page["id"]) or 0) % 2 else "tuning"].append(prf)
    return {key: {m: round(sum(x[i] for x in v) / len(v), 4) for i, m in enumerate(("precision", "recall", "f1"))}
            | {"pages": len(v)} for key, v in sorted(by_type.items())}


def score_snippets(texts: dict[str, str], pages: list[dict]) -> dict:
    tp = fn = tn = fp = 0
    for page in pages:
        text = texts.get(page["id"], "")
        hits = [s in text for s in page["with"]]
        tp, fn = tp + sum(hits), fn + len(hits) - sum(hits)
        leaks = [s in text for s in page["without"]]
        fp, tn = fp + sum(leaks), tn + len(leaks) - sum(leaks)
    total = tp + fn + tn + fp
    return {"accuracy": round((tp + tn) / total, 4) if total else None,
            "with_accuracy": round(tp / (tp + fn), 4) if tp + fn else None,
            "without_accuracy": round(tn / (tn + fp), 4) if tn + fp else None}


def evaluate(path: Path, extractors=DEFAULT_EXTRACTORS, snippets: Path | None = None, limit: int | None = None,
             timeout: float | None = None, log=lambda msg: print(msg, file=sys.stderr)) -> dict:
    """Every figure of `curate eval-extract`; the first of `extractors` is the default one (`f1`)."""
    pages = load_wcxb(Path(path), limit)
    snippet_pages = load_snippets(Path(snippets), limit) if snippets else []
    log(f"{len(pages)} WCXB pages, {len(snippet_pages)} snippet pages")
    results = {}
    for name in (*extractors, *PEERS):
        texts, used, cpu, wall = run_extractor(build(name, timeout), pages)
        result = {"wcxb": score_wcxb(texts, pages), "docs_per_s": round(len(pages) / cpu, 1),
                  "wall_docs_per_s": round(len(pages) / wall, 1), "outcomes": dict(Counter(used.values()))}
        if snippet_pages:
            result["snippets"] = score_snippets(run_extractor(build(name, timeout), snippet_pages)[0], snippet_pages)
        results[name] = result
        log(f"{name}: F1 {result['wcxb']['all']['f1']:.4f}, {result['docs_per_s']} docs/s per core")
    return summarise(results, extractors[0])


def summarise(results: dict, default: str) -> dict:
    ours, dt, plain = results[default], results["datatrove"], results["trafilatura"]
    gaps = {t: round(plain["wcxb"][t]["f1"] - s["f1"], 4) for t, s in ours["wcxb"].items()
            if t not in ("tuning", "heldout")}
    return {
        "default": default,
        "f1": ours["wcxb"]["all"]["f1"],
        "f1_heldout": ours["wcxb"].get("heldout", {}).get("f1"),
        "docs_per_s": ours["docs_per_s"],
        "datatrove_docs_per_s": dt["docs_per_s"],
        "ratio_vs_datatrove": round(ours["docs_per_s"] / dt["docs_per_s"], 2),
        "worst_type_gap_vs_trafilatura": max(gaps.items(), key=lambda kv: kv[1]),
        "extractors": {name: {"f1": r["wcxb"]["all"]["f1"], "f1_heldout": r["wcxb"].get("heldout", {}).get("f1"),
                              "docs_per_s": r["docs_per_s"],
                              "ratio_vs_datatrove": round(r["docs_per_s"] / dt["docs_per_s"], 2),
                              "snippets": r.get("snippets"),
                              "by_type": {t: s["f1"] for t, s in r["wcxb"].items()}} for name, r in results.items()},
        "outcomes": {name: r["outcomes"] for name, r in results.items()},
    }


def render(summary: dict) -> list[tuple]:
    """Rows (extractor, F1, held-out F1, snippet accuracy, docs/s/core, ratio) for a table."""
    return [(name, r["f1"], r["f1_heldout"], (r["snippets"] or {}).get("accuracy"), r["docs_per_s"],
             r["ratio_vs_datatrove"]) for name, r in summary["extractors"].items()]
