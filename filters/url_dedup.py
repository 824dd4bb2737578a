"""One document per normalised URL across the whole run: the longest or the latest copy is kept."""

from __future__ import annotations

from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import xxhash
from datatrove.data import Document

from curate.core.step import CurateFilter, Signal
from curate.filters.keyed_dedup import KeyedDedup
from curate.filters.minhash.signatures import order_key

DEFAULT_PORTS = {"http": 80, "https": 443}
M64 = (1 << 64) - 1


def normalize_url(url: str, drop_query_params=("utm_*",), ignore_scheme: bool = False) -> str:
    """The form two URLs of one page share: scheme and host lowercased, userinfo, default port,
    fragment and trailing slash dropped, query parameters whose name matches a pattern of
    `drop_query_params` (fnmatch, case-insensitive) removed, the others kept in order; with
    `ignore_scheme`, http and https are one. The path keeps its case (servers may tell it apart)."""
    parts = urlsplit(url.strip())
    scheme = "" if ignore_scheme else parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:  # IPv6: urlsplit strips the brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the netloc as it is
        host, port = parts.netloc.lower(), None
    if port is not None and DEFAULT_PORTS.get(parts.scheme.lower()) != port:
        host = f"{host}:{port}"
    query = "&".join(pair for pair in parts.query.split("&") if pair and not any(
        fnmatchcase(pair.partition("=")[0].lower(), pattern.lower()) for pattern in drop_query_params))
    return urlunsplit((scheme, host, parts.path.rstrip("/") or "/", query, ""))


def timestamp(value) -> int | None:
    """Seconds since 1970 of a WARC-Date (ISO 8601, `2024-02-20T10:11:12Z`); None if absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp())


class UrlDedup(KeyedDedup, CurateFilter):
    """Keep one document per normalised URL across the run: the `longest` text or the `latest` crawl.

    The same page fetched twice (another crawl, `http` and `https`, a tracking parameter) is one
    document; DCLM and datatrove deduplicate by URL as well, and Dolma's `dedupe-by-url` keys a
    Bloom filter on it. URLs are normalised by `normalize_url` (lowercase scheme and host, no
    fragment, default port or trailing slash, `drop_query_params` removed: utm_* tracking tags by
    default). `keep: longest` keeps the copy with the most characters; `latest` the one with the
    latest WARC date (`date` metadata, as the WARC reader records it; a copy without one counts as
    oldest). Ties, and every choice, fall back to MinHash's order key (a hash of id and source file),
    so the result does not depend on the task layout. Documents without a URL are kept. Runs as
    bounded-memory passes over sorted runs on disk: see filters/keyed_dedup.
    Example: `- url_dedup: {keep: longest, drop_query_params: ["utm_*", "fbclid"]}`
    """

    name = "🔗 curate URL dedup"
    namespace: ClassVar[str] = "url_dedup"
    signals: ClassVar[dict[str, Signal]] = {"normalized_url": Signal("string"),
                                            "kept": Signal("bool", keep="higher", reasons=("duplicate_url",))}
    record_fields = ("h", "pref", "key")

    def __init__(self, keep: str = "longest", drop_query_params: list[str] | None = None, ignore_scheme: bool = False,
                 buffer_records: int = 1 << 20, work_dir: str | None = None, mode: str = "filter",
                 emit_dropped: bool = False):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        if keep not in ("longest", "latest"):
            raise ValueError(f"keep must be 'longest' or 'latest', got {keep!r}")
        self.keep, self.ignore_scheme = keep, ignore_scheme
        self.drop_query_params = tuple(["utm_*"] if drop_query_params is None else drop_query_params)
        self.buffer_records, self.work_dir = buffer_records, work_dir

    def normalized(self, doc: Document) -> str | None:
        url = doc.metadata.get("url")
        return normalize_url(str(url), self.drop_query_params, self.ignore_scheme) if url else None

    def preference(self, doc: Document) -> int:
        """Smaller is preferred: the complement of the length, or of the date (none: last)."""
        if self.keep == "longest":
            return M64 - len(doc.text or "")
        seconds = timestamp(doc.metadata.get("date"))
        return M64 if seconds is None else M64 - 1 - max(0, seconds)

    def key_records(self, doc: Document) -> np.ndarray:
        url = self.normalized(doc)
        if url is None:
            return np.empty((0, 3), np.uint64)
        return np.array([[xxhash.xxh3_64_intdigest(url.encode()), self.preference(doc), order_key(doc)]], np.uint64)

    def filter(self, doc: Document) -> str | None:
        self.record(doc, "normalized_url", self.normalized(doc))
        self.record(doc, "kept", not len(self.removed))
        return "duplicate_url" if len(self.removed) else None
