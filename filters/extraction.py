"""What every HTML -> text stage shares: the outcome of every record is a reason.

datatrove's extractors drop pages that time out, fail or come out empty without a trace. A curate
extraction stage runs its extractor in datatrove's per-document sandbox (`ExtractorSandbox`, a
subprocess that is killed and restarted on timeout) and turns every outcome into a reason in the
decision table: `extract:non_html`, `extract:too_large`, `extract:timeout`, `extract:crashed`,
`extract:error`, `extract:empty`. Pages arrive decoded: the WARC reader picks the charset (HTTP
header, then `<meta>`, then UTF-8, then detection) and records it as `read__charset`.
"""

from __future__ import annotations

from typing import ClassVar

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.extractors.base import ExtractorSandbox

from curate.core.step import CurateStep, is_dropped, signal_key
from curate.io.readers import HTML_TYPES

WARMUP = "<html><body><p>warm up</p></body></html>"


class HtmlExtract(CurateStep):
    """Base of the extraction stages: subclasses implement `extract_page(html) -> (text, signals)`.

    `extract_page` runs inside the sandbox, so it must be picklable work on a string; the signals
    it returns (a dict) are recorded on the document, `extractor` among them.
    """

    namespace: ClassVar[str] = "extract"
    transient: ClassVar[tuple[str, ...]] = ("model", "sandbox")
    signals: ClassVar[dict[str, str]] = {"extractor": "string", "html_chars": "int64"}

    def __init__(self, timeout: float = 1.0, max_bytes: int = 10_000_000, emit_dropped: bool = False):
        CurateStep.__init__(self, emit_dropped=emit_dropped)
        self.timeout = timeout
        self.max_bytes = max_bytes

    def extract_page(self, html: str) -> tuple[str, dict]:
        raise NotImplementedError

    def passes_through(self, doc: Document) -> bool:
        """Dropped documents and records that are not HTTP responses (WET text, requests) pass as they are."""
        return is_dropped(doc) or doc.metadata.get(signal_key("read", "warc_type")) != "response"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.extract_page(WARMUP)  # import the libraries here, so the forked sandbox starts warm
        with ExtractorSandbox(timeout=self.timeout, warmup_text=WARMUP) as self.sandbox:
            yield from super().run(data, rank, world_size)

    def process(self, doc: Document) -> str | None:
        """Extract `doc` in place; the reason it has no text, or None."""
        content_type = doc.metadata.get(signal_key("read", "content_type"))
        if content_type not in HTML_TYPES:
            return "non_html"
        self.record(doc, "html_chars", len(doc.text))
        if doc.metadata.get(signal_key("read", "payload_bytes"), len(doc.text)) > self.max_bytes:
            return "too_large"
        try:
            text, signals = self.sandbox.process_document(doc.text, self.extract_page)
        except TimeoutError:
            return "timeout"
        except EOFError:  # the extraction subprocess died (e.g. out of memory)
            return "crashed"
        except Exception:
            return "error"
        self.record_all(doc, signals)
        if not text or not text.strip():
            return "empty"
        doc.text = text
        return None
