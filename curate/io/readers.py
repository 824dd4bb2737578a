"""Readers that turn every input record into a document, so every record gets a decision row.

datatrove's `WarcReader` silently skips records that are not HTML or cannot be decoded, and its
JSONL reader skips documents without text. curate's readers subclass them but yield *every*
response/conversion record (WARC, WET, ARC) and every input document; the ones that cannot be
used are marked dropped with a reason (`read:corrupt_record`, `read:decode_error`,
`read:empty_text`) and reach the decision table like any other drop. A corrupt gzip member is
skipped by resynchronising on the next member, so one bad record never loses the rest of a shard.
"""

from __future__ import annotations

import re
from typing import ClassVar

from datatrove.data import Document
from datatrove.pipeline.readers import JsonlReader as _DatatroveJsonlReader
from datatrove.pipeline.readers import ParquetReader as _DatatroveParquetReader
from datatrove.pipeline.readers.base import BaseDiskReader
from datatrove.utils.logging import logger
from warcio.bufferedreaders import DecompressingBufferedReader

from curate.core.step import mark_dropped, signal_key

NAMESPACE = "read"
HTML_TYPES = ("text/html", "application/xhtml+xml")
GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_MAGIC = re.compile(rb"(?:^|\r?\n)WARC/[0-9.]+\r?\n")
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
SNIFF_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|div|p)\b", re.I)
RESYNC_WINDOW = 1 << 20
TRAILING_SLACK = 8  # newlines after the last record are not a record


def _dropped_doc(doc_id: str, url: str | None, path: str, reason: str, metadata: dict) -> Document:
    doc = Document(text="", id=doc_id, metadata={"url": url, "file_path": path, **metadata})
    mark_dropped(doc, NAMESPACE, f"{NAMESPACE}:{reason}")
    return doc


def content_type_of(record) -> tuple[str | None, str | None]:
    """(mime type, charset) from the HTTP header, else Common Crawl's identified payload type."""
    header = None
    if record.http_headers is not None:
        header = record.http_headers.get_header("Content-Type")
    if not header:
        header = record.rec_headers.get_header("WARC-Identified-Payload-Type")
    if not header:
        return None, None
    mime, _, params = header.partition(";")
    charset = None
    match = re.search(r"charset\s*=\s*[\"']?([^\"';\s]+)", params, re.I)
    if match:
        charset = match.group(1)
    return mime.strip().lower() or None, charset


def decode_html(payload: bytes, header_charset: str | None) -> tuple[str, str] | None:
    """Decode with the HTTP header's charset, then the <meta> charset, then UTF-8, then detection."""
    candidates = [header_charset]
    meta = META_CHARSET.search(payload[:4096])
    if meta:
        candidates.append(meta.group(1).decode("ascii", "ignore"))
    candidates.append("utf-8")
    for charset in candidates:
        if not charset:
            continue
        try:
            return payload.decode(charset), charset.lower()
        except (UnicodeDecodeError, LookupError):
            continue
    import cchardet

    detected = cchardet.detect(payload).get("encoding")
    if detected:
        try:
            return payload.decode(detected), detected.lower()
        except (UnicodeDecodeError, LookupError):
            pass
    return None


class WarcReader(BaseDiskReader):
    """Read WARC, WET and ARC files (gzipped or not): one document per response/conversion record.

    HTML payloads are decoded (charset from the HTTP header, then `<meta>`, then UTF-8, then
    detection); other payloads become empty documents carrying their content type, which the
    extract stage drops as `extract:non_html`. Records it cannot parse are kept as
    `read:corrupt_record` rows and reading resumes at the next gzip member (or `WARC/` header).
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
    }
    _requires_dependencies = ["warcio", ("cchardet", "faust-cchardet")]

    def __init__(self, data_folder, glob_pattern: str | None = None, **kwargs):
        super().__init__(data_folder, glob_pattern=glob_pattern, **kwargs)

    def read_file(self, filepath: str):
        from warcio.archiveiterator import ArchiveIterator

        with self.data_folder.open(filepath, "rb") as f:
            head = f.read(2)
            gzipped = head == GZIP_MAGIC[:2]
            start = 0
            while start is not None:
                f.seek(start)
                records = ArchiveIterator(f, arc2warc=True)
                if gzipped:
                    records.reader.__class__ = _StrictGzipReader
                try:
                    for record in records:
                        doc = self._record_to_doc(record, records, filepath)
                        if doc is not None:
                            yield doc
                    start = None
                    # warcio ends quietly when the last record is cut short: bytes left over mean
                    # a truncated record, which must be counted rather than lost
                    f.seek(0, 2)
                    leftover = f.tell() - records.offset
                    if leftover > TRAILING_SLACK:
                        logger.warning(f"{filepath}: truncated record at byte {records.offset} "
                                       f"({leftover} bytes left unread at end of file); skipped")
                        self.stat_update("corrupt_record")
                        yield _dropped_doc(
                            f"{filepath}#{records.offset}", None, filepath, "corrupt_record",
                            {signal_key(NAMESPACE, "offset"): records.offset},
                        )
                except Exception as error:  # warcio raises many types on damaged input
                    bad_offset = records.offset
                    start = _resync(f, bad_offset + 1, gzipped)
                    where = "end of file" if start is None else f"byte {start}"
                    logger.warning(
                        f"{filepath}: corrupt record at byte {bad_offset} ({type(error).__name__}: {error}); "
                        f"skipped, resuming at {where}"
                    )
                    self.stat_update("corrupt_record")
                    yield _dropped_doc(
                        f"{filepath}#{bad_offset}", None, filepath, "corrupt_record",
                        {signal_key(NAMESPACE, "offset"): bad_offset},
                    )

    def _record_to_doc(self, record, records, filepath: str) -> Document | None:
        if record.rec_type not in ("response", "conversion"):
            return None
        headers = record.rec_headers
        url = headers.get_header("WARC-Target-URI") or headers.get_header("uri")
        date = headers.get_header("WARC-Date") or headers.get_header("archive-date")
        payload = record.content_stream().read()
        offset = records.get_record_offset()
        doc_id = headers.get_header("WARC-Record-ID") or f"{filepath}#{offset}"
        if record.rec_type == "conversion":
            mime, charset = "text/plain", "utf-8"
        else:
            mime, charset = content_type_of(record)
            if mime is None and SNIFF_HTML.search(payload[:1024]):
                mime = "text/html"
        status = None
        if record.http_headers is not None and record.rec_type == "response":
            code = record.http_headers.get_statuscode()
            status = int(code) if code and code.isdigit() else None
        meta = {
            "url": url,
            "date": date,
            "file_path": filepath,
            signal_key(NAMESPACE, "warc_type"): record.rec_type,
            signal_key(NAMESPACE, "content_type"): mime,
            signal_key(NAMESPACE, "http_status"): status,
            signal_key(NAMESPACE, "payload_bytes"): len(payload),
            signal_key(NAMESPACE, "offset"): offset,
        }
        self.stat_update("records")
        if mime not in HTML_TYPES and mime != "text/plain":
            return Document(text="", id=doc_id, metadata=meta)  # extract decides: non_html
        decoded = decode_html(payload, charset)
        if decoded is None:
            self.stat_update("decode_error")
            return _dropped_doc(doc_id, url, filepath, "decode_error", meta)
        text, used = decoded
        meta[signal_key(NAMESPACE, "charset")] = used
        return Document(text=text, id=doc_id, metadata=meta)


class _StrictGzipReader(DecompressingBufferedReader):
    """warcio prints a gzip error met in the middle of a member to stderr and returns what it had,
    which silently truncates the record; raise instead, so the record is counted as corrupt."""

    def _decompress(self, data):
        if self.decompressor is not None and data:
            return self.decompressor.decompress(data)
        return data


def _resync(f, position: int, gzipped: bool) -> int | None:
    """Offset of the next record start at or after `position`, or None at end of file."""
    while True:
        f.seek(position)
        window = f.read(RESYNC_WINDOW)
        if not window:
            return None
        if gzipped:
            found = window.find(GZIP_MAGIC)
            if found >= 0:
                return position + found
        else:
            match = WARC_MAGIC.search(window)
            if match:
                return position + match.start() + (match.group(0).index(b"WARC/"))
        if len(window) < RESYNC_WINDOW:
            return None
        position += len(window) - 16  # overlap so a magic split across windows is still found


class _DocumentReaderMixin:
    """Shared by the JSONL and Parquet readers: a document without text is kept as a drop row."""

    namespace: ClassVar[str] = NAMESPACE
    signals: ClassVar[dict[str, str]] = {}

    def get_document_from_dict(self, data: dict, source_file: str, id_in_file):
        parsed = self.adapter(data, source_file, id_in_file)
        metadata = parsed.get("metadata", {})
        metadata["file_path"] = source_file
        text = parsed.get("text")
        if not isinstance(text, str) or not text.strip():
            self.stat_update("empty_text")
            return _dropped_doc(str(parsed.get("id")), metadata.get("url"), source_file, "empty_text", metadata)
        return Document(text=text, id=str(parsed["id"]), metadata=metadata)


class JsonlReader(_DocumentReaderMixin, _DatatroveJsonlReader):
    """Read documents from JSON Lines (`id`, `text`, `url`, anything else becomes metadata).

    Example: `JsonlReader("docs/", glob_pattern="*.jsonl.gz")`.
    """

    name = "🐿 curate JSONL"

    def read_file(self, filepath: str):
        import orjson

        with self.data_folder.open(filepath, "r", compression=self.compression) as f:
            for line_no, line in enumerate(f):
                if not line.strip():
                    continue
                try:
                    data = orjson.loads(line)
                except orjson.JSONDecodeError as error:
                    logger.warning(f"{filepath}: line {line_no + 1} is not valid JSON ({error}); skipped")
                    self.stat_update("corrupt_record")
                    yield _dropped_doc(f"{filepath}#L{line_no + 1}", None, filepath, "corrupt_record", {})
                    continue
                yield self.get_document_from_dict(data, filepath, line_no)


class ParquetReader(_DocumentReaderMixin, _DatatroveParquetReader):
    """Read documents from Parquet (`id`, `text`, `url` columns; other columns become metadata).

    Example: `ParquetReader("docs/", glob_pattern="*.parquet")`.
    """

    name = "📒 curate Parquet"
