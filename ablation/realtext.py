"""Real web text as JSONL documents, for filter ablations on something other than the sample crawl.

`pipelines/ablation_real_filters.yaml` asks whether Gopher, C4, FineWeb's rules, a quality classifier
and human preference pick text a small model learns better from. That needs real web text at
volume, and ../shared/data holds it in four shapes; this module turns them into one JSONL schema
(`id`, `text`, `metadata.source`) that `curate run` (annotate mode) and `curate ablate` both read:

- `web/blogs.jsonl`: the Blog Authorship Corpus sample (Schler et al. 2006; 1,932 blogger.com
  blogs, 64,107 posts of 2004), one document per `<post>`; the files are not valid XML (bare `&`,
  stray bytes), so posts are cut out with a regex and decoded as Latin-1 where UTF-8 fails.
  `blog_every=k` keeps every k-th post (a fixed, spread-out subsample) to size the corpus;
- `web/wcxb.jsonl`, `web/cleaning.jsonl`: the human-extracted main text (the gold) of the WCXB dev
  pages and of the four cleaning sets (`curate.tools.evaluate_extract.load_sets`);
- `web/warc.jsonl`: the text curate's default extractor (`extract@2`) takes from the HTML responses
  of the WARC samples under `warc/` (few pages, but real crawl output);
- `human/preferred.jsonl`, `human/rejected.jsonl`: the 499 DCLM documents people labelled good
  (label 1) or bad (0) pretraining data. They are kept OUT of `web/`, so a classifier trained on
  them never scores its own training documents in the corpus it ranks.

Why here (curate.ablation) and not in curate/tools: its only consumer is the ablation recipe, and it
only imports downwards (io, tools, filters). Example:
    python -m curate.ablation.realtext --output out/realtext --blog-every 4
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import tarfile
from pathlib import Path

SHARED = Path(os.environ.get("CURATE_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
BLOGS = "web_text/blog_authorship_sample/blogs_sample.tar.xz"
WCXB = "html_gold/wcxb_dev/wcxb_dev.tar.xz"
CLEANING = "html_gold/cleaning_sets/cleaning_sets.tar.xz"
HUMAN = "labelled/dclm_human_quality/majority_data.jsonl"
POST = re.compile(r"<post>(.*?)</post>", re.S)
MIN_CHARS = 20  # a post or gold text shorter than this is no document (empty gold files, "test" posts)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def blog_posts(shared: Path, every: int = 1, limit: int | None = None):
    """(id, text, metadata) of every `every`-th post of the blog sample, in the archive's order (a
    sorted order would seek backwards in the xz stream, decompressing it again for every file)."""
    n = kept = 0
    with tarfile.open(shared / BLOGS, "r:xz") as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".xml")):
                continue
            blogger = Path(member.name).stem  # id.gender.age.industry.sign
            for i, raw in enumerate(POST.findall(_decode(tar.extractfile(member).read()))):
                n += 1
                text = html.unescape(re.sub(r"[ \t]+", " ", raw.replace("\r\n", "\n")).strip())
                if (n - 1) % every or len(text) < MIN_CHARS:
                    continue
                yield f"blog/{blogger}/{i}", text, {"source": "blog", "blogger": blogger}
                kept += 1
                if limit and kept >= limit:
                    return


def gold_texts(shared: Path, archive: str, source: str):
    """(id, text, metadata) of the human-extracted main text of every page of a WCXB-layout archive."""
    from curate.tools.evaluate_extract import load_sets

    for name, pages in load_sets(shared / archive).items():
        for page in pages:
            if len(page["gold"].strip()) >= MIN_CHARS:
                yield f"{source}/{name}/{page['id']}", page["gold"].strip(), {"source": source, "set": name}


def warc_texts(shared: Path):
    """(id, text, metadata) of the text extract@2 takes from the WARC samples' HTML responses."""
    from curate.core import registry
    from curate.io.readers import WarcReader

    extract = registry.get("extract@2").load()()
    for file in sorted((shared / "warc").rglob("*.warc.gz")):
        docs = WarcReader(str(file.parent), glob_pattern=file.name).run()
        for doc in extract.run(docs):
            if len(doc.text.strip()) >= MIN_CHARS:
                yield f"warc/{file.name}/{doc.id}", doc.text.strip(), {"source": "warc", "url": doc.metadata.get("url")}


def human_documents(shared: Path, label: int):
    """(id, text, metadata) of the DCLM human-labelled documents with `label` (1 preferred, 0 not)."""
    with open(shared / HUMAN, encoding="utf-8") as f:
        for i, line in enumerate(f):
            row = json.loads(line)
            if row.get("label") == label and row.get("text", "").strip():
                yield f"dclm_human/{i}", row["text"], {"source": "dclm_human", "label": label}


class Decontaminator:
    """`curate ablate`'s two checks (ablation/decontam.py: a benchmark item's word 13-gram, or one of the
    held-out text's), done once here instead of once per variant: `ablation_real_filters.yaml` sets
    `decontaminate: false` because ablate's held-out check (`np.isin` against every held-out 13-gram,
    per document) ran at 0.05 MB/s on this machine, over 1.5 hours for its 7 overlapping variants.
    Here the held-out 13-grams are one Python set. The held-out documents are the ablation's default
    ones (every 10th of ../shared/data/clean_text Gutenberg + WikiText-2), which it still drops by text."""

    def __init__(self, shared: Path, tasks=("hellaswag", "arc_easy", "piqa", "copa", "winogrande", "lambada")):
        from curate.ablation import data
        from curate.ablation.decontam import _ngrams
        from curate.ablation.evaluate import FILES
        from curate.filters.decontaminate.index import NGramIndex, cached_index

        held = data.read_documents([shared / "clean_text" / "gutenberg", shared / "clean_text" / "wikitext-2"])[::10]
        self.ngrams = _ngrams
        self.held = {int(x) for text in held for x in _ngrams(text)}
        self.index = NGramIndex.load(cached_index([shared / "benchmarks" / FILES[t] for t in tasks]))
        self.dropped = {"benchmark": 0, "heldout": 0}

    def __call__(self, records):
        for record in records:
            if any(int(x) in self.held for x in self.ngrams(record[1])):
                self.dropped["heldout"] += 1
            elif self.index.find(record[1]) is not None:
                self.dropped["benchmark"] += 1
            else:
                yield record


def write_jsonl(path: Path, records) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path.with_suffix(".tmp"), "w", encoding="utf-8") as f:
        for doc_id, text, metadata in records:
            f.write(json.dumps({"id": doc_id, "text": text, "metadata": metadata}, ensure_ascii=False) + "\n")
            n += 1
    path.with_suffix(".tmp").replace(path)
    return n


def build(output: str | Path, shared: str | Path = SHARED, blog_every: int = 1, blog_limit: int | None = None,
          gold_limit: int | None = None, warc: bool = True) -> dict[str, int]:
    """Write `output/web/*.jsonl` and `output/human/*.jsonl`, decontaminated; {file: documents,
    dropped_benchmark: n, dropped_heldout: n}. `gold_limit` caps each gold archive (for tests)."""
    out, shared = Path(output), Path(shared)
    first = (lambda items: (x for i, x in enumerate(items) if i < gold_limit)) if gold_limit else (lambda items: items)
    parts = {"web/blogs.jsonl": blog_posts(shared, blog_every, blog_limit),
             "web/wcxb.jsonl": first(gold_texts(shared, WCXB, "wcxb")),
             "web/cleaning.jsonl": first(gold_texts(shared, CLEANING, "cleaning")),
             "human/preferred.jsonl": human_documents(shared, 1),
             "human/rejected.jsonl": human_documents(shared, 0)}
    if warc:
        parts["web/warc.jsonl"] = warc_texts(shared)
    clean = Decontaminator(shared)
    counts = {name: write_jsonl(out / name, clean(records)) for name, records in parts.items()}
    return {**counts, **{f"dropped_{k}": v for k, v in clean.dropped.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--shared", default=str(SHARED), help="the shared data folder (default ../shared/data)")
    parser.add_argument("--blog-every", type=int, default=1, help="keep every k-th blog post")
    parser.add_argument("--blog-limit", type=int, default=None)
    parser.add_argument("--gold-limit", type=int, default=None)
    parser.add_argument("--no-warc", action="store_true")
    args = parser.parse_args(argv)
    counts = build(args.output, args.shared, args.blog_every, args.blog_limit, args.gold_limit, not args.no_warc)
    for name, n in counts.items():
        print(f"{args.output}/{name}: {n:,} documents" if name.endswith(".jsonl") else f"{name}: {n:,}")


if __name__ == "__main__":
    main()
