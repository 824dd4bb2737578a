"""`curate eval-lang`: accuracy and macro-F1 of language ID on a test set laid out like lingua's.

The layout is lingua's `language-testdata/` (github.com/pemistahl/lingua-py): `sentences/xx.txt`,
`word-pairs/xx.txt`, `single-words/xx.txt`, one sample per line, the label being the file's ISO
639-1 code. PATH is that folder, a folder above it, or a `.tar.xz`/`.tar.gz`/`.zip` of it (read in
place, nothing unpacked). The identifier is `FastTextLang`'s own `identify`, so the figures are the
stage's. A language is *supported* when the identifier can output its code; the accuracy over all
languages counts unsupported ones as wrong on every line, which is what a pipeline would do.

`lines`: `all`, or `tune` (even lines, 0-based) / `holdout` (odd lines), so that thresholds tuned
on one half are reported on the other.
"""

from __future__ import annotations

import tarfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("sentences", "word-pairs", "single-words")
# lid.176's `no` (Norwegian) is lingua's `nb` (Bokmål, what its `nb` file holds); counted as such.
ALIASES = {"no": "nb"}


def load_testdata(path: str | Path, limit: int | None = None, lines: str = "all") -> dict[str, dict[str, list[str]]]:
    """kind -> language -> samples, from a folder or an archive in lingua's layout."""
    path = Path(path)
    files: dict[tuple[str, str], str] = {}
    if path.is_dir():
        for kind in KINDS:
            for file in path.rglob(f"{kind}/*.txt"):
                files[kind, file.stem] = file.read_text(encoding="utf-8", errors="replace")
    elif path.is_file() and path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                _add(files, name, lambda n=name: archive.read(n))
    elif path.is_file():
        try:
            with tarfile.open(path) as archive:
                for member in archive:
                    if member.isfile():
                        _add(files, member.name, lambda m=member: archive.extractfile(m).read())
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ValueError(f"{path}: not a readable test-data archive ({error})") from None
    else:
        raise FileNotFoundError(f"language test data not found: {path}")
    if not files:
        raise ValueError(f"{path}: no {'/'.join(KINDS)} folders of xx.txt files found")
    data: dict[str, dict[str, list[str]]] = {kind: {} for kind in KINDS}
    for (kind, language), text in sorted(files.items()):
        samples = [line.strip() for line in text.splitlines() if line.strip()]
        if lines != "all":
            samples = samples[0 if lines == "tune" else 1::2]
        data[kind][language] = samples[:limit] if limit else samples
    return data


def _add(files: dict, name: str, read) -> None:
    parts = name.strip("/").split("/")
    if len(parts) >= 2 and parts[-2] in KINDS and parts[-1].endswith(".txt"):
        files[parts[-2], parts[-1][:-4]] = read().decode("utf-8", errors="replace")


@dataclass
class KindResult:
    kind: str
    accuracy: dict[str, float] = field(default_factory=dict)  # per language
    f1: dict[str, float] = field(default_factory=dict)
    confusions: Counter = field(default_factory=Counter)  # (truth, predicted) -> count
    n: int = 0
    seconds: float = 0.0

    def mean(self, languages) -> float:
        languages = [lang for lang in languages if lang in self.accuracy]
        return sum(self.accuracy[lang] for lang in languages) / len(languages) if languages else 0.0


def score(kind: str, truth_and_predictions: dict[str, list[str]], seconds: float) -> KindResult:
    """Per-language accuracy and F1 (precision over the predictions of that label in this test set)."""
    result = KindResult(kind, seconds=seconds)
    predicted = Counter()
    correct = Counter()
    for language, predictions in truth_and_predictions.items():
        hits = sum(p == language for p in predictions)
        correct[language] = hits
        predicted.update(predictions)
        result.accuracy[language] = hits / len(predictions) if predictions else 0.0
        result.confusions.update((language, p) for p in predictions if p != language)
        result.n += len(predictions)
    for language in truth_and_predictions:
        precision = correct[language] / predicted[language] if predicted[language] else 0.0
        recall = result.accuracy[language]
        result.f1[language] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return result


def evaluate(path: str | Path, step=None, limit: int | None = None, lines: str = "all", progress=None) -> dict:
    """Run `step` (a FastTextLang; the default one if None) over the test data; figures per kind.
    `progress(done, total, phase, unit)` (curate.core.progress) hears of every language of every kind."""
    from curate.filters.fasttext_lang import FastTextLang

    step = step or FastTextLang()
    data = load_testdata(path, limit=limit, lines=lines)
    supported = step.supported_languages()
    step.identify("warm-up: load the models before timing")
    results = {}
    for kind in KINDS:
        if not data[kind]:
            continue
        predictions: dict[str, list[str]] = {}
        start = time.perf_counter()
        for language, samples in data[kind].items():
            found = [step.identify(sample).language for sample in samples]
            predictions[language] = [ALIASES.get(p, p) for p in found]
            if progress:
                progress(sum(map(len, predictions.values())), sum(map(len, data[kind].values())), kind, "sample")
        results[kind] = score(kind, predictions, time.perf_counter() - start)
    languages = sorted(data["sentences"] or next(iter(data.values())))
    return {"results": results, "languages": languages, "supported": [lang for lang in languages if lang in supported],
            "unsupported": [lang for lang in languages if lang not in supported],
            "fasttext_labels": [lang for lang in languages if lang in step.model_languages()],
            "identifier": step.describe()}


def summary(report: dict) -> dict:
    """The figures of `evaluate` as one flat dict (the JSON line of `curate eval-lang`)."""
    out: dict = {"identifier": report["identifier"], "languages": len(report["languages"]),
                 "unsupported_languages": report["unsupported"]}
    seconds = sum(result.seconds for result in report["results"].values())
    out["docs_per_s"] = round(sum(result.n for result in report["results"].values()) / seconds, 1) if seconds else None
    for kind, result in report["results"].items():
        key = kind.replace("-", "_")
        out[f"{key}_accuracy"] = round(result.mean(report["languages"]), 4)
        out[f"{key}_accuracy_supported"] = round(result.mean(report["supported"]), 4)
        out[f"{key}_accuracy_fasttext_labels"] = round(result.mean(report["fasttext_labels"]), 4)
        out[f"{key}_macro_f1"] = round(sum(result.f1.values()) / len(result.f1), 4) if result.f1 else 0.0
        out[f"{key}_docs_per_s"] = round(result.n / result.seconds, 1) if result.seconds else None
    return out


def table_rows(report: dict) -> list[tuple]:
    """(language, supported, accuracy and F1 per kind...) for every language."""
    rows = []
    for language in report["languages"]:
        row = [language, "yes" if language in report["supported"] else "no"]
        for result in report["results"].values():
            row += [result.accuracy.get(language, 0.0), result.f1.get(language, 0.0)]
        rows.append(tuple(row))
    return rows
