"""Token shards a trainer reads: `curate tokenize` writes datatrove's `.ds` files and Megatron's `.bin/.idx`.

Input: documents (a curate run folder, a `curate mix` output, JSONL or Parquet files) with a text
column and, where present, `id`, `source` and a label column. Output, under OUT:

- `datatrove/NNNNN.ds` (+ `.ds.index`, `.ds.metadata`): datatrove's tokenized format, as its
  `TokenizedFile` writes it (datatrove/pipeline/tokens/tokenizer.py): the token ids, little-endian
  uint16 (uint32 when the vocabulary has more than 65,536 ids), back to back; `.ds.index` the
  end of each document in tokens, uint64; `.ds.metadata` "tokenizer|token_size", the token count
  and its human form. datatrove's `DatatroveFolderDataset` and `DocumentTokenizerMerger` read it.
- `megatron/NNNNN.bin` + `.idx`: Megatron-LM's indexed dataset (megatron/core/datasets/
  indexed_dataset.py, `_IndexWriter`): `.bin` the same token bytes; `.idx` the header
  `MMIDIDX\\x00\\x00`, version 1 (<Q), the dtype code (<B: 8 uint16, 4 int32, Megatron's
  `DType`), the sequence count and document count (<Q each), then int32 sequence lengths, int64
  byte pointers and int64 document indices `[0, 1, ..., n]` (one sequence per document).
  Megatron's own choice of dtype (`DType.optimal_dtype`) is uint16 below 65,500 ids, else int32.
- `documents.parquet`: one row per input document (input order): id, source, label, tokens, and
  the shard and position it landed at; `manifest.json`: tokens and documents per source, per
  label, per (source, label) and per shard (with each file's sha256), the tokenizer and the seed.

Every document is followed by the end-of-document token (`<|endoftext|>` by default), so a
trainer that packs documents into windows sees where one ends; its count is in every figure.

The shuffle is global and memory-bounded: pass 1 tokenizes the documents in batches, appending
their tokens to one scratch file and keeping only (offset, length, source, label) per document;
pass 2 draws one seeded permutation of all documents and copies each document's tokens from the
memory-mapped scratch file into the shard its new position falls in. Memory grows with the
number of documents (about 50 bytes each at the peak: the index, the permutation and the
positions), never with their text; the page cache holds the scratch file. The same input, tokenizer and seed give byte-identical shards.

`progress(done, total, phase, unit)` (curate.core.progress) hears of both passes in documents:
"tokenizing" (its total from the Parquet footers when every input is Parquet, else unknown) and
"writing shards".

Example:
    result = tokenize_paths(["out/mix"], TokenizeConfig(output="out/tokens", tokenizer="out/mix/tokenizer.json"))
"""

from __future__ import annotations

import json
import shutil
import struct
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.io import documents
from curate.io.documents import file_sha256
from curate.tools.tokenizer import END_OF_TEXT, load_tokenizer

FORMATS = ("datatrove", "megatron")
MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_CODES = {2: 8, 4: 4}  # token bytes -> Megatron DType code (uint16, int32)
NONE = "(none)"  # the manifest's key for documents without a label
SCRATCH = ".tokenize-scratch"
COPY_BLOCK = 4096  # documents gathered per write while copying into shards


class TokenizeError(ValueError):
    """An input, tokenizer or option that `curate tokenize` cannot use."""


@dataclass
class TokenizeConfig:
    output: str
    tokenizer: str = ""  # a tokenizer.json, a folder holding one, or a built-in name (curate.tools.tokenizer)
    eos_token: str = END_OF_TEXT
    seed: int = 0
    shard_tokens: int = 1_000_000_000  # a shard ends before the document that would pass this
    formats: tuple[str, ...] = FORMATS
    text_column: str = "text"
    id_column: str = "id"
    source_column: str = "source"
    label_column: str = "label"
    batch_size: int = 1000


@dataclass
class TokenizeResult:
    output: Path
    documents: int
    tokens: int
    shards: list[dict]
    manifest: dict = field(repr=False)


def token_bytes(vocab_size: int) -> int:
    """2 or 4 bytes per token, datatrove's rule (`PipelineStepWithTokenizer.token_size`)."""
    return 4 if vocab_size > np.iinfo(np.uint16).max + 1 else 2


# ---- input ------------------------------------------------------------------------------------------

def input_files(spec: str) -> list[Path]:
    """The document files a path names: a `curate mix` output (its shards/), a run folder (its
    documents/), a folder, or a file."""
    path = Path(spec)
    if (path / "manifest.json").is_file() and (path / "shards").is_dir():
        path = path / "shards"
    elif (path / "documents").is_dir() and (path / "config.resolved.yaml").is_file():
        path = path / "documents"
    try:
        files = documents.files_of(path, documents.DOCUMENTS)
    except FileNotFoundError:
        raise TokenizeError(f"input not found: {spec}") from None
    if not files:
        raise TokenizeError(f"no document files ({', '.join(documents.suffixes(documents.DOCUMENTS))}) under {spec}")
    return files


def count_documents(files: Iterable[Path]) -> int | None:
    """Records in `files` from the Parquet footers (no data read), or None if any file is not Parquet."""
    files = list(files)
    if not all(documents.format_of(f) == "parquet" for f in files):
        return None
    try:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    except (pa.ArrowException, OSError):
        return None  # the reader names the bad file


def default_tokenizer(paths: Iterable[str]) -> str | None:
    """The tokenizer.json a `curate mix` output carries, so its shards tokenize as the mix counted them."""
    for spec in paths:
        if (Path(spec) / "manifest.json").is_file() and (Path(spec) / "tokenizer.json").is_file():
            return str(Path(spec) / "tokenizer.json")
    return None


def read_records(paths: Iterable[str], config: TokenizeConfig) -> Iterator[dict]:
    """Records {text, id, source, label} of every input; `source` defaults to the input's name."""
    optional = [config.id_column, config.source_column, config.label_column]
    for spec in paths:
        default_source = Path(spec).name or str(spec)
        for file in input_files(spec):
            fmt = "parquet" if documents.format_of(file) == "parquet" else "jsonl"
            try:
                for n, record in enumerate(documents.iter_records(file, fmt=fmt, columns=[config.text_column],
                                                                  optional=optional)):
                    doc_id = record.get(config.id_column)
                    yield {"text": record.get(config.text_column),
                           "id": str(doc_id) if doc_id is not None else f"{file.name}#{n}",
                           "source": _label(record.get(config.source_column)) or default_source,
                           "label": _label(record.get(config.label_column))}
            except documents.DocumentError as error:
                raise TokenizeError(str(error)) from None


def _label(value) -> str | None:
    return None if value is None else str(value)


# ---- pass 1: tokenize into a scratch file ------------------------------------------------------------

@dataclass
class DocIndex:
    """Per document, in input order: where its tokens are in the scratch file, and its codes."""

    offsets: np.ndarray
    lengths: np.ndarray
    sources: np.ndarray
    labels: np.ndarray
    source_names: list[str]
    label_names: list[str]
    skipped_empty: int


def _tokenize_to_scratch(records: Iterable[dict], tokenizer, eos_id: int, dtype, scratch: Path,
                         batch_size: int, progress) -> DocIndex:
    """Tokens of every document plus its end-of-document token, appended to `scratch/tokens`; ids to
    `scratch/ids.parquet`. Only the per-document index stays in memory."""
    lengths, sources, labels = array("q"), array("i"), array("i")  # 16 bytes per document, not ~100 as lists
    codes: dict[str, dict[str, int]] = {"source": {}, "label": {}}
    skipped = 0
    with open(scratch / "tokens", "wb") as tokens_out, \
            pq.ParquetWriter(scratch / "ids.parquet", pa.schema([("id", pa.string())])) as ids_out:
        for batch in _batches(records, batch_size):
            progress(len(lengths) + skipped)  # documents done before this batch
            kept = [r for r in batch if isinstance(r["text"], str) and r["text"].strip()]
            skipped += len(batch) - len(kept)
            if not kept:
                continue
            # encode_batch, not encode_batch_fast: on tokenizers 0.23 the "fast" call (no offsets)
            # measured 20-40% slower on one core for byte-level BPE (bench/tokenize_shards.py)
            encodings = tokenizer.encode_batch([r["text"] for r in kept], add_special_tokens=False)
            ids = [e.ids for e in encodings]
            for doc in ids:
                doc.append(eos_id)
            counts = [len(doc) for doc in ids]
            tokens_out.write(np.fromiter(chain.from_iterable(ids), dtype=dtype, count=sum(counts)).tobytes())
            lengths.extend(counts)
            sources.extend(codes["source"].setdefault(r["source"], len(codes["source"])) for r in kept)
            labels.extend(codes["label"].setdefault(r["label"] or NONE, len(codes["label"])) for r in kept)
            ids_out.write_table(pa.table({"id": [r["id"] for r in kept]}))
    progress(len(lengths) + skipped)
    lengths_arr = np.frombuffer(lengths, dtype=np.int64).copy() if lengths else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths_arr)[:-1]]).astype(np.int64) if lengths else lengths_arr
    return DocIndex(offsets, lengths_arr, np.array(sources, np.int32), np.array(labels, np.int32),
                    list(codes["source"]), list(codes["label"]), skipped)


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---- pass 2: shuffle and write the shards ------------------------------------------------------------

def plan_shards(lengths: np.ndarray, shard_tokens: int) -> list[tuple[int, int]]:
    """[start, end) ranges of the shuffled order: a shard ends before the document that would take
    it past `shard_tokens` (a document longer than that gets a shard of its own)."""
    bounds, start, used = [], 0, 0
    for i, n in enumerate(lengths.tolist()):
        if used and used + n > shard_tokens:
            bounds.append((start, i))
            start, used = i, 0
        used += n
    if len(lengths):
        bounds.append((start, len(lengths)))
    return bounds


def _write_shard(tokens: np.memmap, index: DocIndex, picks: np.ndarray, out: Path, name: str,
                 formats: tuple[str, ...], tokenizer_name: str, copied=lambda n: None) -> dict:
    """Copy the documents `picks` (in that order) into one shard of every format; its manifest entry.
    `copied(n)` with the documents of `picks` written so far, after each block."""
    size = tokens.dtype.itemsize
    files = []
    if "datatrove" in formats:
        files.append(out / "datatrove" / f"{name}.ds")
    if "megatron" in formats:
        files.append(out / "megatron" / f"{name}.bin")
    handles = [open(f, "wb") for f in files]
    try:
        for start in range(0, len(picks), COPY_BLOCK):
            block = picks[start:start + COPY_BLOCK]
            data = np.concatenate([tokens[o:o + n] for o, n in zip(index.offsets[block], index.lengths[block])])
            for handle in handles:
                handle.write(data.tobytes())
            copied(start + len(block))
    finally:
        for handle in handles:
            handle.close()
    lengths = index.lengths[picks]
    ends = np.cumsum(lengths, dtype=np.uint64)
    total = int(ends[-1]) if len(ends) else 0
    if "datatrove" in formats:
        (out / "datatrove" / f"{name}.ds.index").write_bytes(ends.astype("<u8").tobytes())
        (out / "datatrove" / f"{name}.ds.metadata").write_text(_datatrove_metadata(tokenizer_name, size, total))
        files += [out / "datatrove" / f"{name}.ds.index", out / "datatrove" / f"{name}.ds.metadata"]
    if "megatron" in formats:
        idx = out / "megatron" / f"{name}.idx"
        idx.write_bytes(megatron_index(lengths, size))
        files.append(idx)
    return {"name": name, "documents": len(picks), "tokens": total,
            "files": {str(f.relative_to(out)): file_sha256(f) for f in sorted(files)}}


def _datatrove_metadata(tokenizer_name: str, size: int, count: int) -> str:
    """`.ds.metadata` as datatrove's `TokenizedFile.write_final_metadata` writes it."""
    import humanize  # a datatrove dependency

    return "\n".join([f"{tokenizer_name}|{size}", str(count), humanize.metric(count, unit="T")])


def megatron_index(lengths: np.ndarray, size: int) -> bytes:
    """A Megatron `.idx` for one sequence per document of `lengths` tokens, `size` bytes each
    (the layout of Megatron-LM's `_IndexWriter.write`; see the module docstring)."""
    n = len(lengths)
    pointers = np.concatenate([[0], np.cumsum(lengths)[:-1] * size]) if n else np.zeros(0)
    return b"".join([MEGATRON_HEADER, struct.pack("<Q", 1), struct.pack("<B", MEGATRON_CODES[size]),
                     struct.pack("<Q", n), struct.pack("<Q", n + 1),
                     np.asarray(lengths, "<i4").tobytes(), np.asarray(pointers, "<i8").tobytes(),
                     np.arange(n + 1, dtype="<i8").tobytes()])


# ---- the whole command -------------------------------------------------------------------------------

def tokenize_paths(paths: list[str], config: TokenizeConfig, overwrite: bool = False, progress=None) -> TokenizeResult:
    """Tokenize the documents under `paths` into shuffled shards (see the module docstring)."""
    files = [f for spec in paths for f in input_files(spec)]  # fail on a bad input before any output is written
    config.tokenizer = config.tokenizer or default_tokenizer(paths) or ""
    if not config.tokenizer:
        raise TokenizeError("no tokenizer: give --tokenizer (a tokenizer.json or a folder holding one); "
                            "only a `curate mix` output carries its own")
    return tokenize(read_records(paths, config), config, overwrite=overwrite, inputs=paths, progress=progress,
                    total=count_documents(files))


def tokenize(records: Iterable[dict], config: TokenizeConfig, overwrite: bool = False,
             inputs: list[str] | None = None, progress=None, total: int | None = None) -> TokenizeResult:
    """Records {text, id, source, label} -> shards, documents.parquet and manifest.json under `config.output`;
    `total` (the records, when known) sizes the progress bar."""
    progress = progress or (lambda *args, **kwargs: None)
    unknown = set(config.formats) - set(FORMATS)
    if unknown or not config.formats:
        raise TokenizeError(f"unknown format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    if config.shard_tokens <= 0:
        raise TokenizeError(f"shard tokens must be positive, got {config.shard_tokens}")
    try:
        tokenizer = load_tokenizer(config.tokenizer)
    except FileNotFoundError as error:
        raise TokenizeError(str(error)) from None
    eos_id = tokenizer.token_to_id(config.eos_token)
    if eos_id is None:
        raise TokenizeError(f"the tokenizer has no token {config.eos_token!r} for the end of a document; "
                            "give one it has with --eos-token")
    out = Path(config.output)
    if (out / "manifest.json").exists() and not overwrite:
        raise TokenizeError(f"{out} already holds token shards; use --overwrite or another --output")
    for sub in (SCRATCH, *FORMATS):
        shutil.rmtree(out / sub, ignore_errors=True)
    scratch = out / SCRATCH
    scratch.mkdir(parents=True)
    size = token_bytes(tokenizer.get_vocab_size())
    dtype = np.dtype("<u2" if size == 2 else "<u4")
    index = _tokenize_to_scratch(records, tokenizer, eos_id, dtype, scratch, config.batch_size,
                                 lambda done: progress(done, total, "tokenizing", "doc"))
    if not len(index.lengths):
        shutil.rmtree(scratch)
        raise TokenizeError("no documents with text in the input")
    order = np.random.default_rng(config.seed).permutation(len(index.lengths))
    bounds = plan_shards(index.lengths[order], config.shard_tokens)
    for fmt in config.formats:
        (out / fmt).mkdir(parents=True, exist_ok=True)
    tokens = np.memmap(scratch / "tokens", dtype=dtype, mode="r")
    shards = [_write_shard(tokens, index, order[a:b], out, f"{n:05d}", config.formats, config.tokenizer,
                           lambda done, a=a: progress(a + done, len(order), "writing shards", "doc"))
              for n, (a, b) in enumerate(bounds)]  # a shard is the range [a, b) of the shuffled order
    del tokens
    _write_documents(scratch / "ids.parquet", out / "documents.parquet", index, order, bounds)
    shutil.rmtree(scratch)
    manifest = _manifest(config, index, shards, tokenizer, eos_id, size, inputs)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return TokenizeResult(out, len(index.lengths), int(index.lengths.sum()), shards, manifest)


def _write_documents(ids_path: Path, path: Path, index: DocIndex, order: np.ndarray, bounds) -> None:
    """documents.parquet: input order, with the shard and in-shard position of each document."""
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    starts = np.array([a for a, _ in bounds])
    shard = np.searchsorted(starts, position, side="right") - 1
    sources = np.array(index.source_names, dtype=object)
    labels = np.array([None if name == NONE else name for name in index.label_names], dtype=object)
    row = 0
    schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("label", pa.string()),
                        ("tokens", pa.int64()), ("shard", pa.int32()), ("position", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for batch in pq.ParquetFile(ids_path).iter_batches(batch_size=65536):
            s = slice(row, row + batch.num_rows)
            writer.write_table(pa.table(schema=schema, data={
                "id": batch.column(0), "source": sources[index.sources[s]], "label": labels[index.labels[s]],
                "tokens": index.lengths[s], "shard": shard[s].astype(np.int32),
                "position": position[s] - starts[shard[s]]}))
            row += batch.num_rows


def _manifest(config: TokenizeConfig, index: DocIndex, shards: list[dict], tokenizer, eos_id: int, size: int,
              inputs) -> dict:
    def counts(keys: np.ndarray, names: list[str]) -> dict:
        docs = np.bincount(keys, minlength=len(names))
        toks = np.bincount(keys, weights=index.lengths, minlength=len(names))
        return {name: {"documents": int(d), "tokens": int(t)} for name, d, t in sorted(zip(names, docs, toks))}

    pairs = index.sources.astype(np.int64) * len(index.label_names) + index.labels
    by_pair = counts(pairs, [f"{s}\t{lab}" for s in index.source_names for lab in index.label_names])
    tokenizer_file = Path(config.tokenizer)
    tokenizer_file = tokenizer_file / "tokenizer.json" if tokenizer_file.is_dir() else tokenizer_file
    return {
        "documents": len(index.lengths), "tokens": int(index.lengths.sum()), "skipped_empty": index.skipped_empty,
        "seed": config.seed, "formats": list(config.formats), "shard_tokens": config.shard_tokens,
        "token_bytes": size, "datatrove_dtype": f"uint{8 * size}",
        "megatron_dtype": {2: "uint16", 4: "int32"}[size],
        "tokenizer": {"spec": config.tokenizer, "vocab_size": tokenizer.get_vocab_size(),
                      "sha256": file_sha256(tokenizer_file) if tokenizer_file.is_file() else None,
                      "eos_token": config.eos_token, "eos_id": eos_id},
        "tokens_include_eos": True, "inputs": list(inputs or []),
        "sources": counts(index.sources, index.source_names),
        "labels": counts(index.labels, index.label_names), "label_column": config.label_column,
        "source_labels": [{"source": k.split("\t")[0], "label": k.split("\t")[1], **v}
                          for k, v in by_pair.items() if v["documents"]],
        "shards": shards, "config": asdict(config),
    }

