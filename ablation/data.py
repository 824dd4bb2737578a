"""Documents in, token shards out: the data side of an ablation.

- `read_documents(inputs, where=None)`: texts from a curate run folder (optionally only the documents
  whose decision-table row matches a DuckDB `WHERE` predicate), JSONL/Parquet documents, or plain
  text files (cut into documents of consecutive paragraphs); the files of a folder are those the
  suffix table of `curate.io.documents` names, other side files (README, LICENSE) are ignored.
- `sample_tokens(docs, tokenizer, n_tokens, seed)`: the same number of training tokens for every
  variant, documents shuffled and joined with `<|endoftext|>`; repeated (epochs recorded) when a
  variant has fewer tokens than the budget.
- `write_shard` / `read_shard`: a flat uint16 token file behind a 256 x int32 header carrying a
  magic number, a version and the token count (modded-nanogpt's format), so a truncated or
  foreign file is caught instead of silently trained on.

Example:
    docs = read_documents(["out/fineweb"], where="reason IS NULL")
    tokens, manifest = sample_tokens(docs, tokenizer, 1_000_000, seed=0)
    write_shard("run/data/filtered.bin", tokens)
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np

from curate.io import documents

MAGIC, VERSION, HEADER_INTS = 20240520, 1, 256
DOCUMENT_FORMATS = ("jsonl", "parquet", "text")
DOC_CHARS = 2000  # a plain-text document: consecutive paragraphs up to about this many characters


def read_documents(inputs: list[str | Path], where: str | None = None) -> list[str]:
    """Texts of every document under `inputs`; `where` (DuckDB SQL over `decisions`) needs a curate run folder."""
    texts: list[str] = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"ablation input not found: {path}")
        if (path / "decisions").is_dir() and (path / "documents").is_dir():
            texts += _run_documents(path, where)
            continue
        if where is not None:
            raise ValueError(f"{path}: `where` needs a curate run folder (with decisions/ and documents/)")
        for file in documents.files_of(path, DOCUMENT_FORMATS):
            texts += _file_documents(file)
    return [t for t in texts if isinstance(t, str) and t.strip()]


def _run_documents(out: Path, where: str | None) -> list[str]:
    import duckdb

    con = duckdb.connect()
    for view in ("decisions", "documents"):
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet('{out / view}/*.parquet', union_by_name=true)")
    # annotate mode keeps every document in documents/; `where` picks the ones a filter setting would keep
    sql = "SELECT text FROM documents"
    if where:
        sql += f" WHERE id IN (SELECT id FROM decisions WHERE {where})"
    try:
        return [t for (t,) in con.execute(sql + " ORDER BY id").fetchall()]
    except duckdb.Error as error:
        raise ValueError(f"{out}: predicate {where!r} failed: {error}") from None


def _file_documents(file: Path) -> list[str]:
    """The texts of one file: a text file cut by `split_text`, else each record's `text`."""
    fmt = documents.format_of(file)
    if fmt not in DOCUMENT_FORMATS:
        return []  # a file named directly that holds no documents
    if fmt == "text":
        return split_text(file.read_text(encoding="utf-8", errors="replace"))
    counts = documents.ReadCounts()
    texts = [r.get("text") for r in documents.iter_records(file, columns=["text"], counts=counts)]
    if counts.bad:
        print(f"ablation: {file}: skipped {counts.bad} corrupt record(s)")
    return texts


def split_text(text: str, doc_chars: int = DOC_CHARS) -> list[str]:
    """Cut a long text (a book, a wiki dump) into documents of consecutive paragraphs."""
    docs, current, size = [], [], 0
    for para in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):  # blank lines may hold spaces (WikiText)
        para = para.strip("\n")
        if not para.strip():
            continue
        current.append(para)
        size += len(para)
        if size >= doc_chars:
            docs.append("\n\n".join(current))
            current, size = [], 0
    if current:
        docs.append("\n\n".join(current))
    return docs


def sample_tokens(docs: list[str], tokenizer, n_tokens: int, seed: int = 0) -> tuple[np.ndarray, dict]:
    """`n_tokens` tokens from `docs` (shuffled with `seed`, each followed by <|endoftext|> = id 0)."""
    if not docs:
        raise ValueError("no documents to sample from")
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    eot = tokenizer.token_to_id("<|endoftext|>")
    chunks, total, used, epochs = [], 0, 0, 0
    while total < n_tokens:
        epochs += 1
        for start in range(0, len(order), 512):  # tokenize in batches until the budget is met
            batch = [docs[i] for i in order[start:start + 512]]
            for enc in tokenizer.encode_batch_fast(batch, add_special_tokens=False):
                chunks.append(np.asarray(enc.ids + [eot], dtype=np.uint16))
                total += len(enc.ids) + 1
                used += epochs == 1
                if total >= n_tokens:
                    break
            if total >= n_tokens:
                break
    tokens = np.concatenate(chunks)[:n_tokens]
    return tokens, {"docs_available": len(docs), "docs_used": used, "epochs": epochs, "tokens": int(len(tokens))}


def write_shard(path: str | Path, tokens: np.ndarray) -> None:
    assert tokens.max(initial=0) < 2**16, "token ids must fit in uint16"
    header = np.zeros(HEADER_INTS, dtype=np.int32)
    header[:3] = MAGIC, VERSION, len(tokens)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(header.tobytes())
        f.write(tokens.astype(np.uint16).tobytes())
    tmp.replace(path)  # a killed sweep never leaves a half-written shard behind


def read_shard(path: str | Path) -> np.ndarray:
    path = Path(path)
    header = np.fromfile(path, dtype=np.int32, count=HEADER_INTS)
    if len(header) < 3 or header[0] != MAGIC or header[1] != VERSION:
        raise ValueError(f"{path}: not a curate token shard (bad magic number or version)")
    tokens = np.memmap(path, dtype=np.uint16, mode="r", offset=HEADER_INTS * 4)
    if len(tokens) != header[2]:
        raise ValueError(f"{path}: header says {header[2]} tokens, file holds {len(tokens)} (truncated?)")
    return tokens
