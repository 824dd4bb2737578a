"""Benchmark: curate's fasttext_lang (lid.176 + lingua second stage, and fastText alone) against
datatrove's LanguageFilter (lid.176), on the same sentences, one core.

    python -m bench.lang            # 200 sentences of each of lingua's 75 languages (15,000 documents)
    python -m bench.lang --quick    # 40 per language: under a minute

Input: `sentences/xx.txt` of ../shared/data/multilingual/lingua_language-testdata.tar.xz. datatrove's
LanguageFilter is given the same lid.176.ftz (its own default downloads lid.176.bin). Each step gets
the same warm-up (model loads are not timed). Times are process CPU seconds, so the figures are per
core. Accuracy is over the same documents. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from datatrove.data import Document

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curate.filters.fasttext_lang import FastTextLang  # noqa: E402
from curate.tools.evaluate_lang import ALIASES, load_testdata  # noqa: E402


def datatrove_filter(model_path: str):
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.utils.lid import FT176LID

    class LocalFT176(FT176LID):
        MODEL_URL = model_path  # a local file: datatrove "downloads" it by copying into its cache

    step = LanguageFilter(languages=None)
    step.model = LocalFT176(None)
    return step


def timed(name: str, docs: list[tuple[str, str]], label) -> dict:
    label(docs[0][1])  # warm-up: loads the models
    start = time.process_time()
    predicted = [label(text) for _, text in docs]
    seconds = time.process_time() - start
    correct = sum(ALIASES.get(p, p) == truth for (truth, _), p in zip(docs, predicted))
    return {"step": name, "docs": len(docs), "cpu_s": round(seconds, 2), "docs_per_s_core": round(len(docs) / seconds, 1),
            "accuracy": round(correct / len(docs), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--shared", default=os.environ.get("CURATE_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    shared = Path(args.shared)
    per_language = 40 if args.quick else 200
    data = load_testdata(shared / "multilingual" / "lingua_language-testdata.tar.xz", limit=per_language)["sentences"]
    docs = [(language, text) for language, texts in sorted(data.items()) for text in texts]
    model = str(shared / "models" / "lid.176.ftz")

    default = FastTextLang(model=model)
    alone = FastTextLang(model=model, refine=None)
    peer = datatrove_filter(model)

    def peer_label(text: str) -> str:
        doc = Document(text=text, id="x")
        peer.filter(doc)
        return doc.metadata["language"]

    rows = [
        timed("curate fasttext_lang (lid.176 + lingua)", docs, lambda t: default.identify(t).language),
        timed("curate fasttext_lang refine: null", docs, lambda t: alone.identify(t).language),
        timed("datatrove LanguageFilter (lid.176.ftz)", docs, peer_label),
    ]
    base = rows[-1]["docs_per_s_core"]
    print(f"{len(docs):,} sentences, {per_language} per language; load average {os.getloadavg()[0]:.2f}")
    print(f"{'step':42} {'docs/s/core':>12} {'vs datatrove':>13} {'accuracy':>9}")
    for row in rows:
        row["ratio_vs_datatrove"] = round(row["docs_per_s_core"] / base, 3)
        print(f"{row['step']:42} {row['docs_per_s_core']:>12,.1f} {row['ratio_vs_datatrove']:>12.3f}x {row['accuracy']:>9.4f}")
    print(json.dumps({"docs": len(docs), "loadavg": round(os.getloadavg()[0], 2), "steps": rows,
                      "docs_per_s": rows[0]["docs_per_s_core"], "ratio_vs_datatrove": rows[0]["ratio_vs_datatrove"]}))


if __name__ == "__main__":
    main()
