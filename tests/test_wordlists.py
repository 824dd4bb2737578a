"""curate.resources.wordlists: the one LDNOOBW loader that c4_badwords, nsfw_words and the analysis read."""

from pathlib import Path

import pytest

from curate.filters.c4_badwords import ALLOWLIST, C4BadWords
from curate.filters.c4_badwords import load_words as c4_words
from curate.filters.nsfw_words import NsfwWords
from curate.resources.wordlists import default_folder, load_words
from curate.tools.analysis import badword_list
from tests.conftest import REPO


def test_a_folder_holds_one_list_per_language_and_a_file_is_one_list(tmp_path):
    (tmp_path / "en").write_text("Damn\n\n  shit \nfoo bar\n", encoding="utf-8")
    assert load_words(tmp_path, "en") == {"Damn", "shit", "foo bar"}  # as written; blank lines dropped
    assert load_words(tmp_path / "en", "de") == {"Damn", "shit", "foo bar"}
    assert load_words(tmp_path, "de") is None
    assert badword_list(tmp_path, "en") == ["damn", "foo bar", "shit"]  # the analysis lowercases for its own match
    with pytest.raises(FileNotFoundError, match="bad-word list not found"):
        badword_list(tmp_path, "de")


def test_default_folder_is_the_shared_data_unless_the_environment_says(monkeypatch, tmp_path):
    monkeypatch.setenv("CURATE_SHARED_DATA", str(tmp_path))
    assert Path(default_folder()) == tmp_path / "blocklists" / "ldnoobw"
    assert C4BadWords().folder == NsfwWords().folder == default_folder()
    monkeypatch.delenv("CURATE_SHARED_DATA")
    assert Path(default_folder()).resolve() == (REPO.parent / "shared" / "data" / "blocklists" / "ldnoobw").resolve()


def test_the_c4_stage_reads_the_same_list_less_its_allowlist(shared):
    folder = shared / "blocklists" / "ldnoobw"
    for lang in ("en", "ja", "zh"):
        words = load_words(folder, lang)
        assert words and c4_words(str(folder), lang) == words - set().union(*ALLOWLIST.values())
    assert "性" in load_words(folder, "zh") and "性" not in c4_words(str(folder), "zh")
