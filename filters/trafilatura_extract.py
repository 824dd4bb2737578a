"""HTML -> main text with trafilatura, recording the outcome of every record.

The same trafilatura call as datatrove's `Trafilatura` step (its settings by default), in the same
per-document sandbox with a timeout, but every outcome is a reason in the decision table (see
filters/extraction.py): `extract:non_html`, `extract:too_large`, `extract:timeout`,
`extract:crashed`, `extract:error`, `extract:empty`.
"""

from __future__ import annotations

from datatrove.pipeline.extractors.trafilatura import Trafilatura

from curate.filters.extraction import HtmlExtract


class TrafilaturaExtract(HtmlExtract, Trafilatura):
    """Extract main text with trafilatura (datatrove's settings: favour_precision, deduplicate).

    Documents that came from JSONL/Parquet or WET conversion records are already text and pass
    through untouched. `timeout` is seconds per page (FineWeb uses 1 s); `max_bytes` skips pages
    larger than this before parsing (default 10 MB), since huge pages are rarely content and can
    exhaust memory. `fast` skips trafilatura's fallback extractors (readability, jusText): about
    1.5x faster, similar F1 (docs/QUALITY.md).
    Example: `- trafilatura_extract: {timeout: 1, favour_precision: true}`.
    """

    name = "⛏ curate Trafilatura"

    def __init__(
        self,
        favour_precision: bool = True,
        timeout: float = 1.0,
        deduplicate: bool = True,
        fast: bool = False,
        max_bytes: int = 10_000_000,
        emit_dropped: bool = False,
    ):
        Trafilatura.__init__(self, favour_precision=favour_precision, timeout=timeout, deduplicate=deduplicate,
                             **({"fast": True} if fast else {}))
        HtmlExtract.__init__(self, timeout=timeout, max_bytes=max_bytes, emit_dropped=emit_dropped)

    def extract_page(self, html: str) -> tuple[str, dict]:
        return self.extract(html), {"extractor": "trafilatura"}
