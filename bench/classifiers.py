"""The classifier bars of issue 17, on real labelled data: `python -m bench.classifiers [reuters|wcxb|human]`.

* `reuters`: Reuters-21578 topics, the ModApte split (Lewis' README: LEWISSPLIT="TRAIN"/"TEST" with
  TOPICS="YES"), restricted as usual to the 90 topics with at least one training and one test
  story and to stories with at least one of them (7,769 train / 3,019 test; Yang & Liu 1999);
  multi-label. Text: title and body.
* `wcxb`: WCXB dev page types (7 formats, `_internal.page_type.primary`), text the gold main
  content (pages whose gold text is empty are skipped); a seeded 20% held out; multi-class.
* `human`: the 499 DCLM documents people labelled good (1) or bad (0) pretraining data, scored
  by the demo's quality classifier (`make demo`'s recipe, rebuilt here in a temporary folder
  unless `--model` names one) and by each heuristic filter's keep/drop decision: ROC AUC and
  accuracy (for a keep/drop decision the AUC is the balanced accuracy).

Each classifier run trains fastText (tuned on a validation split of the training set) and the
baselines in the same run (`curate.tools.classifier_multi`) and prints one Markdown table. Scoring
speed (docs/s) is the held-out documents over the seconds to score them from their normalised text,
vectorising included (and, for a fastText model using them, computing the shape tokens from the raw
text), on one core: BLAS is held to one thread below, as fastText's predict is.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy is imported
    os.environ.setdefault(_var, "1")

SHARED = Path(os.environ.get("CURATE_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
REUTERS = SHARED / "labelled" / "reuters21578" / "reuters21578.tar.xz"
WCXB = SHARED / "html_gold" / "wcxb_dev" / "wcxb_dev.tar.xz"
HUMAN = SHARED / "labelled" / "dclm_human_quality" / "majority_data.jsonl"
STORY = re.compile(r"<REUTERS([^>]*)>(.*?)</REUTERS>", re.S)


def _tag(body: str, name: str) -> str:
    found = re.search(rf"<{name}>(.*?)</{name}>", body, re.S)
    return html.unescape(found.group(1)) if found else ""


def reuters_modapte(archive: Path = REUTERS) -> tuple[list[dict], list[dict]]:
    """(train, test) records {text, topics} of the ModApte split, 90-topic version."""
    split = {"train": [], "test": []}
    with tarfile.open(archive) as tar:
        for member in sorted((m for m in tar.getmembers() if m.name.endswith(".sgm")), key=lambda m: m.name):
            raw = tar.extractfile(member).read().decode("latin-1")
            for attrs, body in STORY.findall(raw):
                part = re.search(r'LEWISSPLIT="(\w+)"', attrs)
                part = part.group(1).lower() if part else None
                if 'TOPICS="YES"' not in attrs or part not in split:
                    continue
                topics = re.findall(r"<D>(.*?)</D>", _tag(body, "TOPICS"))
                text = (_tag(body, "TITLE") + "\n" + _tag(body, "BODY")).strip()
                split[part].append({"text": text, "topics": topics})
    seen = {p: Counter(t for r in rows for t in r["topics"]) for p, rows in split.items()}
    keep = set(seen["train"]) & set(seen["test"])
    out = {}
    for part, rows in split.items():
        out[part] = [{"text": r["text"], "topics": [t for t in r["topics"] if t in keep]} for r in rows]
        out[part] = [r for r in out[part] if r["topics"] and r["text"]]
    return out["train"], out["test"]


def wcxb_page_types(archive: Path = WCXB) -> list[dict]:
    from curate.tools.evaluate_extract import load_wcxb

    return [{"text": p["gold"], "page_type": p["type"], "id": p["id"]} for p in load_wcxb(archive) if p["gold"].strip()]


def _write(rows: list[dict], path: Path) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def run_labels(name: str, work: Path, **params) -> dict:
    from curate.tools.classifier_multi import LabelParams, train_labels

    if name == "reuters":
        train, test = reuters_modapte()
        paths = dict(train=[_write(train, work / "reuters_train.jsonl")], test=[_write(test, work / "reuters_test.jsonl")])
        label = LabelParams(label_field="topics", kind="multilabel", **params)
    else:
        paths = dict(train=[_write(wcxb_page_types(), work / "wcxb.jsonl")], test=None)
        label = LabelParams(label_field="page_type", kind="multiclass", **params)
    result = train_labels(paths["train"], str(work / f"{name}.bin"), label, test=paths["test"],
                          log=lambda m: print(f"  {m}", file=sys.stderr))
    return {"dataset": name, "card": result.card_md, "counts": result.counts, "classes": len(result.classes),
            "params": {k: result.params[k] for k in ("epoch", "lr", "word_ngrams", "dim", "dedup", "shape", "loss", "balance")},
            "bow_params": {k: result.metrics["bow_logreg"][k] for k in ("l2", "balance")},
            "seconds": result.seconds, "load_average": os.getloadavg(),
            "metrics": {m: {k: v[k] for k in ("macro_f1", "micro_f1", "docs_per_s", "train_s")}
                        for m, v in result.metrics.items()}}


def label_table(rows: list[dict]) -> str:
    lines = ["| data | model | macro-F1 | micro-F1 | docs/s | train s |", "|---|---|---|---|---|---|"]
    for row in rows:
        for model, m in row["metrics"].items():
            lines.append(f"| {row['dataset']} | {model} | {m['macro_f1']} | {m['micro_f1']} | {m['docs_per_s']} | "
                         f"{m['train_s']} |")
    return "\n".join(lines)


def seed_table(rows: list[dict]) -> str:
    """fastText against the regression, held-out macro-F1, per split seed, with the mean and its standard error."""
    import statistics

    lines = ["| data | split seed | fastText | regression | difference |", "|---|---|---|---|---|"]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        diffs = []
        for r in (r for r in rows if r["dataset"] == dataset):
            ft, bow = r["metrics"]["fasttext"]["macro_f1"], r["metrics"]["bow_logreg"]["macro_f1"]
            diffs.append(ft - bow)
            lines.append(f"| {dataset} | {r['seed']} | {ft} | {bow} | {ft - bow:+.3f} |")
        se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")
        lines.append(f"| {dataset} | mean | | | {statistics.mean(diffs):+.3f} (s.e. {se:.3f}) |")
    return "\n".join(lines)


def demo_model(work: Path) -> Path:
    """The demo's quality classifier, built as `make demo` builds it (Makefile), under `work`."""
    bin_dir, repo = Path(sys.executable).parent, Path(__file__).resolve().parents[1]
    out = work / "demo"
    steps = [[str(bin_dir / "curate"), "run", "pipelines/fineweb.yaml", "--output", str(out)],
             [sys.executable, "-m", "curate.pipelines.sample.page_text", str(out / "page_text")],
             [str(bin_dir / "curate"), "train-classifier", "--positive", str(out / "documents"), "--negative",
              str(out / "page_text"), "--output", str(out / "quality.bin"), "--chunk-words", "50", "--dim", "16",
              "--bucket", "20000", "--epoch", "20", "--holdout", "0.3"]]
    for step in steps:
        subprocess.run(step, cwd=repo, check=True, capture_output=True)
    return out / "quality.bin"


HEURISTICS = ("gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality", "c4_badwords", "nsfw_words")


def human_agreement(model: Path | None, work: Path) -> list[dict]:
    """ROC AUC and accuracy against the 499 human labels: the classifier's p(hq), each filter's decision."""
    from datatrove.data import Document

    from curate.core import registry
    from curate.filters.fasttext_classifier import FastTextClassifier
    from curate.tools.classifier import roc_auc

    records = [json.loads(line) for line in HUMAN.read_text().splitlines() if line.strip()]
    labels = [int(r["label"]) for r in records]
    rows = []
    scorer = FastTextClassifier(model=str(model or demo_model(work)), label="hq")
    scores = [scorer.score(r["text"])[0] for r in records]
    rows.append(_agreement("demo quality classifier p(hq)", scores, labels, 0.5))
    for name in HEURISTICS:
        try:
            stage = registry.get(name).load()()
        except Exception as error:  # a word list that is not in the shared data here
            rows.append({"scorer": name, "auc": None, "accuracy": None, "kept": None, "note": str(error)[:80]})
            continue
        keep = [float(stage.filter(Document(text=r["text"], id=str(i))) is None) for i, r in enumerate(records)]
        rows.append(_agreement(f"{name} keep", keep, labels, 0.5))
    rows[0]["auc_check"] = roc_auc(scores, labels)
    return rows


def _agreement(name: str, scores: list[float], labels: list[int], threshold: float) -> dict:
    from curate.tools.classifier import roc_auc

    kept = [s >= threshold for s in scores]
    accuracy = sum(k == bool(y) for k, y in zip(kept, labels)) / len(labels)
    return {"scorer": name, "auc": round(roc_auc(scores, labels), 4), "accuracy": round(accuracy, 4),
            "kept": sum(kept), "note": ""}


def human_table(rows: list[dict]) -> str:
    lines = ["| scorer | ROC AUC | accuracy | kept (of 499; 272 labelled good) |", "|---|---|---|---|"]
    lines += [f"| {r['scorer']} | {r['auc']} | {r['accuracy']} | {r['kept']} |" + (f" {r['note']}" if r["note"] else "")
              for r in rows]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", default=["reuters", "wcxb", "human"])
    parser.add_argument("--model", help="a quality classifier for `human` (default: rebuild the demo's)")
    parser.add_argument("--work", help="keep models and cards here (default: a temporary folder)")
    parser.add_argument("--no-tune", action="store_true", help="fastText at its starting parameters")
    parser.add_argument("--seeds", default="0", help="split seeds, comma-separated (e.g. 0,1,2,3,4): each seeds the "
                        "held-out split (WCXB), the validation splits, fastText and the regression; with several, a "
                        "per-seed table follows")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        seeds = [int(x) for x in args.seeds.split(",")]
        rows = [{**run_labels(w, work, tune=not args.no_tune, seed=seed), "seed": seed}
                for w in args.what if w in ("reuters", "wcxb") for seed in seeds]
        if rows:
            print(label_table(rows))
            if len(seeds) > 1:
                print(seed_table(rows))
            print(json.dumps(rows))
        if "human" in args.what:
            print(human_table(human_agreement(Path(args.model) if args.model else None, work)))


if __name__ == "__main__":
    main()
