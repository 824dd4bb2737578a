"""fasttext_lang's second stage, unknown languages, per-language routing, and `curate eval-lang`."""

import json
import pickle

import duckdb
import pytest
from click.testing import CliRunner
from datatrove.data import Document

from curate.cli import main
from curate.filters.fasttext_lang import FastTextLang
from curate.tools import evaluate_lang

LINGUA = "multilingual/lingua_language-testdata.tar.xz"


@pytest.fixture(scope="module")
def lang(lid_model):
    return FastTextLang(model=lid_model)


@pytest.fixture(scope="module")
def testdata(shared):
    path = shared / LINGUA
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return evaluate_lang.load_testdata(path, limit=60)


def accuracy(step, samples, language):
    found = [step.identify(s).language for s in samples]
    return sum(evaluate_lang.ALIASES.get(f, f) == language for f in found) / len(samples)


@pytest.mark.parametrize("language", ["ms", "bs", "nn"])
def test_second_stage_separates_close_languages_fasttext_confuses(lid_model, lang, testdata, language):
    alone = FastTextLang(model=lid_model, refine=None)
    samples = testdata["sentences"][language]
    assert accuracy(lang, samples, language) >= accuracy(alone, samples, language) + 0.15


@pytest.mark.parametrize("language", ["zu", "xh", "sn"])
def test_language_the_model_does_not_know_is_not_filed_under_another(lid_model, testdata, language):
    alone = FastTextLang(model=lid_model, refine=None)
    found = [alone.identify(s) for s in testdata["sentences"][language]]
    confidently_wrong = [f for f in found if f.language != "und" and f.score >= alone.threshold]
    assert sum(f.language == "und" for f in found) >= 0.5 * len(found)
    assert len(confidently_wrong) <= 0.1 * len(found)


def test_unknown_language_is_recorded_with_a_reason(lid_model):
    step = FastTextLang(model=lid_model, refine=None, languages=["en"])
    doc = Document(text="Ngiyabonga kakhulu ngokusiza kwakho namhlanje ekuseni.", id="x")
    assert step.process(doc) == "unknown_language"
    assert doc.metadata["language"] == "und" and doc.metadata["fasttext_lang__reason"] == "fasttext_lang:unknown_language"


def test_second_stage_knows_languages_fasttext_has_no_label_for(lang, testdata):
    assert accuracy(lang, testdata["sentences"]["zu"], "zu") >= 0.8


def test_confident_fasttext_answers_skip_the_second_stage(lang):
    found = lang.identify("The history of the river town is told in its bridges and mills over two centuries.")
    assert found.language == "en" and not found.refined and found.score > 0.9


def test_pickles_without_models(lang):
    lang.identify("Saya suka makan nasi goreng di rumah bersama keluarga.")
    clone = pickle.loads(pickle.dumps(lang))
    assert not {"model", "refiner"} & set(clone.__dict__)
    assert clone.identify("Saya suka makan nasi goreng di rumah bersama keluarga.").refined


def test_supported_languages_include_the_second_stage(lang):
    assert lang.refiner is not None and "zu" in lang.supported_languages() and "zu" not in lang.model_languages()


def test_eval_on_a_tiny_inline_set(tmp_path, lid_model):
    for kind in evaluate_lang.KINDS:
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "en.txt").write_text("The weather is lovely today and we walk to the park.\n" * 3)
        (tmp_path / kind / "de.txt").write_text("Das Wetter ist heute schön und wir gehen in den Park.\n" * 3)
        (tmp_path / kind / "qq.txt").write_text("Zzxq vlorp grenk.\n")
    report = evaluate_lang.evaluate(tmp_path, FastTextLang(model=lid_model, refine=None))
    figures = evaluate_lang.summary(report)
    assert figures["unsupported_languages"] == ["qq"]
    assert figures["sentences_accuracy_supported"] == 1.0 and figures["sentences_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["results"]["sentences"].f1["en"] == 1.0


def test_eval_lang_cli_quick_run(shared, lid_model):
    path = shared / LINGUA
    if not path.is_file():
        pytest.skip(f"{path} missing")
    result = CliRunner().invoke(main, ["eval-lang", str(path), "--model", lid_model, "--limit", "20"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["languages"] == 75 and figures["unsupported_languages"] == []
    assert figures["sentences_accuracy"] > 0.85 and figures["word_pairs_accuracy"] > 0.5
    assert {"sentences_macro_f1", "single_words_accuracy", "sentences_docs_per_s"} <= set(figures)
    assert "ms" in result.output and "top confusions" in result.output


def test_eval_lang_cli_names_a_bad_path(tmp_path):
    bad = tmp_path / "x.tar.xz"
    bad.write_bytes(b"not an archive")
    result = CliRunner().invoke(main, ["eval-lang", str(bad)])
    assert result.exit_code == 1 and "x.tar.xz" in result.output


def test_route_writes_kept_documents_per_language(tmp_path, lid_model):
    from curate.core.config import load_recipe
    from curate.pipelines import runner
    from curate.tools import stats

    docs = tmp_path / "in" / "docs.jsonl"
    docs.parent.mkdir()
    texts = {"en": "The history of the river town is told in its bridges and mills over two long centuries.",
             "de": "Die Geschichte der Stadt am Fluss wird in ihren Brücken und Mühlen erzählt, seit Jahrhunderten.",
             "fr": "L'histoire de la ville au bord de la rivière se raconte dans ses ponts et ses moulins."}
    docs.write_text("".join(json.dumps({"id": f"{k}{i}", "text": t}) + "\n" for i in range(2) for k, t in texts.items()))
    recipe = load_recipe(text=json.dumps({
        "input": [str(docs.parent)], "output": str(tmp_path / "out"),
        "stages": [{"fasttext_lang": {"languages": ["en", "de"], "model": lid_model, "route": True}}]}))
    runner.run(recipe, progress=False)
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "documents").iterdir()) == ["lang=de", "lang=en"]
    assert [p.name for p in (out / "decisions").iterdir()] == ["00000.parquet"]
    con = stats.connect(out)
    assert con.execute("SELECT language, count(*) FROM documents GROUP BY 1 ORDER BY 1").fetchall() == [("de", 2), ("en", 2)]
    assert con.execute("SELECT count(*) FROM decisions WHERE reason = 'fasttext_lang:wrong_language'").fetchone() == (2,)
    assert duckdb.sql(f"SELECT count(*) FROM '{out}/documents/lang=en/*.parquet'").fetchall() == [(2,)]
