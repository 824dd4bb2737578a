"""Shared helpers of the dedup tests: a corpus with planted duplicates and a recipe runner."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import yaml

from curate.core.config import load_recipe
from curate.pipelines import runner

WORDS = [f"w{i}" for i in range(3000)]


def mutate(text: str, rate: float, rnd: random.Random) -> str:
    """Substitute, delete or insert a word at each position with probability `rate`."""
    out = []
    for word in text.split():
        roll = rnd.random()
        if roll < rate / 3:
            out.append(rnd.choice(WORDS))
        elif roll < 2 * rate / 3:
            continue
        elif roll < rate:
            out.extend([word, rnd.choice(WORDS)])
        else:
            out.append(word)
    return " ".join(out)


def planted_corpus(bases: list[str], rates=(0.0, 0.005, 0.01, 0.02), seed: int = 0) -> list[dict]:
    """Every base text, plus one copy per edit rate for every third base, shuffled."""
    rnd = random.Random(seed)
    docs = []
    for i, text in enumerate(bases):
        docs.append({"id": f"b{i}", "text": text})
        if i % 3 == 0:
            for k, rate in enumerate(rates):
                docs.append({"id": f"b{i}-v{k}", "text": mutate(text, rate, rnd) if rate else text})
    rnd.shuffle(docs)
    return docs


def random_bases(n: int, words: int = 200, seed: int = 0) -> list[str]:
    rnd = random.Random(seed)
    return [" ".join(rnd.choice(WORDS) for _ in range(words)) for _ in range(n)]


def write_jsonl(folder: Path, docs: list[dict], files: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(files):
        with open(folder / f"part{k}.jsonl", "w") as f:
            for doc in docs[k::files]:
                f.write(json.dumps(doc) + "\n")
    return folder


def run_dedup(inputs: Path, output: Path, tasks: int = 1, mode: str = "filter", stages=None, workers: int = 1,
              executor: str = "local"):
    recipe = {"name": "dedup", "mode": mode, "input": [str(inputs)], "output": str(output),
              "executor": {"type": executor, "tasks": tasks, "workers": workers},
              "stages": stages or [{"exact_dedup": {}}, {"minhash": {}}]}
    return runner.run(load_recipe(text=yaml.safe_dump(recipe)), progress=False)


def decisions(output: Path, columns: str = "*") -> list[tuple]:
    return duckdb.sql(f"SELECT {columns} FROM '{output}/decisions/*.parquet' ORDER BY id").fetchall()


def kept_ids(output: Path) -> set[str]:
    return {row[0] for row in duckdb.sql(f"SELECT id FROM '{output}/documents/*.parquet'").fetchall()}
