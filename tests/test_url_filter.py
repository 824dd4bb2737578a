import gzip
import pickle

import pytest
from datatrove.data import Document

from curate.filters.url_filter import UrlFilter
from curate.resources.blocklists import Blocklist, domain_lines, url_key


def verdict(step, url):
    doc = Document(text="some text", id="x", metadata={"url": url})
    return step.filter(doc), doc.metadata.get("url_filter__match")


@pytest.fixture
def inline(tmp_path):
    hosts = tmp_path / "lists" / "scam.txt.gz"
    hosts.parent.mkdir()
    hosts.write_bytes(gzip.compress(b"# Title: scam\n0.0.0.0 bad.example\n127.0.0.1 worse.example  # note\n0.0.0.0 localhost\n"))
    plain = tmp_path / "plain.txt"
    plain.write_text("casino-site.com\n*.Wild.ORG.\n")
    ut1 = tmp_path / "blacklists" / "gambling"
    ut1.mkdir(parents=True)
    (ut1 / "domains").write_text("bets.example\n")
    (ut1 / "urls").write_text("host.example/games/poker\n")
    (tmp_path / "blacklists" / "jeux").symlink_to("gambling")
    return UrlFilter(
        blocklists=[str(hosts), {"path": str(plain), "name": "mine"},
                    {"path": str(tmp_path / "blacklists"), "categories": ["gambling", "jeux"]}],
        opt_out=["optout.example"], banned_words=["xxx"], banned_subwords=["badword"],
        soft_banned_words=["sexy", "hot"], datatrove_words=False)


@pytest.mark.parametrize("url, reason, match", [
    ("https://www.nice.example/article", None, None),
    ("https://optout.example/page", "url_filter:opt_out", "optout.example"),
    ("https://blog.optout.example/page", "url_filter:opt_out", "optout.example"),
    ("http://bad.example/", "url_filter:blocklist:lists/scam", "bad.example"),
    ("http://a.b.worse.example:8080/x", "url_filter:blocklist:lists/scam", "worse.example"),
    ("http://notbad.example/", None, None),  # a suffix is not a parent domain
    ("http://localhost/", None, None),  # hosts files' own entries are not blocked domains
    ("https://casino-site.com/", "url_filter:blocklist:mine", "casino-site.com"),
    ("https://www.deep.wild.org/", "url_filter:blocklist:mine", "wild.org"),
    ("https://bets.example/", "url_filter:blocklist:ut1/gambling", "bets.example"),
    ("https://host.example/games/poker/table-1", "url_filter:blocklist:ut1/gambling", "host.example/games/poker"),
    ("https://host.example/games/pokerface", None, None),
    ("https://host.example/games", None, None),
    ("https://site.example/XXX-videos", "url_filter:banned_word", "xxx"),
    ("https://site.example/xxxl-shirts", None, None),
    ("https://site.example/hot/sexy", "url_filter:soft_banned_words", "hot sexy"),
    ("https://site.example/hot/dogs", None, None),
    ("https://site.example/a-bad-word", "url_filter:banned_subword", "badword"),
])
def test_url_filter_reasons(inline, url, reason, match):
    got, matched = verdict(inline, url)
    assert (None if got is None else f"url_filter:{got}") == reason and matched == match


def test_records_the_reason_and_keeps_documents_without_url(inline):
    doc = Document(text="t", id="x", metadata={})
    assert inline.process(doc) is None and doc.metadata["url_filter__reason"] is None


def test_annotate_mode_records_but_keeps(tmp_path):
    step = UrlFilter(opt_out=["optout.example"], datatrove_words=False, mode="annotate")
    doc = Document(text="t", id="x", metadata={"url": "https://optout.example/"})
    assert step.process(doc) is None and doc.metadata["url_filter__reason"] == "url_filter:opt_out"


def test_datatrove_word_lists_are_the_default():
    step = UrlFilter()
    assert verdict(step, "https://example.com/porn/videos")[0] == "banned_word"
    assert verdict(step, "https://example.com/gardening/tips")[0] is None


def test_pickles_without_its_loaded_lists(inline):
    assert verdict(inline, "http://bad.example/")[0]
    clone = pickle.loads(pickle.dumps(inline))
    assert "lists" not in clone.__dict__ and verdict(clone, "http://bad.example/")[0] == "blocklist:lists/scam"


def test_missing_list_fails_at_load_time_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        UrlFilter(blocklists=[str(tmp_path / "nope.txt")])


def test_unknown_ut1_category_names_the_present_ones(tmp_path):
    (tmp_path / "blacklists" / "gambling").mkdir(parents=True)
    (tmp_path / "blacklists" / "gambling" / "domains").write_text("a.example\n")
    step = UrlFilter(blocklists=[{"path": str(tmp_path), "categories": ["nosuch"]}], datatrove_words=False)
    with pytest.raises(ValueError, match="'nosuch'.*present: gambling"):
        verdict(step, "https://a.example/")


def test_parsing_helpers():
    assert list(domain_lines(["0.0.0.0 a.com b.com", "! adblock comment", "# c", "plain.org", "::1 ip6.org"])) == [
        "a.com", "b.com", "plain.org", "ip6.org"]
    assert url_key("HTTPS://WWW.Example.COM:443/Path/") == ("example.com", "example.com/Path")
    assert url_key("not a url at all") == (None, "")
    assert Blocklist().add_domains(["example.com"], "l").match("a.example.com") == ("l", "example.com")


@pytest.mark.integration
def test_real_lists_from_shared_data(shared):
    lists = shared / "blocklists"
    step = UrlFilter(blocklists=[
        {"path": str(lists / "ut1_blacklists_partial.tar.xz"), "categories": ["adult", "gambling", "porn"]},
        str(lists / "blocklistproject" / "scam.txt.gz"),
        str(lists / "sinfonietta" / "gambling-hosts.gz"),
    ], opt_out=["apple.com"])
    opt_out, blocked = step.lists
    assert len(blocked.domains) > 30_000 and len(blocked.urls) > 1_000
    assert verdict(step, "https://0-casino.info/")[0] == "blocklist:ut1/gambling"
    assert verdict(step, "https://www.0-google.com/login")[0] == "blocklist:blocklistproject/scam"
    assert verdict(step, "https://sub.10bet.com/")[0] in ("blocklist:ut1/gambling", "blocklist:sinfonietta/gambling-hosts")
    assert verdict(step, "https://101soundboards.com/boards/231587-bbw-bdsm-erotic-audio-clips")[0] == "blocklist:ut1/adult"
    assert verdict(step, "https://support.apple.com/kb")[0] == "opt_out"
    assert verdict(step, "https://en.wikipedia.org/wiki/River")[0] is None
