"""Real labelled documents for the label-classifier, classify and mix-by-label tests: Reuters-21578
stories (ModApte split, bench/classifiers.py reads the archive), cut down to a few topics."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

TOPICS = ("earn", "acq", "crude", "trade", "money-fx", "grain")


@lru_cache(maxsize=2)
def modapte(archive: str) -> tuple[list[dict], list[dict]]:
    from bench.classifiers import reuters_modapte

    return reuters_modapte(Path(archive))


def single_topic(shared: Path, part: str, per_topic: int) -> list[dict]:
    """Up to `per_topic` stories of each of TOPICS that carry exactly that one topic, in file order:
    {id, text, topic}."""
    train, test = modapte(str(shared / "labelled" / "reuters21578" / "reuters21578.tar.xz"))
    rows, seen = [], dict.fromkeys(TOPICS, 0)
    for n, r in enumerate(train if part == "train" else test):
        if len(r["topics"]) == 1 and seen.get(r["topics"][0], per_topic) < per_topic:
            seen[r["topics"][0]] += 1
            rows.append({"id": f"{part}{n}", "text": r["text"], "topic": r["topics"][0]})
    return rows


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def topic_files(shared: Path, root: Path, train: int, test: int) -> tuple[Path, Path]:
    """(train.jsonl, test.jsonl) under `root`: `single_topic` stories, `train` and `test` per topic."""
    return (write_jsonl(single_topic(shared, "train", train), root / "train.jsonl"),
            write_jsonl(single_topic(shared, "test", test), root / "test.jsonl"))
