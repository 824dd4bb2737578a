"""Versioned stage names -> step classes.

The table below is the registry: explicit, so nothing depends on which modules happen to be
imported (dolma's decorator registration breaks exactly there), and lazy, so listing the stages
does not import fastText or trafilatura. A name may carry a version (`gopher_quality@1`); without
one it means the latest version, and the resolved config always records the pinned form.

A stage records its signals as `<namespace>__<signal>` and names its drop reasons
`<namespace>:<why>`; the namespace is the stage's registry name, so a keep rule's `pii_mask.n_emails`
reads what `pii_mask` recorded. The exceptions are declared here: `read`, the one namespace of the
readers, and `extract`, shared by the three extractors (a pipeline has one; the decision table,
`curate stats` and the report read `extract__*` whichever it is). A stage whose namespace changes
gets a new version, and the old one stays registered so its recipes and columns still load:
`pii_mask@1` recorded `pii__n_emails`, `pii_mask@2` records `pii_mask__n_emails`.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass


@dataclass(frozen=True)
class StageSpec:
    name: str
    version: int
    target: str  # "module:Class"
    kind: str  # reader | extract | filter | transform | writer
    namespace: str = ""  # of its signals and reasons; "" means its name (the rule; exceptions above)

    def __post_init__(self):
        if not self.namespace:
            object.__setattr__(self, "namespace", self.name)

    @property
    def versioned(self) -> str:
        return f"{self.name}@{self.version}"

    def load(self) -> type:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def description(self) -> str:
        doc = inspect.getdoc(self.load()) or ""
        return doc.splitlines()[0] if doc else ""

    def columns(self, params: dict | None = None) -> dict[str, str]:
        """The decision-table columns this stage declares (`<namespace>__<signal>` -> Arrow type),
        built with `params` (a stage may take its namespace from them: `classify`'s `name`)."""
        from curate.core.step import DeclaresSignals, signal_key  # datatrove: only when asked

        cls = self.load()
        if not issubclass(cls, DeclaresSignals):  # the writer
            return {}
        namespace = cls.namespace_for(params or {})
        return {signal_key(namespace, signal): kind for signal, kind in cls.all_signals().items()}


STAGES: list[StageSpec] = [
    StageSpec("warc_reader", 1, "curate.io.readers:WarcReader", "reader", "read"),
    StageSpec("jsonl_reader", 1, "curate.io.readers:JsonlReader", "reader", "read"),
    StageSpec("parquet_reader", 1, "curate.io.readers:ParquetReader", "reader", "read"),
    StageSpec("trafilatura_extract", 1, "curate.filters.trafilatura_extract:TrafilaturaExtract", "extract", "extract"),
    StageSpec("resiliparse_extract", 1, "curate.filters.resiliparse_extract:ResiliparseExtract", "extract", "extract"),
    StageSpec("extract", 1, "curate.filters.combined_extract:CombinedExtract", "extract"),
    StageSpec("extract", 2, "curate.filters.select_extract:SelectExtract", "extract"),
    StageSpec("url_filter", 1, "curate.filters.url_filter:UrlFilter", "filter"),
    StageSpec("fasttext_lang", 1, "curate.filters.fasttext_lang:FastTextLang", "filter"),
    StageSpec("gopher_quality", 1, "curate.filters.gopher_quality:GopherQuality", "filter"),
    StageSpec("gopher_repetition", 1, "curate.filters.gopher_repetition:GopherRepetition", "filter"),
    StageSpec("c4_quality", 1, "curate.filters.c4_quality:C4Quality", "filter"),
    StageSpec("c4_badwords", 1, "curate.filters.c4_badwords:C4BadWords", "filter"),
    StageSpec("fineweb_quality", 1, "curate.filters.fineweb_quality:FineWebQuality", "filter"),
    StageSpec("length", 1, "curate.filters.length:Length", "filter"),
    StageSpec("expression", 1, "curate.filters.expression:Expression", "filter"),
    StageSpec("fasttext_classifier", 1, "curate.filters.fasttext_classifier:FastTextClassifier", "filter"),
    StageSpec("nsfw_words", 1, "curate.filters.nsfw_words:NsfwWords", "filter"),
    StageSpec("classify", 1, "curate.filters.classify:Classify", "filter"),  # namespace: its `name` parameter
    StageSpec("c4_lines", 1, "curate.filters.c4_lines:C4Lines", "transform"),
    StageSpec("pii_mask", 1, "curate.filters.pii_mask:PIIMaskV1", "transform", "pii"),  # old recipes: pii__*
    StageSpec("pii_mask", 2, "curate.filters.pii_mask:PIIMask", "transform"),
    StageSpec("exact_dedup", 1, "curate.filters.exact_dedup:ExactDedup", "filter"),
    StageSpec("minhash", 1, "curate.filters.minhash.filter:MinhashDedup", "filter"),
    StageSpec("paragraph_dedup", 1, "curate.filters.paragraph_dedup:ParagraphDedup", "transform"),
    StageSpec("url_dedup", 1, "curate.filters.url_dedup:UrlDedup", "filter"),
    StageSpec("decontaminate", 1, "curate.filters.decontaminate.filter:Decontaminate", "filter"),
    StageSpec("decision_writer", 1, "curate.io.writers:DecisionWriter", "writer"),
]


class UnknownStage(KeyError):
    def __str__(self) -> str:
        return self.args[0]


def names() -> list[str]:
    return sorted({spec.name for spec in STAGES})


def get(name: str) -> StageSpec:
    """The spec for `name` or `name@version`; an unknown name raises with the closest valid ones."""
    base, _, version = name.partition("@")
    candidates = [spec for spec in STAGES if spec.name == base]
    if not candidates:
        close = difflib.get_close_matches(base, names(), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise UnknownStage(f"unknown stage {name!r}; {hint}valid stages: {', '.join(names())}")
    if not version:
        return max(candidates, key=lambda spec: spec.version)
    for spec in candidates:
        if str(spec.version) == version.lstrip("v"):
            return spec
    versions = ", ".join(spec.versioned for spec in candidates)
    raise UnknownStage(f"unknown version {name!r}; available: {versions}")


def reader_columns() -> dict[str, str]:
    """Every column a reader may record (`read__*`): what a recipe has before its first stage."""
    return {column: kind for spec in STAGES if spec.kind == "reader" for column, kind in spec.columns().items()}


def all_columns() -> dict[str, str]:
    """Every signal column any registered stage, at any version, declares (old runs' columns too)."""
    return {column: kind for spec in STAGES for column, kind in spec.columns().items()}


def closest(name: str, candidates) -> str:
    """` (did you mean 'x'?)` for the candidate closest to `name` (difflib), or `""` if none is close."""
    found = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean {found[0]!r}?)" if found else ""
