"""What `curate list-stages` says about a stage: its summary, parameters, signals and reasons.

Everything is read from the stage itself, so it cannot drift from the code: parameters from the
constructor's signature (names, annotated types, defaults), signals from its declaration
(`curate.core.step.Signal`: type, the direction that keeps, the parameter holding the
threshold, the reasons of the rule), reasons from those declarations, datatrove's reason map and
the "Reasons" paragraph of its docstring.
Example: `describe(registry.get("gopher_quality"))`.
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass

from curate.core.registry import StageSpec

ABBREVIATIONS = ("e.g.", "i.e.", "al.", "cf.", "vs.", "etc.")
HIDDEN = {"self", "emit_dropped"}  # set by the runner, never in a recipe


def summary(doc: str) -> str:
    """The first sentence of a docstring, whole: it ends at a period, `!` or `?` followed by a
    space or the end, outside parentheses and backticks, and not in an abbreviation (`e.g.`)."""
    text = " ".join((doc or "").split("\n\n")[0].split())
    depth, code = 0, False
    for i, ch in enumerate(text):
        if ch == "`":
            code = not code
        elif ch in "([" and not code:
            depth += 1
        elif ch in ")]" and not code:
            depth = max(0, depth - 1)
        elif ch in ".!?" and depth == 0 and not code and (i + 1 == len(text) or text[i + 1] == " "):
            if not any(text[: i + 1].endswith(a) for a in ABBREVIATIONS):
                return text[: i + 1]
    return text


@dataclass
class Parameter:
    name: str
    type: str
    default: str


@dataclass
class SignalInfo:
    column: str
    type: str
    keep: str  # higher | lower | within | "" (descriptive)
    threshold: str
    reasons: list[str]


@dataclass
class StageInfo:
    name: str
    kind: str
    summary: str
    parameters: list[Parameter]
    signals: list[SignalInfo]
    reasons: list[str]


def parameters(cls: type) -> list[Parameter]:
    """The constructor's parameters a recipe can set, with their annotated types and defaults."""
    found = []
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name in HIDDEN or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        kind = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        default = "(required)" if p.default is p.empty else repr(p.default)
        found.append(Parameter(p.name, "" if p.annotation is p.empty else str(kind), default))
    return found


def signals(cls: type, namespace: str) -> list[SignalInfo]:
    from curate.core.step import DeclaresSignals

    if not issubclass(cls, DeclaresSignals):
        return []
    rows = []
    for column, signal in cls.declared().items():
        threshold = " / ".join(signal.threshold) if isinstance(signal.threshold, tuple) else signal.threshold or ""
        rows.append(SignalInfo(column, signal.type, signal.keep or "", threshold,
                               [f"{namespace}:{r}" for r in signal.reasons]))
    return rows


def doc_reasons(doc: str) -> list[str]:
    """Reason names listed in a docstring's `Reasons...:` sentence (bracketed notes left out)."""
    match = re.search(r"Reasons[^:]*:(.*?)(?:\.\s+[A-Z]|\.\s*$|\n\s*\n|$)", doc or "", re.S)
    if not match:
        return []
    text = re.sub(r"\([^()]*\)", "", match.group(1))
    names = [part.strip().strip("`.") for part in re.split(r",|\band\b", text)]
    return [n for n in names if re.fullmatch(r"[a-z][a-z0-9_]*(:<?[a-z_]+>?)?", n)]


def describe(spec: StageSpec) -> StageInfo:
    cls = spec.load()
    doc = inspect.getdoc(cls) or ""
    sigs = signals(cls, spec.namespace)
    reasons = [r for s in sigs for r in s.reasons]
    reasons += [f"{spec.namespace}:{r}" for r in getattr(cls, "datatrove_reasons", {}).values()]
    reasons += [f"{spec.namespace}:{r}" for r in doc_reasons(doc)]
    for module in {cls.__module__, *(base.__module__ for base in cls.__mro__[1:2])}:  # `extract:timeout` in its module
        text = inspect.getdoc(sys.modules[module]) or ""
        reasons += re.findall(rf"`({re.escape(spec.namespace)}:[a-z_0-9]+)`", doc + text)
    return StageInfo(spec.versioned, spec.kind, summary(doc), parameters(cls), sigs, list(dict.fromkeys(reasons)))
