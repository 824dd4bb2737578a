"""`curate eval-extract`'s reading of the gold sets: Dragnet's gold files hold the article and, after a
marker line, its readers' comments; the article is the gold text, and the F1 against the file as
published is reported beside it; pages an extractor lost to a fault are counted apart."""

import json

import pytest

from curate.tools.evaluate_extract import load_sets, lost, score_published, split_comments


@pytest.mark.parametrize("marker", ["!@#$%^&*()  COMMENTS", "!@#$%^&*() COMMENTS", "!@ $%^&*()  COMMENTS\r",
                                    "  #$%^&*()  COMMENTS", "!@#$%^&*()  \tCOMMENTS"])
def test_dragnet_s_marker_splits_the_article_from_its_comments(marker):
    article, comments = split_comments(f"The mayor spoke.\r\n\r\n{marker}\n\nFirst!\nGreat article.")
    assert article.strip() == "The mayor spoke." and comments.split() == ["First!", "Great", "article."]


@pytest.mark.parametrize("text", ["READER COMMENTS\nnone yet", "Comments are closed.", "a (COMMENTS) b", ""])
def test_a_text_without_the_marker_is_all_article(text):
    assert split_comments(text) == (text, "")


def test_the_f1_as_published_counts_the_comments():
    pages = [{"id": "dragnet-1", "type": "dragnet", "published": "the mayor spoke\n!@#$%^&*()  COMMENTS\nfirst great",
              "comments": "first great"},
             {"id": "dragnet-2", "type": "dragnet", "published": "bridges and mills", "comments": ""}]
    texts = {"dragnet-1": "the mayor spoke", "dragnet-2": "bridges and mills"}
    figures = score_published(texts, pages)
    # dragnet-1 (held out): precision 1, recall 3 of 6 words, F1 2/3; dragnet-2 has no comments: F1 1
    assert figures["pages_with_comments"] == 1 and figures["f1_heldout"] == pytest.approx(2 / 3, abs=1e-4)
    assert figures["f1"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-4)


def test_dragnet_s_gold_is_its_article_and_416_pages_mark_comments(shared):
    sets = load_sets(shared / "html_gold/cleaning_sets/cleaning_sets.tar.xz")
    with_comments = {name: sum(bool(p["comments"]) for p in pages) for name, pages in sets.items()}
    assert with_comments == {"dragnet": 416, "cleaneval_final": 0, "cleanportaleval": 0, "readability": 0}
    for p in sets["dragnet"]:
        assert p["published"].startswith(p["gold"]) and p["published"].endswith(p["comments"])
        marker = p["published"][len(p["gold"]):len(p["published"]) - len(p["comments"])]
        assert ("COMMENTS" in marker) == bool(p["comments"]) and len(marker) < 40


def test_pages_lost_to_a_fault_are_counted_apart_from_empty_texts():
    pages = [{"id": f"wcxb-{i}"} for i in range(1, 6)]  # odd page numbers are held out
    used = {"wcxb-1": "extract:timeout", "wcxb-2": "extract:empty", "wcxb-3": "lines", "wcxb-4": "extract:crashed"}
    assert lost(pages, used) == {"all": 3, "heldout": 2}  # wcxb-5 never came back from the step


def test_repeat_runs_every_extractor_in_turn_and_counts_its_lowest_cpu_time(tmp_path):
    from curate.tools.evaluate_extract import evaluate

    article = "<p>The history of the river town is told in its bridges and its mills, and in the people who built them.</p>"
    for i in (1, 2):
        (tmp_path / "ground-truth").mkdir(exist_ok=True)
        (tmp_path / "html").mkdir(exist_ok=True)
        (tmp_path / "ground-truth" / f"{i}.json").write_text(json.dumps({"ground_truth": {"main_content": (article[3:-4] + "\n") * i}}))
        (tmp_path / "html" / f"{i}.html").write_text(f"<html><body><nav>Home</nav><article>{article * i}</article></body></html>")
    calls = []
    summary = evaluate(tmp_path, ("resiliparse_extract",), repeat=3, log=calls.append)
    figures = summary["extractors"]["resiliparse_extract"]
    assert len(figures["every_cpu_s"]) == 3 and summary["extractors"]["datatrove"]["every_cpu_s"][2] > 0
    assert figures["docs_per_s"] == pytest.approx(2 / min(figures["every_cpu_s"]), rel=0.05)  # the fastest run counts
    assert sum("run 3 of 3" in line for line in calls) == 3 and figures["f1"] > 0.9  # each extractor, and texts scored once
