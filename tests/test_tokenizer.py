import hashlib

import pytest

from curate.tools.tokenizer import count_tokens, load_tokenizer, train_tokenizer

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Pack my box with five dozen liquor jugs!",
         "Ünïcödé text: naïve café, 東京, emoji 🙂."] * 20


def test_bytes_counts_utf8_bytes_and_ids_are_the_bytes():
    tok = load_tokenizer("bytes")
    texts = ["héllo", "", "🙂 x", "a\nb\tc"]
    assert count_tokens(tok, texts) == [len(t.encode()) for t in texts]
    assert tok.encode("é", add_special_tokens=False).ids == list("é".encode())


def test_whitespace_counts_words():
    assert count_tokens(load_tokenizer("whitespace"), ["a b  c\nd", "", "  x "]) == [4, 0, 1]


def test_train_is_deterministic_saves_and_loads(tmp_path):
    a = train_tokenizer(TEXTS, vocab_size=300, output=tmp_path / "a")
    train_tokenizer(list(TEXTS), vocab_size=300, output=tmp_path / "b.json")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "a" / "tokenizer.json", tmp_path / "b.json")]
    assert digest[0] == digest[1]
    loaded = load_tokenizer(tmp_path / "a")
    assert loaded.get_vocab_size() == a.get_vocab_size() == 300
    counts = count_tokens(loaded, TEXTS[:3])
    # merges learned on these texts compress them below one token per byte, and round-trip
    assert all(0 < n < len(t.encode()) * 0.8 for n, t in zip(counts, TEXTS[:3]))
    assert loaded.decode(loaded.encode(TEXTS[2]).ids) == TEXTS[2]
    assert counts == [len(e.ids) for e in a.encode_batch(TEXTS[:3], add_special_tokens=False)]


def test_count_tokens_batches_like_one_call():
    tok = load_tokenizer("bytes")
    assert count_tokens(tok, TEXTS, batch_size=7) == count_tokens(tok, TEXTS)


def test_missing_or_bad_tokenizer_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="bytes, whitespace"):
        load_tokenizer(tmp_path / "nope.json")
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer.json"):
        load_tokenizer(tmp_path)
