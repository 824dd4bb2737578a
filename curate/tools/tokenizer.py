"""Tokenizers for counting and training: HF `tokenizers`, from a local file or trained here; nothing downloaded.

Every tokenizer is a `tokenizers.Tokenizer`, so callers use one surface (`encode_batch`,
`encode_batch_fast`, `get_vocab_size`, `save`) whatever its origin:

- a path to a `tokenizer.json` (or a folder holding one), e.g. one a user saved from the Hub;
- `train_tokenizer(texts)`: byte-level BPE (GPT-2's scheme) trained on a sample of your data;
- built-in names that need no file: `bytes` (one token per UTF-8 byte, ids 0-255 in byte order)
  and `whitespace` (one token per whitespace-separated word; every word maps to id 0, so it
  counts words and nothing else).

Example:
    tok = train_tokenizer(texts, vocab_size=8192, output="out/tok/tokenizer.json")
    count_tokens(load_tokenizer("out/tok"), ["Hello world"])  # -> [2]
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

BUILTINS = ("bytes", "whitespace")
END_OF_TEXT = "<|endoftext|>"


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8192, output: str | Path | None = None,
                    seed: int = 0) -> Tokenizer:
    """Train a byte-level BPE tokenizer on `texts`; save it as `output` (a .json file or a folder) if given.

    BPE training has no randomness: merges are taken by count, ties broken by the pair itself, so
    the same texts give the same tokenizer.json byte for byte. `seed` is accepted so callers that
    sample their training texts can pass one seed everywhere; it does not change the training.
    The 256 byte symbols are always in the vocabulary, so no text is ever out of vocabulary.
    `<|endoftext|>` is special token 0 (for document separators in token shards).
    """
    del seed  # deterministic without one; see the docstring
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[END_OF_TEXT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer)
    if output is not None:
        save(tokenizer, output)
    return tokenizer


def save(tokenizer: Tokenizer, output: str | Path) -> Path:
    """Write `tokenizer` to `output` (a `.json` path, or a folder that gets `tokenizer.json`)."""
    path = Path(output)
    if path.suffix != ".json":
        path = path / "tokenizer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path


def load_tokenizer(spec: str | Path) -> Tokenizer:
    """A tokenizer from a tokenizer.json path, a folder holding one, or a built-in name (`bytes`, `whitespace`)."""
    if str(spec) == "bytes":
        return _bytes_tokenizer()
    if str(spec) == "whitespace":
        return _whitespace_tokenizer()
    path = Path(spec)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer not found: {path} (give a tokenizer.json, a folder holding one, "
                                f"or one of {', '.join(BUILTINS)})")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:
        raise ValueError(f"{path}: not a tokenizers JSON file ({error})") from None


def count_tokens(tokenizer: Tokenizer, texts: list[str], batch_size: int = 4096, progress=None) -> list[int]:
    """Tokens per text, without special tokens; batched so the Rust side runs on every core.
    `progress(n)` gets the number of texts counted after each batch."""
    counts: list[int] = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start:start + batch_size]
        counts.extend(len(encoding.ids) for encoding in tokenizer.encode_batch_fast(batch, add_special_tokens=False))
        if progress:
            progress(len(counts))
    return counts


def _bytes_tokenizer() -> Tokenizer:
    # ByteLevel maps each byte to one printable character; BPE with no merges keeps them apart.
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet(), key=lambda c: _BYTE_OF[c])
    tokenizer = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def _whitespace_tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(models.WordLevel(vocab={"[WORD]": 0}, unk_token="[WORD]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tokenizer


def _byte_to_char() -> dict[str, int]:
    """GPT-2's byte -> printable character table (what ByteLevel uses), inverted: char -> byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


_BYTE_OF = _byte_to_char()
