"""`curate tokenize`: shards read back by datatrove's own readers and by a Megatron reader written from
its specification give exactly each document's tokens plus the end-of-document token, in the shuffled order.

The Megatron reader below is written here from the format's specification (Megatron-LM,
megatron/core/datasets/indexed_dataset.py: `_IndexWriter.write` / `_IndexReader`, and
megatron/core/datasets/readme.md), not from curate's writer: megatron-core is not installed.
"""

import hashlib
import json
import struct

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from tokenizers import Tokenizer, models, pre_tokenizers

from curate.commands.tokenize import tokenize_command
from curate.tools.shards import TokenizeConfig, TokenizeError, plan_shards, tokenize, tokenize_paths
from curate.tools.tokenizer import END_OF_TEXT, train_tokenizer

torch = pytest.importorskip("torch")  # datatrove's dataset readers are torch Datasets

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split()


def corpus(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(1, 60)))
        docs.append({"text": " ".join(words) + (" Ünï 🙂" if i % 7 == 0 else ""), "id": f"d{i}",
                     "source": ["web", "books", "code"][i % 3], "label": [None, "science", "sports"][i % 5 % 3]})
    return docs


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer([d["text"] for d in corpus(200)], vocab_size=400, output=path)
    return path


# ---- readers: Megatron from its spec, datatrove its own --------------------------------------------------

MEGATRON_DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32,
                   8: np.uint16}  # Megatron's DType enum


def read_megatron(prefix) -> list[list[int]]:
    """Documents of a Megatron indexed dataset, per the spec: header, version, dtype code, counts,
    int32 lengths, int64 byte pointers, int64 document indices (sequence ranges per document)."""
    idx = open(f"{prefix}.idx", "rb").read()
    assert idx[:9] == b"MMIDIDX\x00\x00"
    version, code, n_seq, n_doc = struct.unpack_from("<QBQQ", idx, 9)
    assert version == 1
    dtype = np.dtype(MEGATRON_DTYPES[code]).newbyteorder("<")
    offset = 9 + 8 + 1 + 8 + 8
    lengths = np.frombuffer(idx, "<i4", n_seq, offset)
    pointers = np.frombuffer(idx, "<i8", n_seq, offset + 4 * n_seq)
    doc_idx = np.frombuffer(idx, "<i8", n_doc, offset + 12 * n_seq)
    assert offset + 12 * n_seq + 8 * n_doc == len(idx)
    data = open(f"{prefix}.bin", "rb").read()
    sequences = [np.frombuffer(data, dtype, int(n), int(p)).tolist() for n, p in zip(lengths, pointers)]
    return [sum(sequences[a:b], []) for a, b in zip(doc_idx[:-1], doc_idx[1:])]


def read_datatrove(path, token_size: int) -> list[list[int]]:
    """Documents of one .ds file through datatrove's trainer-facing reader: one window holding every
    token, cut where the positions it derives from the .ds.index restart at 0."""
    from datatrove.utils.dataset import DatatroveFileDataset

    n_tokens = path.stat().st_size // token_size
    item = DatatroveFileDataset(str(path), seq_len=n_tokens - 1, token_size=token_size, return_positions=True)[0]
    ids, pos = item["input_ids"].tolist(), item["positions"].tolist()
    starts = [i for i, p in enumerate(pos) if p == 0] + [len(ids)]
    return [ids[a:b] for a, b in zip(starts[:-1], starts[1:])]


def read_datatrove_merger(path, token_size: int) -> list[list[int]]:
    """Documents of one .ds file through the readers of datatrove's DocumentTokenizerMerger."""
    from datatrove.pipeline.tokens.merger import get_data_reader, load_doc_ends

    with open(f"{path}.index", "rb") as index, open(path, "rb") as data:
        ends = load_doc_ends(index)
        fmt = "<u2" if token_size == 2 else "<u4"
        return [np.frombuffer(b, fmt).tolist() for b in get_data_reader(data, ends, nb_bytes=token_size)]


def expected_order(out, docs) -> list[dict]:
    """The documents in the order the shards hold them, by documents.parquet's shard and position."""
    rows = duckdb.sql(f"SELECT id, shard, position FROM '{out}/documents.parquet' ORDER BY shard, position").fetchall()
    by_id = {d["id"]: d for d in docs}
    return [by_id[r[0]] for r in rows], [r[1] for r in rows]


def expected_tokens(tok: Tokenizer, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False).ids + [tok.token_to_id(END_OF_TEXT)]


# ---- the round trip ------------------------------------------------------------------------------------

def test_round_trip_through_datatrove_and_megatron_readers(tmp_path, tokenizer_file):
    docs = corpus(300)
    out = tmp_path / "tok"
    result = tokenize(iter(docs), TokenizeConfig(output=str(out), tokenizer=str(tokenizer_file), seed=3,
                                                 shard_tokens=2000))
    tok = Tokenizer.from_file(str(tokenizer_file))
    ordered, shard_of = expected_order(out, docs)
    assert len(result.shards) > 3 and sorted(d["id"] for d in ordered) == sorted(d["id"] for d in docs)
    for n, shard in enumerate(result.shards):
        want = [expected_tokens(tok, d["text"]) for d, s in zip(ordered, shard_of) if s == n]
        ds = out / "datatrove" / f"{shard['name']}.ds"
        assert read_datatrove(ds, 2) == want
        assert read_datatrove_merger(ds, 2) == want
        assert read_megatron(out / "megatron" / shard["name"]) == want
        assert shard["documents"] == len(want) and shard["tokens"] == sum(map(len, want)) <= 2000 + 60
    # the shuffle crosses shards: input neighbours are spread over the shards, not kept in runs
    input_position = {d["id"]: i for i, d in enumerate(docs)}
    first_shard = [input_position[d["id"]] for d, s in zip(ordered, shard_of) if s == 0]
    assert max(first_shard) > len(docs) * 0.8 and first_shard != sorted(first_shard)


def test_datatrove_folder_dataset_finds_exactly_the_shards(tmp_path, tokenizer_file):
    from datatrove.utils.dataset import DatatroveFolderDataset

    out = tmp_path / "tok"
    result = tokenize(iter(corpus(100)), TokenizeConfig(output=str(out), tokenizer=str(tokenizer_file),
                                                       shard_tokens=700))
    dataset = DatatroveFolderDataset(str(out / "datatrove"), seq_len=15)
    assert len(dataset.files) == len(result.shards)
    assert len(dataset) == sum(s["tokens"] // 16 for s in result.shards)
    stream = np.concatenate([np.fromfile(out / "datatrove" / f"{s['name']}.ds", "<u2")[: s["tokens"] // 16 * 16]
                             for s in result.shards])
    assert torch.cat([dataset[i]["input_ids"] for i in range(len(dataset))]).tolist() == stream.tolist()
    meta = (out / "datatrove" / "00000.ds.metadata").read_text().splitlines()
    assert meta[0] == f"{tokenizer_file}|2" and int(meta[1]) == result.shards[0]["tokens"]


def test_manifest_counts_tokens_per_source_label_and_shard(tmp_path, tokenizer_file):
    docs = corpus(120)
    out = tmp_path / "tok"
    tokenize(iter(docs), TokenizeConfig(output=str(out), tokenizer=str(tokenizer_file), shard_tokens=900))
    manifest = json.loads((out / "manifest.json").read_text())
    tok = Tokenizer.from_file(str(tokenizer_file))
    sizes = {d["id"]: len(expected_tokens(tok, d["text"])) for d in docs}
    for key, column in (("sources", "source"), ("labels", "label")):
        want = {}
        for d in docs:
            entry = want.setdefault(d[column] or "(none)", {"documents": 0, "tokens": 0})
            entry["documents"] += 1
            entry["tokens"] += sizes[d["id"]]
        assert manifest[key] == want
    assert sum(r["tokens"] for r in manifest["source_labels"]) == manifest["tokens"] == sum(sizes.values())
    assert sum(s["tokens"] for s in manifest["shards"]) == manifest["tokens"]
    for shard in manifest["shards"]:
        for rel, digest in shard["files"].items():
            assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest


def test_same_seed_same_bytes_other_seed_other_order(tmp_path, tokenizer_file):
    def run(name, seed):
        out = tmp_path / name
        tokenize(iter(corpus(80)), TokenizeConfig(output=str(out), tokenizer=str(tokenizer_file), seed=seed))
        return (out / "megatron" / "00000.bin").read_bytes(), (out / "datatrove" / "00000.ds").read_bytes()

    a, b, c = run("a", 1), run("b", 1), run("c", 2)
    assert a == b and a[0] == a[1]  # .bin and .ds carry the same token bytes
    assert c[0] != a[0] and sorted(c[0]) == sorted(a[0])


def test_large_vocabulary_uses_four_byte_tokens(tmp_path):
    vocab = {f"w{i}": i for i in range(70_000)}
    vocab[END_OF_TEXT] = 70_000
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    path = tmp_path / "big.json"
    tok.save(str(path))
    docs = [{"text": " ".join(f"w{(i * 7919 + j * 104729) % 70_000}" for j in range(i % 9 + 1)), "id": str(i),
             "source": "s", "label": None} for i in range(50)]
    out = tmp_path / "tok"
    result = tokenize(iter(docs), TokenizeConfig(output=str(out), tokenizer=str(path)))
    assert result.manifest["token_bytes"] == 4 and result.manifest["megatron_dtype"] == "int32"
    ordered, _ = expected_order(out, docs)
    want = [expected_tokens(tok, d["text"]) for d in ordered]
    assert max(max(w) for w in want) > 65_536
    assert read_datatrove(out / "datatrove" / "00000.ds", 4) == want == read_megatron(out / "megatron" / "00000")


def test_plan_shards_never_passes_the_cap_except_for_one_long_document():
    assert plan_shards(np.array([5, 5, 5, 20, 1]), 10) == [(0, 2), (2, 3), (3, 4), (4, 5)]
    assert plan_shards(np.array([3, 3, 3]), 100) == [(0, 3)]


# ---- inputs and the command ----------------------------------------------------------------------------

def test_cli_on_a_mix_output_uses_its_tokenizer(tmp_path, tokenizer_file):
    import pyarrow as pa

    mix = tmp_path / "mix"
    (mix / "shards").mkdir(parents=True)
    docs = corpus(60)
    pq.write_table(pa.Table.from_pylist([{k: d[k] for k in ("text", "id", "source")} for d in docs]),
                   mix / "shards" / "00000.parquet")
    pq.write_table(pa.table({"source": ["web"]}), mix / "manifest.parquet")  # must not be read as documents
    (mix / "manifest.json").write_text("{}")
    (mix / "tokenizer.json").write_bytes(tokenizer_file.read_bytes())
    out = tmp_path / "tok"
    run = CliRunner().invoke(tokenize_command, [str(mix), "--output", str(out), "--format", "megatron"])
    assert run.exit_code == 0, run.output
    assert "web" in run.output and "books" in run.output and not (out / "datatrove").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["documents"] == 60 and manifest["tokenizer"]["spec"] == str(mix / "tokenizer.json")
    again = CliRunner().invoke(tokenize_command, [str(mix), "--output", str(out)])
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_jsonl_without_source_counts_under_the_file_name(tmp_path, tokenizer_file):
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps({"text": d["text"]}) + "\n" for d in corpus(10)) + '{"text": "  "}\n')
    result = tokenize_paths([str(path)], TokenizeConfig(output=str(tmp_path / "t"), tokenizer=str(tokenizer_file)))
    assert list(result.manifest["sources"]) == ["posts.jsonl"] and result.manifest["skipped_empty"] == 1
    assert result.manifest["labels"] == {"(none)": {"documents": 10, "tokens": result.tokens}}


@pytest.mark.parametrize("config, message", [
    (dict(tokenizer="bytes"), "--eos-token"),
    (dict(tokenizer="nope/tokenizer.json"), "tokenizer not found"),
    (dict(formats=("hdf5",)), "unknown format"),
    (dict(tokenizer=""), "--tokenizer"),
])
def test_clear_errors(tmp_path, tokenizer_file, config, message):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "hello"}\n')
    options = {"tokenizer": str(tokenizer_file), **config}
    with pytest.raises(TokenizeError, match=message):
        tokenize_paths([str(path)], TokenizeConfig(output=str(tmp_path / "o"), **options))


@pytest.mark.integration
def test_real_labelled_documents_round_trip(tmp_path, shared, tokenizer_file):
    """The 499 DCLM human-labelled web documents (label 0/1): per-label tokens and the round trip."""
    path = shared / "labelled" / "dclm_human_quality" / "majority_data.jsonl"
    out = tmp_path / "tok"
    result = tokenize_paths([str(path)], TokenizeConfig(output=str(out), tokenizer=str(tokenizer_file),
                                                        shard_tokens=200_000))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    docs = [{"id": f"majority_data.jsonl#{i}", **r} for i, r in enumerate(records)]
    assert result.documents == 499 and set(result.manifest["labels"]) == {"0", "1"}
    tok = Tokenizer.from_file(str(tokenizer_file))
    ordered, shard_of = expected_order(out, docs)
    for n, shard in enumerate(result.shards):
        want = [expected_tokens(tok, d["text"]) for d, s in zip(ordered, shard_of) if s == n]
        assert read_megatron(out / "megatron" / shard["name"]) == want
        assert read_datatrove(out / "datatrove" / f"{shard['name']}.ds", 2) == want
