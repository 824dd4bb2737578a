"""End to end, one core: `pipelines/fineweb.yaml` through curate's runner against datatrove's FineWeb
recipe, on the same real pages in one run (issue 15's speed bar: the ratio stays >= 3x).

datatrove's side is its examples/fineweb.py up to PII, as FineWeb ran it: WarcReader -> Trafilatura
(favour_precision, 1 s timeout) -> LanguageFilter (en, 0.65) -> GopherRepetitionFilter ->
GopherQualityFilter -> C4QualityFilter(filter_no_terminal_punct=False) -> FineWebQualityFilter ->
PIIFormatter -> JsonlWriter, each filter writing what it removes. URL filtering is left out on both
sides (fineweb.yaml has none); `languages="en"` is FineWeb's English (LanguageFilter's default is
now every language). Both run offline: datatrove's English word tokenizer is `spacy.blank("en")`
with spaCy's rule-based sentencizer (nothing to download), and its LanguageFilter gets the same
lid.176.ftz as curate's `fasttext_lang` (its default downloads lid.176.bin; given a local path, its
"download" is a copy).

Pages: the HTML of WCXB dev (1,497) and of trafilatura's evaluation set (1,032) from ../shared/data
html_gold, written into one gzipped WARC (warcio) headed as Common Crawl heads its records.
datatrove's WarcReader needs python-magic, not a curate dependency: where it is missing, datatrove
reads the same pages from a gzipped JSONL, decoded as its WarcReader decodes them (UTF-8, else
cchardet's guess), so it skips the WARC parsing curate still does and the ratio errs its way.

Each side runs in a fresh Python process pinned to one core (the affinity is inherited), 1 task
and 1 worker (so datatrove runs the task in that process). Its cost is the CPU seconds of that
process and of the children it waited for (the extraction sandboxes, joined when the step ends),
from after its imports to the end of its last write, as `curate eval-extract` counts them. Both
write their kept documents (curate also its decision table). Printed: pages kept by each and by
both (and how many of those with the same text, PII placeholders aside), drops per stage, wall
seconds per step. `--extractor trafilatura_extract` puts FineWeb's extractor in place of `extract`:
then the two recipes must keep the same pages with the same text. `--repeat 2` runs each side
twice (curate, datatrove, datatrove, curate) and counts each side's lowest CPU time.

    .venv/bin/python -m bench.e2e           # 2,529 pages
    .venv/bin/python -m bench.e2e --quick   # 317 pages, under a minute
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = Path(os.environ.get("CURATE_SHARED_DATA", ROOT.parent / "shared" / "data"))
ARCHIVES = {"wcxb_dev": "html_gold/wcxb_dev/wcxb_dev.tar.xz",
            "trafilatura_eval": "html_gold/trafilatura_eval/trafilatura_tests_eval_cache_html.tar.xz"}
LID_MODEL = SHARED / "models" / "lid.176.ftz"
RECIPE = ROOT / "pipelines" / "fineweb.yaml"
QUICK_STRIDE = 8  # every 8th page of each set: 317 pages
BAR = 3.0


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process and of its waited-for children (as curate.tools.evaluate_extract._cpu)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time(), children.ru_utime + children.ru_stime


def timed(fn) -> dict:
    """Run `fn()`; the CPU seconds it took in this process and in the children it waited for."""
    before = cpu_seconds()
    fn()
    after = cpu_seconds()
    own, children = after[0] - before[0], after[1] - before[1]
    return {"cpu_s": own + children, "children_cpu_s": children}


def digest(text: str) -> str:
    """A hash of the text with PII placeholders made equal: datatrove cycles through its replacement
    addresses across the whole task, curate within each document (same strings, other order)."""
    from curate.filters.pii_mask import EMAIL_REPLACEMENT, IP_REPLACEMENT

    for placeholder in EMAIL_REPLACEMENT + IP_REPLACEMENT:
        text = text.replace(placeholder, "<pii>")
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def html_pages(stride: int = 1, shared: Path = SHARED) -> list[tuple[str, bytes]]:
    """(url, html bytes) of every `stride`-th page of each set, in archive order."""
    pages = []
    for name, archive in ARCHIVES.items():
        with tarfile.open(shared / archive) as tar:
            members = [m for m in tar if m.isfile() and m.name.endswith(".html")]
            for member in members[::stride]:
                pages.append((f"https://{name}.example/{member.name}", tar.extractfile(member).read()))
    return pages


def write_warc(pages: list[tuple[str, bytes]], folder: Path) -> Path:
    """One gzipped WARC of response records, headed as Common Crawl heads them."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "crawl.warc.gz", "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i, (url, html) in enumerate(pages):
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(html), http_headers=http,
                warc_headers_dict={"WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>",
                                   "WARC-Date": "2024-01-01T00:00:00Z", "WARC-Identified-Payload-Type": "text/html"}))
    return folder / "crawl.warc.gz"


def write_jsonl(pages: list[tuple[str, bytes]], folder: Path) -> Path:
    """The same pages as datatrove's WarcReader would yield them: id, url and the decoded HTML."""
    import gzip

    import cchardet

    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "pages.jsonl.gz", "wt", encoding="utf-8") as f:
        for i, (url, html) in enumerate(pages):
            try:
                text = html.decode("utf-8")
            except UnicodeDecodeError:  # datatrove's process_record: cchardet's guess, or skip the page
                try:
                    text = html.decode(cchardet.detect(html)["encoding"] or "")
                except (UnicodeDecodeError, LookupError):
                    continue
            f.write(json.dumps({"id": str(i), "url": url, "text": text}) + "\n")
    return folder / "pages.jsonl.gz"


def jsonl_folder(warc: Path) -> Path:
    return warc.parent.parent / "jsonl"


def has_magic() -> bool:
    import importlib.util

    return importlib.util.find_spec("magic") is not None


# ---- the two sides, each run in its own process (`--side`) ---------------------------------------

def curate_side(warc: Path, out: Path, extractor: str | None) -> dict:
    """`RECIPE` through curate's runner, 1 task and 1 worker (so datatrove runs it in this process); with
    `extractor`, that stage in place of `extract`."""
    import duckdb
    import yaml

    from curate.core.config import load_recipe
    from curate.pipelines import runner

    data = yaml.safe_load(RECIPE.read_text())
    if extractor:
        data["stages"][0] = {extractor: {"timeout": 1}}
    recipe = load_recipe(text=yaml.safe_dump(data, sort_keys=False),
                         overrides=[f"input={warc}", f"output={out}", "executor.tasks=1", "executor.workers=1"])
    cost = timed(lambda: runner.run(recipe, progress=False))
    decisions = f"{out}/decisions/*.parquet"
    with duckdb.connect() as con:  # its own connection: the default one is shared with the caller (tests)
        drops = dict(con.execute("SELECT stage, count(*) FROM read_parquet(?) WHERE stage IS NOT NULL "
                                 "GROUP BY ALL", [decisions]).fetchall())
        kept = {u: digest(t) for u, t in con.execute("SELECT url, text FROM read_parquet(?)",
                                                     [f"{out}/documents/*.parquet"]).fetchall()}
        timeouts = con.execute("SELECT count(*) FROM read_parquet(?) WHERE reason = 'extract:timeout'",
                               [decisions]).fetchall()[0][0]
    names = ["read", "extract"] + [stage.name.split("@")[0] for stage in recipe.stages[1:]]  # `extract`: any extractor
    return {**cost, "kept": kept, "drops": drops, "extract_timeouts": timeouts,
            "step_s": step_seconds(json.loads((out / "stats.json").read_text()), names)}


def step_seconds(stats: list[dict], names) -> dict[str, float]:
    """Wall seconds spent in each step (datatrove's per-step timer, so extraction includes waiting
    for its sandbox), keyed by `names` in pipeline order."""
    return {name: round(entry["time_stats"]["total"], 1) for name, entry in zip(names, stats)
            if entry.get("time_stats")}


def datatrove_pipeline(warc: Path, out: Path) -> list:
    """examples/fineweb.py's first pipeline, from the reader to PII, minus URLFilter; as there, every
    filter writes the documents it removes (curate's side writes its decision table)."""
    from datatrove.pipeline import filters as dt
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers.jsonl import JsonlWriter
    from datatrove.utils.lid import FT176LID

    class LocalFT176(FT176LID):
        MODEL_URL = str(LID_MODEL)  # a local file: datatrove copies it into its cache

    def removed(folder: str, **kwargs) -> JsonlWriter:
        return JsonlWriter(str(out / "removed" / folder), **kwargs)

    language = dt.LanguageFilter(languages="en", language_threshold=0.65, exclusion_writer=removed(
        "2_non_english", output_filename="${language}/${rank}.jsonl.gz"))
    language.model = LocalFT176(["en"])
    reader = WarcReader(str(warc.parent)) if has_magic() else JsonlReader(str(jsonl_folder(warc)))
    return [reader, Trafilatura(favour_precision=True, timeout=1), language,
            dt.GopherRepetitionFilter(exclusion_writer=removed("3_gopher_rep")),
            dt.GopherQualityFilter(exclusion_writer=removed("4_gopher_qual")),
            dt.C4QualityFilter(filter_no_terminal_punct=False, exclusion_writer=removed("5_c4")),
            dt.FineWebQualityFilter(exclusion_writer=removed("6_fineweb_qual")),
            PIIFormatter(), JsonlWriter(str(out / "documents"))]


def datatrove_side(warc: Path, out: Path, extractor: str | None) -> dict:
    import gzip

    from datatrove.executor import LocalPipelineExecutor

    executor = LocalPipelineExecutor(datatrove_pipeline(warc, out), tasks=1, workers=1,
                                     logging_dir=str(out / "logs"))
    stats = []
    cost = timed(lambda: stats.append(executor.run()))  # with one worker the task runs in this process
    kept = {}
    for file in sorted((out / "documents").glob("*.jsonl.gz")):
        with gzip.open(file, "rt") as f:
            for doc in map(json.loads, f):
                kept[doc["metadata"]["url"]] = digest(doc["text"])
    drops = {name: s.stats["dropped"].total for name, s in zip(DATATROVE_STEPS, stats[0].stats) if "dropped" in s.stats}
    timeouts = sum(s.stats["timeout"].total for s in stats[0].stats if "timeout" in s.stats)
    return {**cost, "kept": kept, "drops": drops, "extract_timeouts": timeouts,
            "step_s": step_seconds(json.loads((out / "logs" / "stats.json").read_text()), DATATROVE_STEPS)}


SIDES = {"curate": curate_side, "datatrove": datatrove_side}
# datatrove's steps in curate's stage names, in pipeline order, so the two funnels line up
DATATROVE_STEPS = ("read", "extract", "fasttext_lang", "gopher_repetition", "gopher_quality", "c4_quality",
                   "fineweb_quality", "pii_mask", "write")
FUNNEL = ("extract", "fasttext_lang", "gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality")


def child(side: str, warc: Path, out: Path, result: Path, extractor: str | None) -> None:
    from datatrove.utils.logging import logger

    logger.remove()
    result.write_text(json.dumps(SIDES[side](warc, out, extractor)))


# ---- the bench -----------------------------------------------------------------------------------

def measure(side: str, warc: Path, folder: Path, extractor: str | None) -> dict:
    """Run one side in a fresh process (pinned as this one is) and read back its figures."""
    folder.mkdir(parents=True)
    result, out, log = folder / "result.json", folder / "out", folder / "log"
    command = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--warc", str(warc),
               "--out", str(out), "--result", str(result)] + (["--extractor", extractor] if extractor else [])
    start = time.perf_counter()
    with open(log, "w") as stderr:
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    if done.returncode:
        raise SystemExit(f"the {side} side exited {done.returncode}; its log:\n{log.read_text()[-3000:]}")
    figures = json.loads(result.read_text())
    figures["wall_s"] = time.perf_counter() - start
    return figures


def measure_all(warc: Path, work: Path, extractor: str | None, repeat: int) -> dict:
    """Each side `repeat` times, alternating which goes first so that a change of load (CPU seconds
    grow when the other core is busy) falls on both alike; each side's lowest CPU time counts."""
    runs = {side: [] for side in SIDES}
    for attempt in range(repeat):
        for side in SIDES if attempt % 2 == 0 else reversed(SIDES):
            runs[side].append(measure(side, warc, work / f"{side}{attempt}", extractor))
    best = {side: min(tries, key=lambda r: r["cpu_s"]) for side, tries in runs.items()}
    for side, tries in runs.items():
        best[side]["every_cpu_s"] = [round(r["cpu_s"], 1) for r in tries]
    return best


def pin_one_core() -> int:
    """Pin this process (and so both sides) to one core: the first this process may use."""
    core = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {core})
    return core


def report(pages: int, core: int, runs: dict, load: tuple, extractor: str | None) -> dict:
    ours, theirs = runs["curate"], runs["datatrove"]
    for name, label in (("curate", "curate pipelines/fineweb.yaml"), ("datatrove", "datatrove examples/fineweb.py")):
        r = runs[name]
        print(f"{label:32s} kept {len(r['kept']):5d}  {r['cpu_s']:7.1f} CPU-s  {pages / r['cpu_s']:6.1f} docs/s/core"
              f"  extract timeouts {r['extract_timeouts']}")
    ratio = theirs["cpu_s"] / ours["cpu_s"]
    both = set(ours["kept"]) & set(theirs["kept"])
    same = sum(ours["kept"][url] == theirs["kept"][url] for url in both)
    table("dropped by", {name: r["drops"] for name, r in runs.items()}, FUNNEL, 0)
    table("seconds in", {name: r["step_s"] for name, r in runs.items()},
          list(dict.fromkeys([*ours["step_s"], *theirs["step_s"]])), "-")
    print(f"ratio {ratio:.2f}x (bar >= {BAR:g}x); kept by both {len(both)}, of them {same} with the same text")
    return {"pages": pages, "core": core, "extractor": extractor or "extract",
            "curate": _summary(ours, pages), "datatrove": _summary(theirs, pages), "kept_by_both": len(both),
            "same_text": same, "datatrove_reader": "WarcReader" if has_magic() else "JsonlReader",
            "ratio": round(ratio, 2), "ok": ratio >= BAR, "load_before": load[0], "load_after": load[1]}


def table(title: str, rows: dict[str, dict], columns, missing) -> None:
    print(f"{title:10s}  " + "  ".join(columns))
    for name, row in rows.items():
        print(f"{name:10s}  " + "  ".join(f"{row.get(column, missing):>{len(column)}}" for column in columns))


def _summary(r: dict, pages: int) -> dict:
    return {"kept": len(r["kept"]), "cpu_s": round(r["cpu_s"], 1), "children_cpu_s": round(r["children_cpu_s"], 1),
            "wall_s": round(r["wall_s"], 1),
            "docs_per_s_core": round(pages / r["cpu_s"], 1), "extract_timeouts": r["extract_timeouts"],
            "extract_s": r["step_s"].get("extract"), "every_cpu_s": r["every_cpu_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"every {QUICK_STRIDE}th page (317), under a minute")
    parser.add_argument("--extractor", help="run curate's recipe with this extraction stage in place of `extract`")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side, alternating; the lowest counts")
    parser.add_argument("--work", help="folder for the WARC and both outputs (default: a temporary one)")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # the child processes
    parser.add_argument("--warc", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        return child(args.side, args.warc, args.out, args.result, args.extractor)
    core = pin_one_core()
    load = [round(x, 2) for x in os.getloadavg()]
    pages = html_pages(QUICK_STRIDE if args.quick else 1)
    print(f"{len(pages)} pages (WCXB dev, trafilatura eval), one WARC, core {core}, load {load}", flush=True)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        warc = write_warc(pages, Path(tmp) / "crawl")
        write_jsonl(pages, jsonl_folder(warc))
        runs = measure_all(warc, Path(tmp), args.extractor, args.repeat)
    figures = report(len(pages), core, runs, (load, [round(x, 2) for x in os.getloadavg()]), args.extractor)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
