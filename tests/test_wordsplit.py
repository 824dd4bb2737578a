"""curate's spaCy-free English split against spaCy itself (what datatrove runs)."""

import random
import subprocess
import sys

import pytest

from curate.core import spacy_en_rules
from curate.core.wordsplit import english

TRICKY = [
    "", "   ", "don't can't won't y'all", "U.S.A. e.g. i.e. a.m. 10a.m. 3p.m.", "(hello), [world]! {x}",
    "http://example.com/a?b=1&c=2 www.foo.org/x.", "e-mail co-operate 1,000.50 $3.50 50%", ":) :-( ;) <3 :'(",
    "'sthisdol' 'Cause°k.", ":):)", "Hello.  World\tagain\n\nnew", "日本語のテキスト。中文句子！", "«quoted» „German“",
    "emoji 😀👍🏽 and ZWJ 👩‍👩‍👧", "a\u00a0b\u2003c", "...wait... what?!", "x" * 5000,
]


@pytest.fixture(scope="module")
def spacy_en():
    pytest.importorskip("spacy")
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    return load_word_tokenizer("en")


@pytest.mark.parametrize("text", TRICKY)
def test_words_and_sentences_as_spacy(spacy_en, text):
    from datatrove.utils.text import split_into_sentences

    assert english().words(text) == spacy_en.word_tokenize(text)
    line = text.strip()
    if line and "\n" not in line:
        assert english().n_sentences(line) == len(split_into_sentences(line))


def test_random_mixtures_of_special_cases(spacy_en):
    """Special cases, affixes and whitespace of every kind, glued at random (seeded)."""
    from datatrove.utils.text import split_into_sentences

    rng = random.Random(0)
    atoms = list(spacy_en_rules.SPECIALS) + list("'\".,;:!?()[]{}-–—…/@#$%&*+=<>_~`|") + ["http://x.com/a?b=1", "3.5",
                                                                                          "foo@bar.com", "日本語"]
    for _ in range(3000):
        parts = []
        for _ in range(rng.randint(1, 10)):
            parts.append("".join(rng.choice(atoms) for _ in range(rng.randint(1, 4))))
            parts.append(rng.choice([" ", " ", "  ", "\n", "\t", " \t", "\xa0"]))
        text = "".join(parts).strip()
        assert english().words(text) == spacy_en.word_tokenize(text), text
        for line in filter(None, (x.strip() for x in text.splitlines())):
            assert english().n_sentences(line) == len(split_into_sentences(line)), line


def test_runs_of_letters_skip_the_affix_rules_exactly():
    """`chunk`'s shortcut for letters, alone or before one of LETTER_SUFFIXES, gives what the full
    affix pass gives, in every script, for ASCII words and for the special cases ("dont", "dont,")."""
    from curate.core.wordsplit import LETTER_SUFFIXES, SpacyEnglishWords

    rng = random.Random(0)
    letters = [chr(c) for c in range(0x41, 0x2FFFF) if chr(c).isalpha()]
    ascii_letters = [chr(c) for c in range(0x41, 0x5B)] + [chr(c) for c in range(0x61, 0x7B)]
    words = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 12)))
             for pool in (letters, ascii_letters) for _ in range(10_000)]
    words += [k for k in spacy_en_rules.SPECIALS if k[:-1].isalpha()]
    words += ["naïve", "Straße", "İstanbul", "ǅemal", "ℌilbert", "ﬁne", "日本語", "ภาษาไทย", "Ⅻ", "US", "C"]
    chunks = words + [w + end for w in words for end in sorted(LETTER_SUFFIXES) + ["."] if rng.random() < 0.3]
    chunks += ["dont", "dont,", "Im:", "cant!"]
    fresh = SpacyEnglishWords()
    shortcut = [fresh.chunk(c) for c in chunks]
    assert shortcut == [tuple(fresh._tokenize(c)) for c in chunks]
    assert ("do", "nt", ",") in shortcut and ("dont",) not in shortcut  # a special case is never cut short


def test_rules_file_is_current(spacy_en, tmp_path):
    from curate.core.wordsplit import _regenerate

    _regenerate(str(tmp_path / "rules.py"))
    assert (tmp_path / "rules.py").read_text() == open(spacy_en_rules.__file__).read()


def test_filters_do_not_import_spacy():
    code = ("import sys; from datatrove.data import Document; from curate.filters.gopher_quality import GopherQuality;"
            "from curate.filters.c4_quality import C4Quality; d = Document(text='Hello there. ' * 60, id='x');"
            "GopherQuality().filter(d); C4Quality().filter(d); assert 'spacy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
