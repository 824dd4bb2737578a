"""Recipes: YAML files that name stages and their parameters, checked before any work starts.

A recipe is validated against the constructor of every stage it names: an unknown stage, an
unknown or missing parameter, or a value of the wrong type fails with the recipe's file and line.
`${VAR}` and `${VAR:-default}` in strings expand from the environment; `${RECIPE_DIR}` is the
folder of the recipe file. Command-line overrides are `key.sub=value` (`executor.tasks=4`,
`stages.gopher_quality.min_doc_words=100`), parsed as YAML values.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from curate.core import registry

MODES = ("filter", "annotate")
EXECUTORS = ("local", "slurm", "ray")
RUNNER_PARAMS = {"emit_dropped"}  # set by the runner, never by a recipe
TOP_LEVEL = {"name", "mode", "input", "output", "executor", "stages", "description"}
ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class RecipeError(ValueError):
    """A recipe problem, with the file and line it was found at."""


@dataclass
class StageConfig:
    name: str
    params: dict = field(default_factory=dict)
    line: int | None = None
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

    def where(self, line: int | None) -> str:
        return f"{self.path or '<recipe>'}:{line}" if line else (self.path or "<recipe>")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "mode": self.mode,
            "input": list(self.inputs),
            "output": self.output,
            "executor": asdict(self.executor),
            "stages": [{stage.name: dict(stage.params)} for stage in self.stages],
        }


def expand_env(value, recipe_dir: str):
    """Expand `${VAR}`/`${VAR:-default}` in every string of `value`."""
    if isinstance(value, str):
        def substitute(match: re.Match) -> str:
            name, default = match.group(1), match.group(2)
            if name == "RECIPE_DIR":
                return recipe_dir
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise RecipeError(f"environment variable {name} is not set (used as ${{{name}}})")

        return ENV_VAR.sub(substitute, value)
    if isinstance(value, list):
        return [expand_env(v, recipe_dir) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, recipe_dir) for k, v in value.items()}
    return value


def apply_override(data: dict, override: str) -> None:
    """Apply one `key.sub=value` override to the raw recipe mapping."""
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise RecipeError(f"override {override!r} is not of the form key.sub=value")
    value = yaml.safe_load(raw) if raw else None
    parts = key.split(".")
    if parts[0] == "stages" and len(parts) >= 2:
        entries = data.setdefault("stages", [])
        for i, entry in enumerate(entries):
            name, params = _stage_entry(entry)
            if name.partition("@")[0] == parts[1].partition("@")[0]:
                if len(parts) == 2:
                    raise RecipeError(f"override {override!r} must name a parameter: stages.{parts[1]}.PARAM=value")
                params = dict(params or {})
                _set_path(params, parts[2:], value)
                entries[i] = {name: params}
                return
        raise RecipeError(f"override {override!r}: the recipe has no stage {parts[1]!r}")
    _set_path(data, parts, value)


def _set_path(target: dict, parts: list[str], value) -> None:
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise RecipeError(f"cannot set {'.'.join(parts)}: {part} is not a mapping")
    target[parts[-1]] = value


def _stage_entry(entry) -> tuple[str, dict | None]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, dict) and len(entry) == 1:
        (name, params), = entry.items()
        return str(name), params
    raise RecipeError(f"a stage must be a name or a one-key mapping {{name: {{params}}}}, got {entry!r}")


def _stage_lines(node) -> list[tuple[int, dict]]:
    """Line numbers (1-based) of each stage entry and of each of its parameters."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "stages" and isinstance(value, yaml.SequenceNode):
            out = []
            for item in value.value:
                params = {}
                if isinstance(item, yaml.MappingNode) and item.value:
                    inner = item.value[0][1]
                    if isinstance(inner, yaml.MappingNode):
                        params = {k.value: k.start_mark.line + 1 for k, _ in inner.value}
                out.append((item.start_mark.line + 1, params))
            return out
    return []


def load_recipe(path: str | os.PathLike | None = None, text: str | None = None,
                overrides: typing.Sequence[str] = ()) -> Recipe:
    """Parse, override and validate a recipe (from `path`, or from `text`)."""
    if text is None:
        if path is None:
            raise RecipeError("load_recipe needs a path or text")
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise RecipeError(f"recipe not found: {path}") from None
    shown = str(path) if path else "<recipe>"
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise RecipeError(f"{shown}: invalid YAML: {error}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{shown}: a recipe is a mapping with `stages:`, got {type(data).__name__}")
    lines = _stage_lines(node)
    for override in overrides:
        apply_override(data, override)
    recipe_dir = str(Path(path).resolve().parent) if path else os.getcwd()
    data = expand_env(data, recipe_dir)
    return _build(data, shown, lines)


def _build(data: dict, shown: str, lines: list) -> Recipe:
    unknown = set(data) - TOP_LEVEL
    if unknown:
        raise RecipeError(f"{shown}: unknown top-level key(s) {sorted(unknown)}; valid keys: {sorted(TOP_LEVEL)}")
    name = str(data.get("name") or Path(shown).stem)
    recipe = Recipe(name=name, path=shown)
    recipe.mode = data.get("mode", "filter")
    if recipe.mode not in MODES:
        raise RecipeError(f"{shown}: mode must be one of {MODES}, got {recipe.mode!r}")
    inputs = data.get("input") or []
    recipe.inputs = [str(p) for p in (inputs if isinstance(inputs, list) else [inputs])]
    recipe.output = data.get("output") or f"out/{name}"
    recipe.executor = _executor(data.get("executor") or {}, shown)
    entries = data.get("stages") or []
    if not isinstance(entries, list) or not entries:
        raise RecipeError(f"{shown}: `stages:` must be a non-empty list")
    seen = set()
    for i, entry in enumerate(entries):
        line, param_lines = lines[i] if i < len(lines) else (None, {})
        try:
            stage_name, params = _stage_entry(entry)
        except RecipeError as error:
            raise RecipeError(f"{recipe.where(line)}: {error}") from None
        if params is not None and not isinstance(params, dict):
            raise RecipeError(f"{recipe.where(line)}: parameters of {stage_name!r} must be a mapping, got {params!r}")
        stage = StageConfig(stage_name, dict(params or {}), line, param_lines)
        spec = _validate_stage(stage, recipe)
        if spec.name in seen:
            raise RecipeError(f"{recipe.where(line)}: stage {spec.name!r} appears twice; each stage records its "
                              "signals under its own name, so a pipeline may use it once")
        seen.add(spec.name)
        recipe.stages.append(stage)
    return recipe


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
            raise RecipeError(f"{line}: {spec.name}.{param} expects {_type_name(hints[param])}, got {value!r}")
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


def _type_name(hint) -> str:
    return str(hint).replace("typing.", "")


def resolved_params(stage: StageConfig) -> dict:
    """The stage's parameters including every default, for config.resolved.yaml."""
    cls = registry.get(stage.name).load()
    params = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or name in RUNNER_PARAMS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        params[name] = stage.params.get(name, None if p.default is inspect.Parameter.empty else p.default)
    return params
