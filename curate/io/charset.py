"""Decode a page's bytes: the declared charset when the bytes fit it, else the bytes' own evidence.

Servers and pages often declare the wrong charset: Apache's default `ISO-8859-1` on UTF-8 pages,
`UTF-8` on windows-1251 pages, or UTF-8 with one stray byte from a bad template. Trusting the
declaration gives mojibake; one strict UTF-8 error sending the page to a detector garbles every
non-ASCII character. The order here (after WHATWG's encoding sniffing, with a detector last, as
Common Crawl's `charset-detected` and trafilatura do):

1. a byte-order mark (`bom`);
2. the HTTP header's charset (`header`), then `<meta charset>` (`meta`), when the bytes decode
   cleanly under it; a single-byte charset (latin-1, windows-125x, ...) is not trusted over valid
   UTF-8 that has non-ASCII characters (latin-1 text is almost never valid UTF-8: `utf-8`);
3. UTF-8 (`utf-8`);
4. a few stray bytes: the declared charsets, then UTF-8, decoded with `errors="replace"` when at
   most one byte sequence per five non-ASCII characters is bad (`errors` counts the replaced ones);
5. a detector on the bytes, faust-cchardet (`detected`), cleanly, then with a few stray bytes.

A label is decoded as WHATWG's Encoding Standard says browsers do: `iso-8859-1` and `us-ascii` as
windows-1252, `gb2312` and `gbk` as gb18030, and so on (`WHATWG`); `charset` names the codec used.
`source` records which step won (the reader's `read__charset_source`); None means undecodable.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
NOT_PAGE_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "utf-7",
                               "mbcs", "oem", "charmap"})
# WHATWG Encoding Standard, "Names and labels": browsers decode these labels with a superset
WHATWG = {"iso-8859-1": "windows-1252", "iso8859-1": "windows-1252", "latin1": "windows-1252",
          "latin-1": "windows-1252", "l1": "windows-1252", "cp819": "windows-1252", "ascii": "windows-1252",
          "us-ascii": "windows-1252", "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
          "chinese": "gb18030", "csgb2312": "gb18030", "ks_c_5601-1987": "cp949", "euc-kr": "cp949",
          "shift_jis": "cp932", "x-sjis": "cp932", "sjis": "cp932", "big5": "big5hkscs", "tis-620": "cp874",
          "iso-8859-11": "cp874", "iso-8859-9": "cp1254", "latin5": "cp1254"}
STRAY_SHARE = 0.2  # undecodable sequences per decoded non-ASCII character (a stray byte costs 1-3)


@dataclass
class Decoded:
    text: str
    charset: str  # the codec used: the declared or detected label, lower-cased, or its WHATWG superset
    source: str  # bom, header, meta, utf-8 or detected
    errors: int = 0  # byte sequences replaced by U+FFFD


def decode_page(payload: bytes, header_charset: str | None) -> Decoded | None:
    """The page's text and where its charset came from, or None if no charset fits its bytes."""
    for bom, charset in BOMS:
        if payload.startswith(bom):
            decoded = _strict(payload, charset, "bom") or _nearly(payload, charset, "bom")
            if decoded is not None:
                decoded.charset = charset.removesuffix("-sig")
            return decoded
    meta = META_CHARSET.search(payload[:4096])
    labels = ((header_charset, "header"), (meta.group(1).decode("ascii", "ignore") if meta else None, "meta"))
    declared = [(_charset(label), source) for label, source in labels if label and _charset(label)]
    for charset, source in declared:
        decoded = _strict(payload, charset, source)
        if decoded is not None:
            if _single_byte(charset) and not payload.isascii():
                return _strict(payload, "utf-8", "utf-8") or decoded
            return decoded
    decoded = _strict(payload, "utf-8", "utf-8")
    for charset, source in [*declared, ("utf-8", "utf-8")]:
        if decoded is not None:
            return decoded
        decoded = _nearly(payload, charset, source)
    if decoded is not None:
        return decoded
    detected = _detect(payload)
    if detected is None:
        return None
    return _strict(payload, detected, "detected") or _nearly(payload, detected, "detected")


def decode_html(payload: bytes, header_charset: str | None) -> tuple[str, str] | None:
    """(text, charset) of `decode_page`, or None: for callers that need no more."""
    decoded = decode_page(payload, header_charset)
    return None if decoded is None else (decoded.text, decoded.charset)


def decode_nearly(data: bytes, charset: str = "utf-8") -> tuple[str, int] | None:
    """(text, replaced sequences) when at most a few bytes do not decode under `charset`, else None."""
    decoded = _nearly(data, charset, "")
    return None if decoded is None else (decoded.text, decoded.errors)


def _charset(label: str) -> str | None:
    """The charset to decode a declared or detected `label` with (WHATWG's superset), if Python knows it."""
    label = label.strip().lower()
    charset = WHATWG.get(label, label)
    return charset if _known(charset) else None


def _strict(payload: bytes, charset: str, source: str) -> Decoded | None:
    try:
        return Decoded(payload.decode(charset), charset, source)
    except (UnicodeDecodeError, LookupError):
        return None


def _nearly(payload: bytes, charset: str, source: str) -> Decoded | None:
    try:
        text = payload.decode(charset, "replace")
    except LookupError:
        return None
    marker = "\ufffd".encode(charset, "ignore")
    errors = text.count("\ufffd") - (payload.count(marker) if marker else 0)
    non_ascii = len(text) - len(text.encode("ascii", "ignore")) - errors
    if errors <= 0 or errors > STRAY_SHARE * non_ascii:
        return None
    return Decoded(text, charset, source, errors)


@lru_cache(maxsize=256)
def _known(charset: str) -> bool:
    """A text charset a web page may use (not `unicode_escape`, `idna`, `utf-7` and the like)."""
    try:
        return codecs.lookup(charset).name not in NOT_PAGE_CHARSETS
    except LookupError:
        return False


@lru_cache(maxsize=256)
def _single_byte(charset: str) -> bool:
    """Every byte is one character (latin-1, windows-1252, koi8-r...): such a charset decodes anything."""
    return len(bytes(range(256)).decode(charset, "replace")) == 256


def _detect(payload: bytes) -> str | None:
    import cchardet

    detected = cchardet.detect(payload).get("encoding")
    return _charset(detected) if detected else None
