"""Peak memory of one curate task against the size of its shard (issue 14): it must stay flat.

The first real HTML pages of the html_gold archives (WCXB dev, then trafilatura's evaluation set),
as many as the smallest size, are repeated with distinct record ids and URLs into one gzipped WARC
per size, written with warcio (bench/determinism.py's writer). Each size runs
`pipelines/fineweb.yaml` through `curate run` with 1 task and 1 worker in a fresh Python process;
with one worker datatrove runs the task in that process, which reports its own peak RSS (VmHWM,
see `CHILD`) and its largest child's (`RUSAGE_CHILDREN`: the extraction sandbox, whose figure
includes the pages it shares with the worker it was forked from). Before issue 14 the worker
peaked at 420 MB for 2,529 pages, 581 MB for 10,116 and 1,387 MB for 40,464 (one Common Crawl
WARC's worth): the writers held up to 100,000 rows before writing any. Bar: every size within 15%
of the smallest size's peak, and under 600 MB. Figures: docs/PERFORMANCE.md.

    .venv/bin/python bench/memory.py            # 2,000, 10,000 and 40,000 records
    .venv/bin/python bench/memory.py --quick    # 250 and 1,000 records, under a minute
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.determinism import html_pages, write_warc  # noqa: E402

SIZES = (2000, 10000, 40000)
QUICK_SIZES = (250, 1000)
TOLERANCE = 0.15  # the largest shard's peak may exceed the smallest's by this share
LIMIT_MB = 600

# Run the CLI in this fresh process and write its peak RSS (and its children's) to argv[1]. The
# peak is VmHWM, the high-water mark of this process's own memory map: ru_maxrss would also count
# the RSS of the bench process that forked it (Linux keeps the larger across fork and exec), and
# that process holds the pages.
CHILD = """
import json, resource, sys
from curate.cli import main
code = 0
try:
    main(sys.argv[2:], standalone_mode=False)
except SystemExit as e:
    code = e.code or 0
try:
    status = open("/proc/self/status").read()
    peak_kb = int(status.split("VmHWM:")[1].split()[0])
except OSError:  # not Linux: ru_maxrss (bytes on macOS)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
with open(sys.argv[1], "w") as f:
    json.dump({"self_kb": peak_kb, "children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
               "code": code}, f)
"""


def crawl(n: int, originals: list[bytes], folder: Path) -> Path:
    """One .warc.gz of `n` response records: the real pages in turn, each copy with its own URL and id."""
    pages = [(f"https://site{i % 211}.example/{i // len(originals)}/page/{i}", originals[i % len(originals)])
             for i in range(n)]
    return write_warc(pages, folder, files=1)


def measure(inputs: Path, output: Path) -> dict:
    """Run fineweb.yaml with 1 task over `inputs` in a fresh process: its peak RSS figures and seconds."""
    figures = output.parent / f"{output.name}.rusage.json"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", CHILD, str(figures), "run", str(ROOT / "pipelines" / "fineweb.yaml"),
                    "--input", str(inputs), "--output", str(output), "--tasks", "1", "--workers", "1",
                    "--overwrite", "--no-progress"],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    usage = json.loads(figures.read_text())
    if usage["code"]:
        raise SystemExit(f"curate run exited {usage['code']} on {inputs}")
    return {"worker_mb": round(usage["self_kb"] / 1024), "sandbox_mb": round(usage["children_kb"] / 1024),
            "seconds": round(seconds, 1), "records": _records(output)}


def _records(output: Path) -> int:
    import duckdb

    return duckdb.execute("SELECT count(*) FROM read_parquet(?)", [f"{output}/decisions/*.parquet"]).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SIZES} records")
    parser.add_argument("--sizes", help="comma-separated record counts (default 2000,10000,40000)")
    parser.add_argument("--work", help="folder for inputs and outputs (default: a temporary one)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(QUICK_SIZES if args.quick else SIZES)
    originals = html_pages(min(sizes))  # the smallest shard sees each page once, the others repeat them
    runs = {}
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for n in sizes:
            inputs = crawl(n, originals, Path(tmp) / f"crawl{n}")
            runs[n] = measure(inputs, Path(tmp) / f"out{n}")
            print(f"{n:>6} records: worker {runs[n]['worker_mb']} MB, sandbox {runs[n]['sandbox_mb']} MB, "
                  f"{runs[n]['seconds']} s", file=sys.stderr, flush=True)
    base = runs[sizes[0]]["worker_mb"]
    peak = max(r["worker_mb"] for r in runs.values())
    figures = {"pages": len(originals), "runs": runs, "growth": round(peak / base - 1, 3),
               "peak_worker_mb": peak}
    figures["ok"] = peak <= base * (1 + TOLERANCE) and peak < LIMIT_MB
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
