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
  A signal a rule thresholds is declared as a `Signal`, which also says which way keeps and which
  constructor parameter holds the threshold, so `curate sweep` and the report read the direction
  instead of guessing it (NeMo Curator's `DocumentFilter` likewise knows its keep side).

Everything else a stage may need from the runner is declared here too, typed and with a default,
so the runner and the pass orchestrator (`curate.pipelines.multipass`) read the declaration and
never probe a stage with `hasattr` (datatrove's `BaseFilter` is the model: one documented
contract): `prepasses()` (passes to run before the main pipeline, e.g. dedup's signatures ->
buckets -> clusters), `work_group` and `work_dir` (the folder those passes write),
`output_partition` (how kept documents are laid out) and `reports()` (SQL over the decision table
that the runner writes to OUT/reports/ after a run).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
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


class PassKind(enum.Enum):
    """What a pass reads and how many tasks run it (`curate.pipelines.multipass` builds it)."""

    INPUT = "input"  # the recipe's input stream (readers and earlier stages first), the recipe's task count
    TASKS = "tasks"  # only its own steps, with the recipe's task count
    SINGLE = "single"  # only its own steps, in one task


@dataclass(frozen=True)
class Pass:
    """One pass a stage needs before the main pipeline: its `name` (logs go to
    OUT/logs/<namespace>_<name>/), its datatrove `steps` and its `kind`."""

    name: str
    steps: list
    kind: PassKind


KEEP = ("higher", "lower", "within")


@dataclass(frozen=True)
class Signal:
    """A recorded signal: its Arrow `type` and, when a rule of its stage thresholds it, which way keeps.

    `keep`: `"higher"` (the rule keeps values >= its threshold), `"lower"` (<=), `"within"`
    (between two thresholds, both inclusive, e.g. Gopher's mean word length in [3, 10]), or None
    for a descriptive signal that no rule thresholds (a count, a label). `threshold` names the
    constructor parameter that holds the threshold (`"within"`: a (low, high) pair of them;
    `"top_n_grams[2]"`: the value paired with 2 in a list-of-pairs parameter), so the recipe's
    threshold is read from the run's config.resolved.yaml. `reasons` are the drop reasons of the
    rule(s) on this signal. A parameter that is null, or one of `off`, switches its rule off;
    `unset` is what a null parameter means instead where the stage fills in defaults (Gopher's
    n-gram lists). `exempt_languages`: documents in these languages skip the rule.
    """

    type: str
    keep: str | None = None
    threshold: str | tuple[str, str] | None = None
    reasons: tuple[str, ...] = ()
    off: tuple = ()
    unset: object = None
    exempt_languages: frozenset[str] = frozenset()

    def __post_init__(self):
        if self.keep not in (*KEEP, None):
            raise ValueError(f"keep must be one of {KEEP} or None, got {self.keep!r}")
        if self.keep == "within" and not (isinstance(self.threshold, tuple) and len(self.threshold) == 2):
            raise ValueError('keep="within" needs threshold=(low parameter, high parameter)')
        if self.keep is None and self.threshold is not None:
            raise ValueError("a descriptive signal (keep=None) has no threshold")

    def bounds(self, params: dict) -> tuple[float | None, float | None]:
        """(low, high): the keep range under the stage parameters `params`; None where no bound applies."""
        if self.threshold is None:
            return None, None
        if self.keep == "within":
            return self._value(self.threshold[0], params), self._value(self.threshold[1], params)
        value = self._value(self.threshold, params)
        return (value, None) if self.keep == "higher" else (None, value)

    def _value(self, name: str, params: dict) -> float | None:
        name, _, key = name.partition("[")
        value = params.get(name)
        if value is None:
            value = self.unset
        if key and value is not None:  # a list of (key, threshold) pairs
            key = key.rstrip("]")
            value = next((v for k, v in value if str(int(k)) == key), None)
        return None if value is None or value in self.off else value


def as_signal(declared: str | Signal) -> Signal:
    """A `signals` value as a `Signal`: a bare Arrow type string is a descriptive signal."""
    return declared if isinstance(declared, Signal) else Signal(declared)


class DeclaresSignals:
    """What a step records: its `namespace` and `signals` (name -> Arrow type, or a `Signal` for
    one a rule thresholds), which give the decision table's columns
    (`curate.io.writers.signal_columns`). Readers, which are datatrove readers rather than
    `CurateStep`s, declare theirs through this mixin too. `core_signals` are the decision table's
    own columns a stage fills in and decides on (`fasttext_lang`'s `language_score`): declared
    for their direction, never added as `<namespace>__` columns.
    """

    namespace: ClassVar[str] = ""
    signals: ClassVar[dict[str, str | Signal]] = {}
    core_signals: ClassVar[dict[str, Signal]] = {}

    @classmethod
    def namespace_for(cls, params: dict) -> str:
        """The namespace of this stage built with `params`: `namespace`, unless the stage lets a
        recipe name its own (`classify`'s `name`, so two classifiers record separate columns)."""
        return cls.namespace

    @classmethod
    def all_signals(cls) -> dict[str, str]:
        """Every signal column this step writes (without the namespace prefix) -> its Arrow type."""
        return {name: as_signal(declared).type for name, declared in cls.signals.items()}

    @classmethod
    def declared(cls) -> dict[str, Signal]:
        """Every column this step writes or decides on (namespaced, and `core_signals`) -> its `Signal`."""
        names = {signal_key(cls.namespace, name): as_signal(cls.signals.get(name, kind))
                 for name, kind in cls.all_signals().items()}
        return {**names, **cls.core_signals}


class CurateStep(DeclaresSignals, PipelineStep):
    """A datatrove step that records signals and may drop documents with a namespaced reason.

    Subclasses set `namespace` (the stage name used in reasons and signal columns), `signals`
    (signal name -> Arrow type name, e.g. `"int64"`, `"float64"`, `"string"`, `"list<string>"`, or
    a `Signal` such as `Signal("float64", keep="lower", threshold="max_ratio", reasons=("too_many",))`),
    and implement `process(doc) -> reason | None`: `None` keeps the document, a short reason
    (`"too_few_words"`) drops it. `process` records signals with `self.record(doc, name, value)`.

    The hooks below have defaults that mean "nothing to do"; a stage overrides the ones it needs.
    """

    type = "🧮 - CURATE"
    transient: ClassVar[tuple[str, ...]] = ("model",)  # cached, rebuilt lazily; never pickled
    work_group: ClassVar[str] = "dedup"  # prepasses write to OUT/<work_group>/<namespace>/
    work_dir: str | None = None  # that folder; the orchestrator fills it in unless given
    output_partition: str | None = None  # a column to partition documents/ by (`"language"`)

    def prepasses(self) -> list[Pass]:
        """The passes to run, in order, before the main pipeline reaches this step; each may read
        `self.work_dir`, which is set by then. Default: none."""
        return []

    def reports(self) -> dict[str, str]:
        """Report name -> DuckDB SQL over the view `decisions` (every task's decision rows); after
        a completed run the runner writes each result to OUT/reports/<name>.parquet. Default: none."""
        return {}

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
        return {**super().all_signals(), "reason": "string"}

    def filter(self, doc: Document) -> str | None:
        raise NotImplementedError

    def process(self, doc: Document) -> str | None:
        reason = self.filter(doc)
        self.record(doc, "reason", None if reason is None else f"{self.namespace}:{reason}")
        if reason is not None and self.mode == "annotate":
            self.stat_update("would_drop", f"{self.namespace}:{reason}")
            return None
        return reason
