"""URL filtering: user opt-outs, domain blocklists, and banned words in the URL, as FineWeb does."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from datatrove.data import Document

from curate.core.step import CurateFilter, Signal
from curate.resources import blocklists

NON_ALNUM = re.compile(r"[^a-z0-9]+")


def word_list(words: list[str] | str | None, datatrove_file: str | None = None) -> set[str]:
    """Words from an inline list and/or a file (one per line), plus datatrove's packaged list
    `datatrove_file`; normalized as datatrove does (lowercase, non-alphanumerics removed)."""
    lines: list[str] = []
    if isinstance(words, str):
        path = Path(words).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"word list not found: {path}")
        lines += blocklists.read_text_lines(path)
    elif words:
        lines += list(words)
    if datatrove_file:
        from datatrove.utils._import_utils import ASSETS_PATH

        lines += (Path(ASSETS_PATH) / datatrove_file).read_text().splitlines()
    return {NON_ALNUM.sub("", w.lower()) for w in lines if w.strip() and not w.startswith("#")} - {""}


class UrlFilter(CurateFilter):
    """Drop documents whose URL is on a user opt-out list, a domain blocklist, or carries banned words.

    Checks, in order (the first match is the reason):
    1. `opt_out`: domains whose owners refuse crawling (inline list or a file) -> `opt_out`.
    2. `blocklists`: paths to UT1 folders/archives (`{path, categories}`; default category
       `adult`, the one datatrove and FineWeb use), hosts files (blocklistproject, Sinfonietta) or
       plain domain lists, gzipped or not -> `blocklist:<list>`, e.g. `blocklist:ut1/adult`,
       `blocklist:blocklistproject/scam`. A listed domain blocks its subdomains; a UT1 `urls`
       entry blocks that page and the pages under it.
    3. datatrove's URLFilter word rules (datatrove `pipeline/filters/url_filter.py`): a
       `banned_words` word among the URL's words -> `banned_word`; `soft_word_threshold` or more
       `soft_banned_words` -> `soft_banned_words`; a `banned_subwords` entry anywhere in the URL
       with non-alphanumerics removed -> `banned_subword`. Unlike datatrove, URL words are
       lowercased first, so `PORN` matches `porn`. `datatrove_words: true` (default) adds
       datatrove's packaged word lists, as FineWeb uses them.
    No tldextract: parent domains are probed label by label, so nothing is fetched at run time.
    Documents without a URL are kept and counted (`no_url`). Records the matched entry as `match`.
    Reasons (datatrove's in brackets): opt_out, blocklist:<list> (domain, subdomain, url),
    banned_word (hard_blacklisted), soft_banned_words (soft_blacklisted), banned_subword
    (blacklisted_subword).
    Example: `- url_filter: {opt_out: [example.com], banned_words: [casino], datatrove_words: false}`.
    """

    name = "🔗 curate URL filter"
    namespace: ClassVar[str] = "url_filter"
    signals: ClassVar[dict[str, Signal]] = {"match": Signal("string")}
    transient: ClassVar[tuple[str, ...]] = ("lists", "subword_pattern")

    def __init__(
        self,
        blocklists: list[str | dict] | None = None,
        opt_out: list[str] | str | None = None,
        banned_words: list[str] | str | None = None,
        banned_subwords: list[str] | str | None = None,
        soft_banned_words: list[str] | str | None = None,
        soft_word_threshold: int = 2,
        datatrove_words: bool = True,
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.blocklist_specs = list(blocklists or [])
        self.opt_out_spec = opt_out
        words = "datatrove" if datatrove_words else None
        self.banned_words = word_list(banned_words, words and "banned_words.txt")
        self.banned_subwords = word_list(banned_subwords, words and "banned_subwords.txt")
        self.soft_banned_words = word_list(soft_banned_words, words and "soft_banned_words.txt")
        self.soft_word_threshold = soft_word_threshold
        for spec in self.blocklist_specs:  # fail at load time on a missing list, not mid-run
            path = spec.get("path", "") if isinstance(spec, dict) else spec
            if not Path(path).expanduser().exists():
                raise FileNotFoundError(f"blocklist not found: {path}")
        if isinstance(opt_out, str) and not Path(opt_out).expanduser().is_file():
            raise FileNotFoundError(f"opt-out list not found: {opt_out}")

    @cached_property
    def lists(self) -> tuple[blocklists.Blocklist, blocklists.Blocklist]:
        """(opt-out list, merged blocklist), read once per task."""
        opt_out = blocklists.Blocklist()
        if isinstance(self.opt_out_spec, str):
            opt_out.add_domains(blocklists.domain_lines(blocklists.read_text_lines(Path(self.opt_out_spec))), "opt_out")
        elif self.opt_out_spec:
            opt_out.add_domains(blocklists.domain_lines(self.opt_out_spec), "opt_out")
        merged = blocklists.Blocklist()
        for spec in self.blocklist_specs:
            one = blocklists.load(spec, default_categories=["adult"])
            for entry, name in one.domains.items():
                merged.domains.setdefault(entry, name)
            for entry, name in one.urls.items():
                merged.urls.setdefault(entry, name)
        return opt_out, merged

    @cached_property
    def subword_pattern(self) -> re.Pattern | None:
        words = sorted(self.banned_subwords, key=len, reverse=True)
        return re.compile("|".join(map(re.escape, words))) if words else None

    def filter(self, doc: Document) -> str | None:
        url = doc.metadata.get("url")
        if not url:
            self.stat_update("no_url")
            return None
        opt_out, blocked = self.lists
        host, host_path = blocklists.url_key(url)
        found = opt_out.match(host)
        if found:
            self.record(doc, "match", found[1])
            return "opt_out"
        found = blocked.match(host, host_path)
        if found:
            self.record(doc, "match", found[1])
            return f"blocklist:{found[0]}"
        lowered = url.lower()
        words = set(NON_ALNUM.split(lowered))
        hit = next((w for w in words if w in self.banned_words), None)
        if hit:
            self.record(doc, "match", hit)
            return "banned_word"
        soft = sorted(w for w in words if w in self.soft_banned_words)
        if soft and len(soft) >= self.soft_word_threshold:
            self.record(doc, "match", " ".join(soft))
            return "soft_banned_words"
        if self.subword_pattern is not None:
            found = self.subword_pattern.search(NON_ALNUM.sub("", lowered))
            if found:
                self.record(doc, "match", found.group())
                return "banned_subword"
        return None
