"""HTML -> main text with trafilatura, recording the outcome of every record.

datatrove's `Trafilatura` step drops pages that time out, fail or come out empty without a trace.
This step uses the same trafilatura call and the same per-document sandbox with a timeout
(datatrove's `ExtractorSandbox`, a subprocess that is killed and restarted on timeout), but every
outcome is a reason in the decision table: `extract:non_html`, `extract:too_large`,
`extract:timeout`, `extract:error`, `extract:empty`.
"""

from __future__ import annotations

from typing import ClassVar

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.extractors.base import ExtractorSandbox
from datatrove.pipeline.extractors.trafilatura import Trafilatura

from curate.step import CurateStep, is_dropped, signal_key

HTML_TYPES = ("text/html", "application/xhtml+xml")


class TrafilaturaExtract(CurateStep, Trafilatura):
    """Extract main text with trafilatura (datatrove's settings: favour_precision, deduplicate).

    Documents that came from JSONL/Parquet or WET conversion records are already text and pass
    through untouched. `timeout` is seconds per page (FineWeb uses 1 s); `max_bytes` skips pages
    larger than this before parsing (default 10 MB), since huge pages are rarely content and can
    exhaust memory. Example: `- trafilatura_extract: {timeout: 1, favour_precision: true}`.
    """

    name = "⛏ curate Trafilatura"
    namespace: ClassVar[str] = "extract"
    signals: ClassVar[dict[str, str]] = {"extractor": "string", "html_chars": "int64"}

    def __init__(
        self,
        favour_precision: bool = True,
        timeout: float = 1.0,
        deduplicate: bool = True,
        max_bytes: int = 10_000_000,
        emit_dropped: bool = False,
    ):
        Trafilatura.__init__(self, favour_precision=favour_precision, timeout=timeout, deduplicate=deduplicate)
        self.emit_dropped = emit_dropped
        self.max_bytes = max_bytes

    def needs_extraction(self, doc: Document) -> bool:
        return doc.metadata.get(signal_key("read", "warc_type")) == "response"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with ExtractorSandbox(timeout=self.timeout, warmup_text="") as sandbox:
            for doc in data:
                if is_dropped(doc) or not self.needs_extraction(doc):
                    yield doc
                    continue
                self.stat_update("total")
                with self.track_time():
                    reason = self.extract_doc(doc, sandbox)
                if reason is None:
                    self.stat_update("forwarded")
                    yield doc
                    continue
                self.reject(doc, reason)
                if self.emit_dropped:
                    yield doc

    def extract_doc(self, doc: Document, sandbox: ExtractorSandbox) -> str | None:
        content_type = doc.metadata.get(signal_key("read", "content_type"))
        if content_type not in HTML_TYPES:
            return "non_html"
        self.record(doc, "html_chars", len(doc.text))
        if doc.metadata.get(signal_key("read", "payload_bytes"), len(doc.text)) > self.max_bytes:
            return "too_large"
        try:
            text = sandbox.process_document(doc.text, self.extract)
        except TimeoutError:
            return "timeout"
        except EOFError:  # the extraction subprocess died (e.g. out of memory)
            return "crashed"
        except Exception:
            return "error"
        if not text or not text.strip():
            return "empty"
        doc.text = text
        self.record(doc, "extractor", "trafilatura")
        return None
