"""`curate eval-extract`: word-F1, snippet accuracy and speed of extractors on gold pages.

Word-F1 is WCXB's definition: precision and recall over the multisets of lowercased `\\w+` tokens of
the extracted text and the gold `main_content`, averaged over pages (a page with empty gold scores 1
if the extraction is empty too, else 0), overall and per page type. The gold text is the page's main
content without readers' comments: Dragnet's gold files hold its article and then, after a marker line,
the comments (its README: "any text appearing before this string in the file is the main article"), so
its article is scored, and the F1 against the file as published is reported beside it. Snippet accuracy is
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
# Dragnet's gold files put readers' comments after a line of this marker, typed by hand (`!@#$%^&*()  COMMENTS`
# and 20 variants): the text before it is the article, what the set means by content.
COMMENTS_MARKER = re.compile(r"^[ \t]*[!@#$%^&*()][!@#$%^&*() \t]{4,}COMMENTS[ \t]*\r?$", re.M)
PEERS = ("datatrove", "trafilatura")
FAULTS = ("extract:timeout", "extract:crashed", "extract:error")
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
    """[{id, html, gold, type, published, comments}] from a WCXB-layout folder or archive (`ground-truth/ID.json`,
    `html/ID.html[.gz]`): `gold` is the main content without the readers' comments that Dragnet's gold marks
    (`comments`), `published` the gold text as the file holds it."""
    gold, html = {}, {}
    for name, data in _files(path):
        parts = name.split("/")
        if len(parts) >= 2 and parts[-2] == "ground-truth" and name.endswith(".json"):
            record = json.loads(data)
            page_type = (record.get("_internal") or {}).get("page_type", {}).get("primary")
            text = (record.get("ground_truth") or {}).get("main_content") or ""
            article, comments = split_comments(text)
            gold[Path(name).stem] = {"gold": article, "type": page_type or "unknown",
                                     "group": parts[-3] if len(parts) >= 3 else "", "published": text, "comments": comments}
        elif len(parts) >= 2 and parts[-2] == "html" and (name.endswith(".html") or name.endswith(".html.gz")):
            html[parts[-1].split(".")[0]] = _html(data, name)
    ids = sorted(set(gold) & set(html))
    if not ids:
        raise FileNotFoundError(f"{path}: no pages in WCXB layout (ground-truth/ID.json with html/ID.html[.gz])")
    if limit:
        ids = ids[:: max(1, len(ids) // limit)][:limit]  # spread over the ids, so every page type shows
    return [{"id": i, "html": html[i]} | gold[i] for i in ids]


def split_comments(text: str) -> tuple[str, str]:
    """(article, readers' comments) of a gold text: Dragnet's marks where the comments begin; others have none."""
    parts = COMMENTS_MARKER.split(text, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (text, "")


def load_sets(path: Path, limit: int | None = None) -> dict[str, list[dict]]:
    """{set name: pages} from a gold folder or archive: one set per folder holding `ground-truth/` and
    `html/` (the cleaning sets archive holds four), named after it, or after `path` if there is one."""
    pages = load_wcxb(path, None)
    groups: dict[str, list[dict]] = defaultdict(list)
    for page in pages:
        groups[page.pop("group")].append(page)
    name = Path(path).name.split(".")[0]
    sets = {name: groups.popitem()[1]} if len(groups) == 1 else dict(sorted(groups.items()))
    if limit:
        sets = {k: v[:: max(1, len(v) // limit)][:limit] for k, v in sets.items()}
    return sets


def is_heldout(page_id: str) -> bool:
    """The held-out split: pages whose id's digits make an odd number (WCXB's odd ids, `dragnet-101`, ...)."""
    return int(re.sub(r"\D", "", page_id) or 0) % 2 == 1


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


def run_extractor(step, pages: list[dict], progress=None) -> tuple[dict[str, str], dict[str, str], float, float]:
    """(text by id, extractor by id, CPU seconds, wall seconds) for `pages` through `step`;
    `progress()` after each page."""
    docs = [Document(text=p["html"], id=p["id"], metadata={"read__warc_type": "response",
            "read__content_type": "text/html", "read__payload_bytes": len(p["html"].encode())}) for p in pages]
    cpu, wall = _cpu(), time.perf_counter()
    out = []
    for doc in step.run(iter(docs)):
        out.append(doc)
        if progress:
            progress()
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
        by_type["heldout" if is_heldout(page["id"]) else "tuning"].append(prf)
    return {key: {m: round(sum(x[i] for x in v) / len(v), 4) for i, m in enumerate(("precision", "recall", "f1"))}
            | {"pages": len(v)} for key, v in sorted(by_type.items())}


def score_published(texts: dict[str, str], pages: list[dict]) -> dict:
    """F1 against the gold text as the file holds it: with the readers' comments that Dragnet's gold marks."""
    scores = score_wcxb(texts, [p | {"gold": p["published"]} for p in pages])
    return {"f1": scores["all"]["f1"], "f1_heldout": scores.get("heldout", {}).get("f1"),
            "pages_with_comments": sum(bool(p["comments"]) for p in pages)}


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


def evaluate(paths, extractors=DEFAULT_EXTRACTORS, snippets: Path | None = None, limit: int | None = None,
             timeout: float | None = None, log=lambda msg: print(msg, file=sys.stderr), progress=None,
             repeat: int = 1) -> dict:
    """Every figure of `curate eval-extract` for one gold path or several; the first of `extractors` is
    the default one. The top-level keys are the first set's (`f1`, `ratio_vs_datatrove`, ...); `sets`
    holds every set's, with its held-out split, the per-page oracle of all extractors run and whether
    the default is at least as good as every peer on the held-out split (`beats_peers_heldout`).
    `progress(done, total, phase, unit)` (curate.core.progress) hears of every page extracted. `repeat` runs
    every extractor that many times over each set, in turn (all of them, then all again), and counts each
    one's lowest CPU time: a slow spell of a shared machine then weighs on one run of each, not on one
    extractor's only run; the texts are the first run's."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    sets = {name: pages for path in paths for name, pages in load_sets(Path(path), limit).items()}
    snippet_pages = load_snippets(Path(snippets), limit) if snippets else []
    n_pages = sum(len(pages) for pages in sets.values())
    log(f"{n_pages} gold pages in {len(sets)} set(s) ({', '.join(sets)}), {len(snippet_pages)} snippet pages")
    done, total = [0], (len(extractors) + len(PEERS)) * (n_pages * repeat + len(snippet_pages))

    def page_done():
        done[0] += 1
        if progress:
            progress(done[0], total, "extracting", "page")

    summaries = {}
    for set_name, pages in sets.items():
        results, per_page, runs = {}, {}, {}
        for attempt in range(repeat):
            for name in (*extractors, *PEERS):
                texts, used, cpu, wall = run_extractor(build(name, timeout), pages, page_done)
                runs.setdefault(name, (texts, used, []))[2].append((cpu, wall))
                if repeat > 1:
                    log(f"{set_name} {name}, run {attempt + 1} of {repeat}: {len(pages) / cpu:.1f} docs/s per core")
        for name, (texts, used, times) in runs.items():
            cpu, wall = min(times)
            results[name] = {"wcxb": score_wcxb(texts, pages), "docs_per_s": round(len(pages) / cpu, 1),
                             "wall_docs_per_s": round(len(pages) / wall, 1), "outcomes": dict(Counter(used.values())),
                             "lost": lost(pages, used), "every_cpu_s": [round(c, 3) for c, _ in times]}
            per_page[name] = [word_prf(texts.get(p["id"], ""), p["gold"])[2] for p in pages]
            if any(p["comments"] for p in pages):
                results[name]["published"] = score_published(texts, pages)
            log(f"{set_name} {name}: F1 {results[name]['wcxb']['all']['f1']:.4f}, "
                f"{results[name]['docs_per_s']} docs/s per core")
        if snippet_pages and not summaries:
            for name in (*extractors, *PEERS):
                texts = run_extractor(build(name, timeout), snippet_pages, page_done)[0]
                results[name]["snippets"] = score_snippets(texts, snippet_pages)
        summaries[set_name] = summarise(results, extractors[0]) | {"oracle": oracle(per_page, pages)}
    first = next(iter(summaries.values()))
    return first | {"sets": {name: set_figures(summary) for name, summary in summaries.items()}}


def lost(pages: list[dict], used: dict[str, str]) -> dict[str, int]:
    """Pages that came back without a text for a fault rather than a choice, by split: the extractor timed out,
    crashed or failed, or the step did not return the page (datatrove's drops a page on a timeout or an
    error and, without saying which, on an empty text). Each scores 0, so a figure they pull down reads as
    the extractor's quality though it is its time or its robustness."""
    faulty = [p for p in pages if p["id"] not in used or used[p["id"]] in FAULTS]
    return {"all": len(faulty), "heldout": sum(is_heldout(p["id"]) for p in faulty)}


def oracle(per_page: dict[str, list[float]], pages: list[dict]) -> dict:
    """Mean over pages of the best F1 any extractor reached on the page, overall and per split."""
    best = [max(scores) for scores in zip(*per_page.values())]
    split = {"all": list(range(len(pages))),
             "tuning": [i for i, p in enumerate(pages) if not is_heldout(p["id"])],
             "heldout": [i for i, p in enumerate(pages) if is_heldout(p["id"])]}
    return {key: round(sum(best[i] for i in idx) / len(idx), 4) for key, idx in split.items() if idx}


def set_figures(summary: dict) -> dict:
    """One set's figures for the JSON line: the default's, each extractor's, the best peer's on held-out pages."""
    extractors = summary["extractors"]
    peers = {name: r["f1_heldout"] for name, r in extractors.items() if name in PEERS + ("resiliparse_extract",)}
    best_peer = max(peers, key=peers.get) if peers else None
    return {"pages": extractors[summary["default"]]["pages"], "f1": summary["f1"], "f1_heldout": summary["f1_heldout"],
            "docs_per_s": summary["docs_per_s"], "ratio_vs_datatrove": summary["ratio_vs_datatrove"],
            "oracle": summary["oracle"], "best_peer_heldout": [best_peer, peers.get(best_peer)],
            "beats_peers_heldout": bool(best_peer) and summary["f1_heldout"] >= peers[best_peer],
            "extractors": {name: {k: r[k] for k in ("f1", "f1_heldout", "precision", "recall", "docs_per_s", "lost")}
                           | ({"published": r["published"]} if r.get("published") else {})
                           for name, r in extractors.items()}}


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
                              "precision": r["wcxb"]["all"]["precision"], "recall": r["wcxb"]["all"]["recall"],
                              "pages": r["wcxb"]["all"]["pages"], "lost": r["lost"],
                              "docs_per_s": r["docs_per_s"], "every_cpu_s": r["every_cpu_s"],
                              "ratio_vs_datatrove": round(r["docs_per_s"] / dt["docs_per_s"], 2),
                              "snippets": r.get("snippets"), "published": r.get("published"),
                              "by_type": {t: s["f1"] for t, s in r["wcxb"].items()}} for name, r in results.items()},
        "outcomes": {name: r["outcomes"] for name, r in results.items()},
    }
