"""What a WARC or ARC record is made of, and the checks that tell a whole record from a damaged one.

The patterns that find a record start (a `WARC/x.y` line; an ARC v1 header line `URL IP date mime
length`), the row a record or a stretch of junk becomes (`Framed`), and the evidence the framer
(`curate.io.warc_records`) weighs: the mandatory WARC fields (WARC 1.1 section 5), the block's
`WARC-Block-Digest`, and the length an HTTP message states for itself.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

TRUNCATED, CORRUPT = "truncated_record", "corrupt_record"
WARC_TYPES = frozenset({"warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion",
                        "continuation"})
WARC_START = re.compile(rb"WARC/[01]\.\d{1,2}\r?\n")
_ARC_LINE = rb"[^\s][^\r\n]{0,8000}? \d{1,3}(?:\.\d{1,3}){3} \d{14} \S* \d{1,12}\r?\n"
ARC_START = re.compile(_ARC_LINE)
ARC_SCAN = re.compile(rb"\n" + _ARC_LINE)
RECORD_ID = re.compile(r"<[!-;=?-~]{1,500}>")  # WARC 1.1 section 5.2: a URI (printable ASCII) in angle brackets
URL_HEAD = re.compile(rb"[a-zA-Z][a-zA-Z0-9+.-]{1,20}:\S")
HTTP_REQUEST = re.compile(rb"[A-Z]{3,10} \S+ HTTP/\d\.\d\r\n")
HTTP_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,15})[ \t]*(?:\r\n|$)", re.I)


@dataclass
class Framed:
    offset: int  # the gzip member's offset in the file (plain files: the record's offset)
    where: str  # unique within the file: "OFFSET", or "OFFSET+INNER" for a record inside a member
    fmt: str  # "warc" or "arc"
    headers: dict[str, str] | None  # lower-cased names; None for bytes that are not a record
    block: bytes = b""  # the first keep_bytes bytes of the block
    length: int | None = None  # the declared block length
    present: int = 0  # block bytes present
    problem: str | None = None
    error: str | None = None
    inner: int = 0
    trusted: bool = True  # its header is not garbage: clean lines, no damaged gzip data before or in it
    merged: int = 0  # stretches of junk after it that this row accounts for too


def looks_like_start(data: bytes) -> bool:
    """Does `data` (the first bytes of a gzip member) begin like a WARC or ARC record?"""
    data = data.lstrip(b"\r\n")
    if WARC_START.match(data):
        return True
    return bool(ARC_START.match(data) if b"\n" in data else URL_HEAD.match(data))


def digest_ok(headers: dict[str, str], block: bytes) -> bool | None:
    """Does `block` match WARC-Block-Digest (`sha1:` and the like, base32 or hex)? None: cannot tell."""
    algorithm, _, value = headers.get("warc-block-digest", "").partition(":")
    try:
        digest = hashlib.new(algorithm.strip().lower(), block).digest()
        value = value.strip()
        if len(value) == 2 * len(digest):
            return digest == bytes.fromhex(value)
        return digest == base64.b32decode(value.upper() + "=" * (-len(value) % 8))
    except (ValueError, TypeError):
        return None


def http_length_ok(block: bytes) -> bool | None:
    """Is an HTTP message block as long as its own header says (Content-Length; none on a request:
    no body)? False: shorter or longer, so the record's length is wrong; None: cannot tell (chunked,
    a response without Content-Length, or not HTTP)."""
    request = HTTP_REQUEST.match(block)
    if not request and not block.startswith(b"HTTP/"):
        return None
    head, sep, body = block.partition(b"\r\n\r\n")
    match = HTTP_LENGTH.search(head)
    if not sep or b"chunked" in head.lower() or not match and not request:
        return None
    return len(body) == (int(match.group(1)) if match else 0)


def is_junk(item: Framed) -> bool:
    """Bytes that are not a record, or a header with neither a length nor a record id."""
    return item.problem == CORRUPT and item.length is None and not (
        item.trusted and RECORD_ID.fullmatch((item.headers or {}).get("warc-record-id", "")))


def merged(junk: Framed) -> Framed:
    if junk.merged:
        junk.error = f"{junk.error} (and {junk.merged} more stretches of junk after it, up to the next record)"
    return junk


def header_errors(fields: dict[str, str]) -> list[str]:
    """The mandatory fields (WARC 1.1 section 5) that are missing or malformed."""
    errors = []
    kind = fields.get("warc-type")
    if kind is None:
        errors.append("WARC-Type: missing")
    elif kind not in WARC_TYPES:
        errors.append(f"WARC-Type: {kind[:40]!r} is not a record type")
    record_id = fields.get("warc-record-id")
    if record_id is None:
        errors.append("WARC-Record-ID: missing")
    elif not RECORD_ID.fullmatch(record_id):
        errors.append(f"WARC-Record-ID: {record_id[:60]!r} is not a <URI>")
    length = fields.get("content-length")
    if length is None:
        errors.append("Content-Length: missing")
    elif declared_length(length) is None:
        errors.append(f"Content-Length: {length[:40]!r} is not a length")
    return errors


def partial_start(stray: bytes, fmt: str) -> bool:
    """Is `stray`, the last bytes of the data, the beginning of a record's first line?"""
    if b"\n" in stray:
        return False
    if fmt == "warc":
        return len(stray) < 12 and b"WARC/"[:len(stray)] == stray[:5]
    return bool(URL_HEAD.match(stray)) or len(stray) < 4


def declared_length(value: str | None) -> int | None:
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


def text_of(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def iso_date(date: str) -> str:
    return f"{date[:4]}-{date[4:6]}-{date[6:8]}T{date[8:10]}:{date[10:12]}:{date[12:14]}Z"


def join(first: str | None, second: str) -> str:
    return second if not first else f"{first}; {second}"
