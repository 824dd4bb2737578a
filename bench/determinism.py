"""The same output for any task count and any machine load (issue 14), on real text.

Two recipes, each run through `curate run` (the command a user types) with 1, 2, 4 and 7 tasks
(2 workers), and once more with 2 tasks while every core is kept busy by another job (one CPU
burner per core):
- `pipelines/dedup.yaml` over JSONL documents: blog posts (Blog Authorship Corpus sample) and the
  WCXB gold main texts, with planted near-duplicates (copies with 0-8% of their words edited, and
  copies of copies), split into 14 files so that every task count splits them differently;
- `pipelines/fineweb.yaml` over a gzipped WARC of real HTML pages (WCXB dev, trafilatura's
  evaluation set, the cleaning sets), written with warcio, near-duplicate copies planted the same
  way in the pages' text.
Each run's decision table and document table are read whole (columns by name, rows by id) and
hashed: SHA-256 of the schema and of every row as canonical JSON, floats at full precision, so
"identical" means the same schema and the same bytes in every row; rows that differ are counted
by id. The last line is a JSON object of the figures.

    .venv/bin/python bench/determinism.py           # 12,000 documents and 10,000 pages
    .venv/bin/python bench/determinism.py --quick   # 1,000 documents, 200 pages: 1 task, then 3 with the cores busy
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import SHARED, pages  # noqa: E402

BLOGS = SHARED / "web_text" / "blog_authorship_sample" / "blogs_sample.tar.xz"
HTML_ARCHIVES = ("html_gold/wcxb_dev/wcxb_dev.tar.xz",
                 "html_gold/trafilatura_eval/trafilatura_tests_eval_cache_html.tar.xz",
                 "html_gold/cleaning_sets/cleaning_sets.tar.xz")
POST = re.compile(r"<post>(.*?)</post>", re.S)
TEXT_NODE = re.compile(r">([^<>]{40,})<")
RATES = (0.0, 0.01, 0.03, 0.05, 0.08)  # share of words edited in a planted copy (0: an exact copy)


def blog_posts(limit: int, min_words: int = 40) -> list[str]:
    """Blog posts of at least `min_words` words, in archive order (whitespace collapsed)."""
    out = []
    with tarfile.open(BLOGS) as tar:
        for member in tar:
            if not member.isfile():
                continue
            raw = tar.extractfile(member).read().decode("latin-1")
            for post in POST.findall(raw):
                words = post.split()
                if len(words) >= min_words:
                    out.append(" ".join(words))
                    if len(out) == limit:
                        return out
    return out


def edit(text: str, rate: float, rnd: random.Random) -> str:
    """Substitute, delete or repeat each word with probability `rate` (substitutes are words of the same text)."""
    words = text.split(" ")
    out = []
    for word in words:
        roll = rnd.random()
        if roll < rate / 3:
            out.append(rnd.choice(words))
        elif roll < 2 * rate / 3:
            continue
        elif roll < rate:
            out.extend([word, word])
        else:
            out.append(word)
    return " ".join(out)


def plant(bases: list[str], rnd: random.Random, every: int = 4) -> list[tuple[str, str]]:
    """(id, text) of every base plus, for every `every`-th base, 1-3 edited copies; one copy in
    three is made from the previous copy (a chain of edits), so clusters are not all stars."""
    docs = []
    for i, text in enumerate(bases):
        docs.append((f"d{i:06d}", text))
        if i % every:
            continue
        source = text
        for k in range(rnd.randint(1, 3)):
            copy = edit(source, rnd.choice(RATES), rnd)
            docs.append((f"d{i:06d}-c{k}", copy))
            source = copy if rnd.random() < 1 / 3 else text
    rnd.shuffle(docs)
    return docs


def dedup_corpus(n: int, seed: int = 0) -> list[dict]:
    """About `n` JSONL documents: WCXB gold texts and blog posts with planted near-duplicates."""
    rnd = random.Random(seed)
    bases = [" ".join(t.split()) for t in pages()][: n // 8]
    bases += blog_posts(int(n / 1.4) - len(bases))
    docs = plant(bases, rnd)[:n]
    return [{"id": doc_id, "text": text} for doc_id, text in docs]


def html_pages(limit: int) -> list[bytes]:
    """Real HTML pages from the html_gold archives, in archive order."""
    out = []
    for archive in HTML_ARCHIVES:
        with tarfile.open(SHARED / archive) as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".html"):
                    out.append(tar.extractfile(member).read())
                    if len(out) == limit:
                        return out
    return out


def edit_html(html: str, rate: float, rnd: random.Random) -> str:
    """`edit` applied to every text node of 40+ characters."""
    return TEXT_NODE.sub(lambda m: ">" + edit(m.group(1), rate, rnd) + "<", html)


def crawl_pages(n: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """`n` (url, html) pages: the real pages, then edited copies of them until there are `n`."""
    rnd = random.Random(seed)
    originals = html_pages(n)
    out = [(f"https://site{i % 97}.example/page/{i}", html) for i, html in enumerate(originals)]
    while len(out) < n:
        i = rnd.randrange(len(originals))
        html = originals[i].decode("utf-8", "replace")
        out.append((f"https://copy{len(out) % 89}.example/page/{len(out)}",
                    edit_html(html, rnd.choice(RATES), rnd).encode("utf-8")))
    rnd.shuffle(out)
    return out


def write_jsonl(docs: list[dict], folder: Path, files: int = 14) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(files):
        with open(folder / f"part{k:02d}.jsonl", "w") as f:
            for doc in docs[k::files]:
                f.write(json.dumps(doc) + "\n")
    return folder


def write_warc(pages_: list[tuple[str, bytes]], folder: Path, files: int = 14) -> Path:
    """Gzipped WARC response records (warcio's writer), spread over `files` files."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    folder.mkdir(parents=True, exist_ok=True)
    for k in range(files):
        with open(folder / f"crawl{k:02d}.warc.gz", "wb") as f:
            writer = WARCWriter(f, gzip=True)
            for i, (url, html) in enumerate(pages_[k::files]):
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
                record = writer.create_warc_record(
                    url, "response", payload=io.BytesIO(html), http_headers=http,
                    warc_headers_dict={"WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{k:04d}{i:08d}>",
                                       "WARC-Date": "2024-01-01T00:00:00Z"})
                writer.write_record(record)
    return folder


def burners(count: int) -> list[subprocess.Popen]:
    """`count` processes that keep a core busy each (the 'other job') until killed, or until this
    process ends: each spins while its parent is alive, so none outlives a killed bench."""
    spin = f"import os\nwhile os.getppid() == {os.getpid()}: pass"
    return [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(count)]


def run(recipe: str, inputs: Path, output: Path, tasks: int, workers: int, load: int = 0) -> float:
    """`curate run` with `tasks` tasks; with `load` burners running throughout. Its wall seconds."""
    busy = burners(load)
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "curate.cli", "run", str(ROOT / "pipelines" / recipe),
                               "--input", str(inputs), "--output", str(output), "--tasks", str(tasks),
                               "--workers", str(workers), "--overwrite", "--no-progress"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            raise SystemExit(f"curate run {recipe} --tasks {tasks} failed:\n{done.stderr[-3000:]}")
    finally:
        for p in busy:
            p.kill()
            p.wait()
    return time.perf_counter() - start


def table(output: Path, name: str):
    """Every row of OUT/<name>/**/*.parquet, columns by name, rows by id: one Arrow table."""
    import duckdb

    files = f"{output}/{name}/**/*.parquet"
    con = duckdb.connect()
    columns = sorted(c for c, *_ in con.sql(f"DESCRIBE SELECT * FROM read_parquet('{files}', union_by_name=true)"
                                            ).fetchall())
    select = ", ".join(f'"{c}"' for c in columns)
    return con.sql(f"SELECT {select} FROM read_parquet('{files}', union_by_name=true) ORDER BY id").to_arrow_table()


def row_lines(t) -> list[str]:
    """Each row as canonical JSON (floats at full precision, keys sorted), in table order."""
    return [json.dumps(row, sort_keys=True, default=str) for row in t.to_pylist()]


def digest(t) -> str:
    """SHA-256 of the schema and every row. (Not of Arrow's IPC bytes: the bytes under null slots
    are undefined, so the same table read twice can serialise differently.)"""
    h = hashlib.sha256(str(t.schema).encode())
    for line in row_lines(t):
        h.update(line.encode() + b"\n")
    return h.hexdigest()


def rows_by_id(t) -> dict[str, str]:
    return dict(zip(t["id"].to_pylist(), row_lines(t)))


def differing(a, b) -> int:
    """Ids whose rows differ between two tables (or that only one has)."""
    ra, rb = rows_by_id(a), rows_by_id(b)
    return sum(ra.get(k) != rb.get(k) for k in ra.keys() | rb.keys())


def summary(output: Path, seconds: float) -> tuple[dict, object, object]:
    """A run's figures, decision table and document table."""
    decisions, documents = table(output, "decisions"), table(output, "documents")
    reasons = decisions["reason"].to_pylist()
    return {"seconds": round(seconds, 1), "rows": decisions.num_rows, "kept": documents.num_rows,
            "extract_timeouts": reasons.count("extract:timeout"),
            "duplicates": sum(1 for r in reasons if r and r.endswith(":duplicate")),
            "decisions_sha256": digest(decisions), "documents_sha256": digest(documents)}, decisions, documents


def compare(recipe: str, inputs: Path, work: Path, plan: list[tuple[int, int]], workers: int, log) -> dict:
    """Run `recipe` once per (tasks, burners) of `plan`; compare every run's tables with the first's."""
    runs, first = {}, None
    for tasks, load in plan:
        label = f"{tasks} tasks" + (f", {load} burners" if load else "")
        output = work / f"tasks{tasks}{'_busy' if load else ''}"
        figures, decisions, documents = summary(output, run(recipe, inputs, output, tasks, workers, load))
        if first is None:
            first = decisions, documents
        figures["differing_decision_rows"] = differing(first[0], decisions)
        figures["differing_document_rows"] = differing(first[1], documents)
        runs[label] = figures
        log(f"{recipe} {label}: {json.dumps(figures)}")
    digests = {(r["decisions_sha256"], r["documents_sha256"]) for r in runs.values()}
    return {"runs": runs, "identical": len(digests) == 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 documents, 200 pages; 1 task, then 3 with the cores busy")
    parser.add_argument("--docs", type=int, help="dedup documents (default 12,000; quick 1,000)")
    parser.add_argument("--pages", type=int, help="fineweb pages (default 10,000; quick 200)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", help="folder for inputs and outputs (default: a temporary one)")
    args = parser.parse_args()
    n_docs = args.docs or (1000 if args.quick else 12000)
    n_pages = args.pages or (200 if args.quick else 10000)
    busy = os.cpu_count() or 2  # one burner per core: every core busy with another job
    plan = [(1, 0), (3, busy)] if args.quick else [(1, 0), (2, 0), (4, 0), (7, 0), (2, busy)]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        docs = dedup_corpus(n_docs)
        dedup_in = write_jsonl(docs, work / "docs")
        crawl_in = write_warc(crawl_pages(n_pages), work / "crawl")
        log(f"inputs: {len(docs)} JSONL documents, {n_pages} WARC pages ({time.perf_counter() - start:.0f} s)")
        figures = {"documents": len(docs), "pages": n_pages, "plan": plan, "workers": args.workers,
                   "dedup": compare("dedup.yaml", dedup_in, work / "dedup", plan, args.workers, log),
                   "fineweb": compare("fineweb.yaml", crawl_in, work / "fineweb", plan, args.workers, log)}
    figures["identical"] = figures["dedup"]["identical"] and figures["fineweb"]["identical"]
    figures["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
