"""Recipes: YAML files that name stages and their parameters, checked before any work starts.

A recipe is validated against the constructor of every stage it names: an unknown stage, an
unknown or missing parameter, or a value of the wrong type fails with the recipe's file and line,
and so does a keep rule that reads a signal no stage before it records (`ReadsSignals`).
`load_yaml` is the one loader of `curate run`, `curate mix` and `curate ablate` files: `${VAR}`
and `${VAR:-default}` in strings expand from the environment, `${RECIPE_DIR}` is the folder of
the file, command-line overrides are `key.sub=value` (`executor.tasks=4`,
`stages.gopher_quality.min_doc_words=100`, parsed as YAML values), and every key keeps its line.
"""

from __future__ import annotations

import difflib
import inspect
import os
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

from curate.core import registry
from curate.core.yamlfile import (  # noqa: F401 (re-exported: the loader's API)
    RecipeError,
    YamlFile,
    apply_override,
    expand_env,
    load_yaml,
    located,
)
from curate.core.yamlfile import stage_entry as _stage_entry

MODES = ("filter", "annotate")
EXECUTORS = ("local", "slurm", "ray")
RUNNER_PARAMS = {"emit_dropped"}  # set by the runner, never by a recipe
TOP_LEVEL = {"name", "mode", "input", "output", "executor", "stages", "description"}


@dataclass
class StageConfig:
    name: str
    params: dict = field(default_factory=dict)
    line: int | str | None = None  # in the recipe file; "override K=V" for one set on the command line
    param_lines: dict = field(default_factory=dict)


@dataclass
class ExecutorConfig:
    """How tasks run. `local` uses datatrove's LocalPipelineExecutor; `slurm` and `ray` map onto
    datatrove's SlurmPipelineExecutor and RayPipelineExecutor. The keys of the section named by
    `type` (`slurm: {partition: cpu, time: "4:00:00"}`) are passed to that executor as they are."""

    type: str = "local"
    tasks: int = 1
    workers: int | None = None  # tasks at once; unset: 1 locally, no limit on Slurm and Ray
    options: dict = field(default_factory=dict)


@dataclass
class Recipe:
    name: str
    path: str | None
    mode: str = "filter"
    inputs: list[str] = field(default_factory=list)
    output: str | None = None
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    stages: list[StageConfig] = field(default_factory=list)

    def where(self, line: int | str | None) -> str:
        return located(self.path or "<recipe>", line)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "mode": self.mode,
            "input": list(self.inputs),
            "output": self.output,
            "executor": asdict(self.executor),
            "stages": [{stage.name: dict(stage.params)} for stage in self.stages],
        }



def load_recipe(path: str | os.PathLike | None = None, text: str | None = None,
                overrides: typing.Sequence[str] = ()) -> Recipe:
    """Parse, override and validate a recipe (from `path`, or from `text`)."""
    return _build(load_yaml(path, text, overrides, what="recipe"))


def _build(loaded: YamlFile) -> Recipe:
    data, shown = loaded.data, loaded.source
    unknown = set(data) - TOP_LEVEL
    if unknown:
        raise RecipeError(f"{shown}: unknown top-level key(s) {sorted(unknown)}; valid keys: {sorted(TOP_LEVEL)}")
    name = str(data.get("name") or Path(shown).stem)
    recipe = Recipe(name=name, path=shown)
    recipe.mode = data.get("mode", "filter")
    if recipe.mode not in MODES:
        raise RecipeError(f"{loaded.where('mode')}: mode must be one of {MODES}, got {recipe.mode!r}")
    inputs = data.get("input") or []
    recipe.inputs = [str(p) for p in (inputs if isinstance(inputs, list) else [inputs])]
    recipe.output = data.get("output") or f"out/{name}"
    recipe.executor = _executor(data.get("executor") or {}, loaded.where("executor"))
    entries = data.get("stages") or []
    if not isinstance(entries, list) or not entries:
        raise RecipeError(f"{loaded.where('stages')}: `stages:` must be a non-empty list")
    seen = set()
    for i, entry in enumerate(entries):
        line = loaded.line("stages", i)
        try:
            stage_name, params = _stage_entry(entry)
        except RecipeError as error:
            raise RecipeError(f"{recipe.where(line)}: {error}") from None
        if params is not None and not isinstance(params, dict):
            raise RecipeError(f"{recipe.where(line)}: parameters of {stage_name!r} must be a mapping, got {params!r}")
        param_lines = {param: loaded.line("stages", i, stage_name, param) for param in params or {}}
        stage = StageConfig(stage_name, dict(params or {}), line, param_lines)
        spec = _validate_stage(stage, recipe)
        key = (spec.name, spec.load().namespace_for(stage.params))  # classify: one per `name`
        if key in seen:
            raise RecipeError(f"{recipe.where(line)}: stage {spec.name!r} appears twice; each stage records its "
                              "signals under its own name, so a pipeline may use it once")
        seen.add(key)
        recipe.stages.append(stage)
    check_signals(recipe)
    return recipe


class ReadsSignals:
    """A stage whose parameters name recorded signals (`expression`'s keep rule).

    The recipe loader hands it the signal columns of the readers and of every stage before it, so
    a misspelt signal, or one of a stage that comes later or not at all, fails at load naming the
    line, instead of reading as missing on every document (and, in a keep rule, dropping them all).
    """

    @classmethod
    def unknown_signals(cls, params: dict, known: dict[str, str]) -> list[tuple[str, str]]:
        """(parameter, message) for every signal `params` name that is not a column of `known`
        (column -> Arrow type); the message names the closest known one."""
        return []


def check_signals(recipe: Recipe) -> None:
    """Check every `ReadsSignals` stage against the columns declared before it in `recipe`."""
    known = registry.reader_columns()
    for stage in recipe.stages:
        spec = registry.get(stage.name)
        cls = spec.load()
        if issubclass(cls, ReadsSignals):
            for param, message in cls.unknown_signals(stage.params, dict(known)):
                where = recipe.where(stage.param_lines.get(param) or stage.line)
                raise RecipeError(f"{where}: {spec.name}.{param}: {message}")
        known.update(spec.columns(stage.params))


def _executor(raw: dict, shown: str) -> ExecutorConfig:
    if not isinstance(raw, dict):
        raise RecipeError(f"{shown}: `executor:` must be a mapping")
    raw = dict(raw)
    config = ExecutorConfig(
        type=raw.pop("type", "local"),
        tasks=raw.pop("tasks", 1),
        workers=raw.pop("workers", None),
    )
    config.options = raw.pop("options", {}) or {}
    sections = {kind: raw.pop(kind, None) or {} for kind in EXECUTORS}  # a recipe may carry all three
    config.options.update(sections.get(config.type, {}))
    if raw:
        raise RecipeError(f"{shown}: unknown executor key(s) {sorted(raw)}; valid: type, tasks, workers, options")
    if config.type not in EXECUTORS:
        raise RecipeError(f"{shown}: executor.type must be one of {EXECUTORS}, got {config.type!r}")
    for key in ("tasks", "workers"):
        value = getattr(config, key)
        if key == "workers" and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise RecipeError(f"{shown}: executor.{key} must be a positive integer, got {value!r}")
    return config


def _validate_stage(stage: StageConfig, recipe: Recipe) -> registry.StageSpec:
    where = recipe.where(stage.line)
    try:
        spec = registry.get(stage.name)
    except registry.UnknownStage as error:
        raise RecipeError(f"{where}: {error}") from None
    if spec.kind in ("reader", "writer"):
        raise RecipeError(f"{where}: {spec.name!r} is a {spec.kind}; readers come from `input:` and the writer "
                          "from `output:`, so list only processing stages under `stages:`")
    stage.name = spec.versioned
    cls = spec.load()
    signature = inspect.signature(cls.__init__)
    hints = typing.get_type_hints(cls.__init__)
    accepted = {n for n in signature.parameters if n != "self"} - RUNNER_PARAMS
    for param, value in stage.params.items():
        line = recipe.where(stage.param_lines.get(param, stage.line))
        if param not in accepted:
            close = difflib.get_close_matches(param, sorted(accepted), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RecipeError(f"{line}: stage {spec.name!r} has no parameter {param!r}{hint}; "
                              f"parameters: {', '.join(sorted(accepted))}")
        if param in hints and not _type_ok(value, hints[param]):
            raise RecipeError(f"{line}: {spec.name}.{param} expects {_type_name(hints[param])}, "
                              f"got {value!r} ({_value_type(value)})")
    missing = [n for n, p in signature.parameters.items()
               if n != "self" and p.default is inspect.Parameter.empty
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n not in stage.params]
    if missing:
        raise RecipeError(f"{where}: stage {spec.name!r} needs parameter(s) {missing}")
    return spec


def _type_ok(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if hint is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        args = typing.get_args(hint)
        return isinstance(value, list) and (not args or all(_type_ok(v, args[0]) for v in value))
    if origin is dict:
        return isinstance(value, dict)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


TYPE_NAMES = {float: "a number (float)", int: "a whole number (int)", str: "a string (str)",
              bool: "true or false (bool)", dict: "a mapping (dict)", list: "a list", tuple: "a list",
              type(None): "null (None)"}


def _type_name(hint) -> str:
    """What a recipe value of type `hint` must be, in words: `a number (float) or null (None)`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_type_name(arg) for arg in args))
    if origin in (list, tuple):
        return f"a list of {_plural(_type_name(args[0]))}" if args and args[0] is not typing.Any else "a list"
    if origin is dict:
        return "a mapping (dict)"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    return TYPE_NAMES.get(hint) or getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _plural(name: str) -> str:
    """`a number (float)` -> `numbers (float)`, for `a list of numbers (float)`."""
    words = name.removeprefix("a ").removeprefix("an ").split(" ", 1)
    return " ".join([words[0] + "s", *words[1:]]) if name.startswith(("a ", "an ")) else name


def _value_type(value) -> str:
    return "null" if value is None else {bool: "a bool", int: "an int", float: "a float", str: "a string",
                                         list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def config_difference(old, new, key: str = "") -> str | None:
    """The first key whose value differs between two resolved configurations, as
    `stages.1.gopher_quality.min_doc_words: 50 before, 100 now`; None if they are equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in [*old, *(k for k in new if k not in old)]:
            found = config_difference(old.get(k, _ABSENT), new.get(k, _ABSENT), f"{key}.{k}" if key else str(k))
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return next((d for i, (a, b) in enumerate(zip(old, new))
                     if (d := config_difference(a, b, f"{key}.{i}" if key else str(i)))), None)
    if old == new:
        return None
    return f"{key or 'the configuration'}: {_shown(old)} before, {_shown(new)} now"


_ABSENT = object()


def _shown(value) -> str:
    if value is _ABSENT:
        return "absent"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def resolved_params(stage: StageConfig) -> dict:
    """The stage's parameters including every default, for config.resolved.yaml."""
    cls = registry.get(stage.name).load()
    params = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or name in RUNNER_PARAMS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        params[name] = stage.params.get(name, None if p.default is inspect.Parameter.empty else p.default)
    return params
