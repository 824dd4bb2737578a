"""Base classes for curate's pipeline steps.

Every curate step is a datatrove `PipelineStep`, so it runs in any datatrove pipeline and under any
datatrove executor. Two conventions make the per-document decision table possible:

* **Dropped documents can travel on.** When a step rejects a document it marks it
  (`mark_dropped`) instead of silently removing it. Later curate steps pass marked documents
  through untouched, and the `DecisionWriter` at the end writes one decision row for every
  document and keeps only the unmarked ones. Set `emit_dropped=False` to get plain datatrove
  behaviour instead (rejected documents leave the stream).
* **Signals are recorded, decisions are thresholds on them.** A step stores each signal it
  computes in `doc.metadata` under `"<namespace>__<signal>"` and declares its signals (name and
  Arrow type) in `signals`, so the writer knows every column before the first document arrives.
"""

from __future__ import annotations

import math
from typing import ClassVar

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

DROP_STAGE = "curate__stage"
DROP_REASON = "curate__reason"


def is_dropped(doc: Document) -> bool:
    return DROP_STAGE in doc.metadata


def mark_dropped(doc: Document, stage: str, reason: str) -> None:
    """Mark `doc` as dropped by `stage`; `reason` is the namespaced string (`stage:why`)."""
    doc.metadata[DROP_STAGE] = stage
    doc.metadata[DROP_REASON] = reason


def signal_key(namespace: str, signal: str) -> str:
    return f"{namespace}__{signal}"


class CurateStep(PipelineStep):
    """A datatrove step that records signals and may drop documents with a namespaced reason.

    Subclasses set `namespace` (the stage name used in reasons and signal columns), `signals`
    (signal name -> Arrow type name, e.g. `"int64"`, `"float64"`, `"string"`, `"list<string>"`),
    and implement `process(doc) -> reason | None`: `None` keeps the document, a short reason
    (`"too_few_words"`) drops it. `process` records signals with `self.record(doc, name, value)`.
    """

    namespace: ClassVar[str] = ""
    signals: ClassVar[dict[str, str]] = {}
    type = "🧮 - CURATE"
    transient: ClassVar[tuple[str, ...]] = ("model",)  # cached, rebuilt lazily; never pickled

    def __init__(self, emit_dropped: bool = False):
        super().__init__()
        self.emit_dropped = emit_dropped

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in self.transient:
            state.pop(name, None)
        return state

    def record(self, doc: Document, signal: str, value) -> None:
        doc.metadata[signal_key(self.namespace, signal)] = value

    def record_all(self, doc: Document, signals: dict) -> None:
        """Record every signal of `signals`; NaN (an undefined ratio) is recorded as null."""
        for signal, value in signals.items():
            self.record(doc, signal, None if isinstance(value, float) and math.isnan(value) else value)

    def process(self, doc: Document) -> str | None:
        raise NotImplementedError

    def reject(self, doc: Document, reason: str) -> None:
        """Mark `doc` as dropped here with `reason` and count it."""
        full = f"{self.namespace}:{reason}"
        self.stat_update("dropped", full)
        mark_dropped(doc, self.namespace, full)

    def passes_through(self, doc: Document) -> bool:
        """Documents this step leaves alone, uncounted: those dropped earlier."""
        return is_dropped(doc)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            if self.passes_through(doc):
                yield doc
                continue
            self.stat_update("total")
            with self.track_time():
                reason = self.process(doc)
            if reason is None:
                self.stat_update("forwarded")
                yield doc
                continue
            self.reject(doc, reason)
            if self.emit_dropped:
                yield doc


class CurateFilter(CurateStep):
    """A step that decides keep/drop and never changes `doc.text`.

    Implement `filter(doc) -> reason | None`. In `filter` mode the first rejecting filter drops
    the document and later filters skip it. In `annotate` mode every filter runs on every
    document that survived reading and extraction, writes the reason it *would* drop for to
    `<namespace>__reason`, and nothing is dropped. That column is written in both modes, so an
    annotate run and a filter run can be compared reason for reason.
    """

    def __init__(self, mode: str = "filter", emit_dropped: bool = False):
        super().__init__(emit_dropped=emit_dropped)
        if mode not in ("filter", "annotate"):
            raise ValueError(f"mode must be 'filter' or 'annotate', got {mode!r}")
        self.mode = mode

    @classmethod
    def all_signals(cls) -> dict[str, str]:
        return {**cls.signals, "reason": "string"}

    def filter(self, doc: Document) -> str | None:
        raise NotImplementedError

    def process(self, doc: Document) -> str | None:
        reason = self.filter(doc)
        self.record(doc, "reason", None if reason is None else f"{self.namespace}:{reason}")
        if reason is not None and self.mode == "annotate":
            self.stat_update("would_drop", f"{self.namespace}:{reason}")
            return None
        return reason
