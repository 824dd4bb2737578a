"""Readers that turn every input record into a document, so every record gets a decision row.

datatrove's `WarcReader` silently skips records that are not HTML or cannot be decoded, and its
JSONL and Parquet readers skip documents without text and lose the task to one bad line or file.
curate's readers yield *every* response/conversion record (WARC, WET, ARC) and every input
document; what cannot be used is marked dropped with a reason and reaches the decision table
like any other drop:

- `read:truncated_record`: the file ends inside the record (never kept, whatever was read);
- `read:corrupt_record`: damaged gzip data, a header error (`read__error` names the header), a
  `Content-Length` that does not end the record, a block that fails its WARC-Block-Digest, or
  bytes that are not a record (`FILE#OFFSET`, in `read__error` with their length); framing
  resynchronises on the next record (`curate.io.warc_records`);
- `read:too_large`: a page over `max_payload_bytes`, which is streamed past, never held whole;
- `read:decode_error`: bytes no charset fits (`curate.io.charset`); `read:empty_text`;
- `read:bad_json` (a JSONL line that is not a JSON object), `read:corrupt_file` (a truncated
  `.jsonl.gz`, an unreadable `.parquet` or WARC: rows for what was read, one row for the rest,
  and the task goes on with the next file).

Ids are deterministic: the WARC-Record-ID, else `FILE#OFFSET` (ARC records, a repeated or malformed id,
and a record whose header may be garbage: damaged gzip data, malformed header lines).
"""

from __future__ import annotations

import io
import re
from typing import ClassVar

from datatrove.data import Document
from datatrove.pipeline.readers import JsonlReader as _DatatroveJsonlReader
from datatrove.pipeline.readers import ParquetReader as _DatatroveParquetReader
from datatrove.pipeline.readers.base import BaseDiskReader
from datatrove.utils.logging import logger

from curate.core.step import DeclaresSignals, mark_dropped, signal_key
from curate.io.charset import decode_html, decode_nearly, decode_page  # noqa: F401 (decode_html: public API)
from curate.io.warc_fields import RECORD_ID, Framed
from curate.io.warc_records import Framer

NAMESPACE = "read"
HTML_TYPES = ("text/html", "application/xhtml+xml")
DOC_TYPES = ("response", "conversion")
SNIFF_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|div|p)\b", re.I)
MAX_PAYLOAD_BYTES = 10_000_000  # the extraction stages' max_bytes: a larger page is never read whole
HEADER_ROOM = 64 * 1024  # room for the HTTP header on top of the payload limit
MAX_LINE_BYTES = 64 << 20  # a longer JSONL line is read:too_large


def _key(signal: str) -> str:
    return signal_key(NAMESPACE, signal)


def _dropped_doc(doc_id: str, url: str | None, path: str, reason: str, metadata: dict) -> Document:
    doc = Document(text="", id=doc_id, metadata={"url": url, "file_path": path, **metadata})
    mark_dropped(doc, NAMESPACE, f"{NAMESPACE}:{reason}")
    return doc


def _problem(step, doc_id: str, path: str, reason: str, error: str, metadata: dict | None = None) -> Document:
    """A drop row for something that could not be read, logged and counted."""
    logger.warning(f"{path}: {reason} {doc_id} ({error})")
    step.stat_update(reason)
    meta = {**(metadata or {}), _key("error"): error}
    return _dropped_doc(doc_id, meta.pop("url", None), path, reason, meta)


def content_type_of(http, headers: dict[str, str]) -> tuple[str | None, str | None]:
    """(mime type, charset) from the HTTP header, else Common Crawl's identified payload type."""
    header = http.get_header("Content-Type") if http is not None else None
    header = header or headers.get("warc-identified-payload-type")
    if not header:
        return None, None
    mime, _, params = header.partition(";")
    match = re.search(r"charset\s*=\s*[\"']?([^\"';\s]+)", params, re.I)
    return mime.strip().lower() or None, match.group(1) if match else None


def _target_uri(headers: dict[str, str]) -> str | None:
    """WARC-Target-URI as warcio reads it: `<...>` (a wget 1.19 bug) unwrapped, spaces escaped."""
    uri = headers.get("warc-target-uri")
    if uri and uri.startswith("<") and uri.endswith(">"):
        uri = uri[1:-1]
    return uri.replace(" ", "%20") if uri else uri


def _http_and_body(block: bytes, rec_type: str, uri: str | None):
    """warcio's HTTP header of a response record (None for dns:, WET, ...) and the bytes after it."""
    if rec_type != "response" or not block or not (uri or "").startswith(("http:", "https:")):
        return None, block
    from warcio.statusandheaders import StatusAndHeadersParser

    stream = io.BytesIO(block)
    try:
        http = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1"], verify=False).parse(stream)
    except EOFError:
        return None, block
    return http, block[stream.tell():]


def _payload(http, body: bytes, limit: int) -> tuple[bytes, bool]:
    """The body without transfer and content encoding (as warcio's `content_stream`), at most
    `limit` bytes; whether there was more."""
    stream = io.BytesIO(body)
    if http is not None:
        from warcio.recordloader import ArcWarcRecord

        stream = ArcWarcRecord("warc", "response", None, stream, http, None, len(body)).content_stream()
    data = stream.read(limit + 1)
    return data[:limit], len(data) > limit


class WarcReader(DeclaresSignals, BaseDiskReader):
    """Read WARC, WET and ARC files (gzipped per record, as one stream, or not): one document per
    response/conversion record, and one drop row per damaged record or stretch of garbage.

    HTML and text payloads are decoded (`curate.io.charset`: the declared charset when the bytes
    fit it, else detection; `read__charset_source` says which); other payloads become empty
    documents carrying their content type, which the extract stage drops as `extract:non_html`.
    `read_stream(f, name)` reads an open file, for callers without a data folder.
    Example: `WarcReader("crawl/", glob_pattern="*.warc.gz")`.
    """

    name = "🕷 curate WARC"
    namespace: ClassVar[str] = NAMESPACE
    signals: ClassVar[dict[str, str]] = {
        "warc_type": "string",
        "content_type": "string",
        "http_status": "int32",
        "payload_bytes": "int64",
        "offset": "int64",
        "charset": "string",
        "charset_source": "string",
        "decode_errors": "int32",
        "error": "string",
    }
    _requires_dependencies = ["warcio", ("cchardet", "faust-cchardet")]

    def __init__(self, data_folder, glob_pattern: str | None = None, max_payload_bytes: int = MAX_PAYLOAD_BYTES,
                 **kwargs):
        super().__init__(data_folder, glob_pattern=glob_pattern, **kwargs)
        self.max_payload_bytes = max_payload_bytes

    def read_file(self, filepath: str):
        try:
            f = self.data_folder.open(filepath, "rb")
        except Exception as error:
            yield _problem(self, f"{filepath}#error", filepath, "corrupt_file", f"cannot open: {error}")
            return
        with f:
            yield from self.read_stream(f, filepath)

    def read_stream(self, f, filepath: str):
        """Every document and drop row of the open crawl file `f` (named `filepath` in ids)."""
        seen: set[str] = set()
        records = None
        while True:
            try:
                records = records or iter(Framer(f, filepath, self.max_payload_bytes + HEADER_ROOM))
                rec = next(records)
            except StopIteration:
                return
            except Exception as error:  # an I/O error: one row for the rest of the file
                yield _problem(self, f"{filepath}#error", filepath, "corrupt_file", f"{type(error).__name__}: {error}")
                return
            doc = self._document(rec, filepath, seen)
            if doc is not None:
                yield doc

    def _document(self, rec: Framed, filepath: str, seen: set[str]) -> Document | None:
        headers = rec.headers or {}
        rec_type = headers.get("warc-type")
        if rec.problem is None and rec_type not in DOC_TYPES:
            return None
        doc_id = headers.get("warc-record-id") if rec.fmt == "warc" and rec.trusted else None
        if not doc_id or not RECORD_ID.fullmatch(doc_id) or doc_id in seen:
            doc_id = f"{filepath}#{rec.where}"
        seen.add(doc_id)
        meta = {"url": _target_uri(headers), "date": headers.get("warc-date"), "file_path": filepath,
                _key("warc_type"): rec_type, _key("offset"): rec.offset}
        if rec.problem is not None:
            return _problem(self, doc_id, filepath, rec.problem, rec.error or "", meta)
        try:
            return self._page(rec, rec_type, doc_id, meta)
        except Exception as error:  # a block the HTTP parser or a decoder cannot take
            return _problem(self, doc_id, filepath, "corrupt_record", f"{type(error).__name__}: {error}", meta)

    def _page(self, rec: Framed, rec_type: str, doc_id: str, meta: dict) -> Document:
        headers = rec.headers or {}
        http, body = _http_and_body(rec.block, rec_type, meta["url"])
        payload, over = _payload(http, body, self.max_payload_bytes)
        cut = rec.present > len(rec.block)  # the block is longer than what was kept of it
        if rec_type == "conversion":
            mime, charset = "text/plain", "utf-8"
        else:
            mime, charset = content_type_of(http, headers)
            if mime is None and SNIFF_HTML.search(payload[:1024]):
                mime = "text/html"
        code = http.get_statuscode() if http is not None else None
        meta[_key("content_type")] = mime
        meta[_key("http_status")] = int(code) if code and code.isdigit() and len(code) < 6 else None
        meta[_key("payload_bytes")] = len(payload) if not (over or cut) else (rec.length or 0) - (len(rec.block) - len(body))
        self.stat_update("records")
        if mime not in HTML_TYPES and mime != "text/plain":
            return Document(text="", id=doc_id, metadata=meta)  # extract decides: non_html
        if over or cut:
            return _problem(self, doc_id, meta["file_path"], "too_large",
                            f"payload over max_payload_bytes={self.max_payload_bytes}", meta)
        decoded = decode_page(payload, charset)
        if decoded is None:
            self.stat_update("decode_error")
            return _dropped_doc(doc_id, meta["url"], meta["file_path"], "decode_error", meta)
        meta[_key("charset")] = decoded.charset
        meta[_key("charset_source")] = "conversion" if rec_type == "conversion" else decoded.source
        meta[_key("decode_errors")] = decoded.errors
        return Document(text=decoded.text, id=doc_id, metadata=meta)


class _DocumentReaderMixin(DeclaresSignals):
    """Shared by the JSONL and Parquet readers: a record that cannot be a document is a drop row."""

    namespace: ClassVar[str] = NAMESPACE
    signals: ClassVar[dict[str, str]] = {"decode_errors": "int32", "error": "string"}

    def get_document_from_dict(self, data: dict, source_file: str, id_in_file):
        parsed = self.adapter(data, source_file, id_in_file)
        metadata = parsed.get("metadata", {})
        metadata["file_path"] = source_file
        text = parsed.get("text")
        if not isinstance(text, str) or not text.strip():
            self.stat_update("empty_text")
            return _dropped_doc(str(parsed.get("id")), metadata.get("url"), source_file, "empty_text", metadata)
        return Document(text=text, id=str(parsed["id"]), metadata=metadata)

    def _from_dict(self, data, path: str, index: int, where: str, bad: str) -> Document:
        """The document of one record, or a `bad` drop row if it is not an object or the adapter fails."""
        if not isinstance(data, dict):
            return _problem(self, f"{path}#{where}", path, bad, f"a JSON {type(data).__name__}, not an object")
        try:
            return self.get_document_from_dict(data, path, index)
        except Exception as error:
            return _problem(self, f"{path}#{where}", path, bad, f"not a document: {type(error).__name__}: {error}")

    def _corrupt_file(self, path: str, where: str, error: Exception) -> Document:
        return _problem(self, f"{path}#{where}", path, "corrupt_file", f"{type(error).__name__}: {error}")


class JsonlReader(_DocumentReaderMixin, _DatatroveJsonlReader):
    """Read documents from JSON Lines (`id`, `text`, `url`, anything else becomes metadata).

    A line that is not a JSON object is a `read:bad_json` row; one with a few invalid UTF-8 bytes
    is read with them replaced (`read__decode_errors`), a mostly undecodable one is a
    `read:decode_error` row; a file that cannot be read to its end (a truncated `.jsonl.gz`) gives
    its lines so far and one `read:corrupt_file` row. Ids of such rows: `FILE#L<line>`.
    Example: `JsonlReader("docs/", glob_pattern="*.jsonl.gz")`.
    """

    name = "🐿 curate JSONL"
    max_line_bytes = MAX_LINE_BYTES

    def read_file(self, filepath: str):
        try:
            f = self.data_folder.open(filepath, "rb", compression=self.compression)
        except Exception as error:
            yield self._corrupt_file(filepath, "L1", error)
            return
        with f:
            for line_no, line, error in _lines(f, self.max_line_bytes):
                if error is not None:
                    yield self._corrupt_file(filepath, f"L{line_no}", error)
                elif line is None:
                    yield _problem(self, f"{filepath}#L{line_no}", filepath, "too_large",
                                   f"line longer than {self.max_line_bytes} bytes")
                elif line.strip():
                    yield self._line(filepath, line_no, line)

    def _line(self, path: str, line_no: int, line: bytes) -> Document:
        import orjson

        try:
            return self._from_dict(orjson.loads(line), path, line_no - 1, f"L{line_no}", "bad_json")
        except orjson.JSONDecodeError as error:
            if line.isascii() or _utf8(line):
                return _problem(self, f"{path}#L{line_no}", path, "bad_json", f"not JSON: {error}")
        nearly = decode_nearly(line)
        if nearly is None:
            return _problem(self, f"{path}#L{line_no}", path, "decode_error", "the line is not UTF-8")
        try:
            doc = self._from_dict(orjson.loads(nearly[0]), path, line_no - 1, f"L{line_no}", "bad_json")
        except orjson.JSONDecodeError as error:
            return _problem(self, f"{path}#L{line_no}", path, "bad_json", f"not JSON: {error}")
        doc.metadata[_key("decode_errors")] = nearly[1]
        return doc


class ParquetReader(_DocumentReaderMixin, _DatatroveParquetReader):
    """Read documents from Parquet (`id`, `text`, `url` columns; other columns become metadata).

    A file that cannot be opened or read to its end gives its rows so far and one
    `read:corrupt_file` row (`FILE#row<n>`); the task goes on with the next file.
    Example: `ParquetReader("docs/", glob_pattern="*.parquet")`.
    """

    name = "📒 curate Parquet"

    def read_file(self, filepath: str):
        import pyarrow.parquet as pq

        row = 0
        try:
            f = self.data_folder.open(filepath, "rb")
        except Exception as error:
            yield self._corrupt_file(filepath, "row0", error)
            return
        with f:
            try:
                columns = [self.text_key, self.id_key] if not self.read_metadata else None
                batches = pq.ParquetFile(f).iter_batches(batch_size=self.batch_size, columns=columns)
                while True:
                    try:
                        batch = next(batches)
                    except StopIteration:
                        return
                    for data in batch.to_pylist():
                        yield self._from_dict(data, filepath, row, f"row{row}", "corrupt_record")
                        row += 1
            except Exception as error:  # pyarrow raises OSError, ArrowInvalid and others on damage
                yield self._corrupt_file(filepath, f"row{row}", error)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _lines(f, max_line: int):
    """(line number, bytes or None if longer than `max_line`, None) per line of `f`, and finally
    (line number, None, error) if reading fails: the cut last line is part of that error."""
    read = getattr(f, "read1", None) or f.read
    buf, line_no, skipping = b"", 0, False
    while True:
        try:
            chunk = read(1 << 20)
        except Exception as error:
            yield line_no + 1, None, error
            return
        if not chunk:
            if buf and not skipping:
                yield line_no + 1, buf, None
            return
        *lines, buf = (buf + chunk).split(b"\n")
        for line in lines:
            line_no += 1
            if not skipping:
                yield line_no, line, None
            skipping = False
        if len(buf) > max_line and not skipping:
            yield line_no + 1, None, None
            buf, skipping = b"", True
        elif skipping:
            buf = b""
