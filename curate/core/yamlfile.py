"""The one YAML loader of `curate run`, `curate mix` and `curate ablate` files.

`${VAR}` and `${VAR:-default}` in strings expand from the environment, `${RECIPE_DIR}` is the
folder of the file, command-line overrides are `key.sub=value` (`executor.tasks=4`,
`stages.gopher_quality.min_doc_words=100`, parsed as YAML values), and every key keeps its line,
so each command's own checks (curate.core.config for recipes) can name `file:line`.
"""

from __future__ import annotations

import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class RecipeError(ValueError):
    """A recipe problem, with the file and line it was found at."""


@dataclass
class YamlFile:
    """A loaded YAML mapping and the line of every key and list item in it, for error messages.

    `lines` maps a key path (`("stages", 1, "gopher_quality", "min_doc_words")`: mapping keys and
    list indexes) to its 1-based line, or to `"override KEY=VALUE"` for what the command line set.
    """

    data: dict
    source: str  # the file as given, or "<recipe>" for text
    lines: dict = field(default_factory=dict)

    def line(self, *keys) -> int | str | None:
        """The line of `keys`, or of the deepest of its parents that has one."""
        for n in range(len(keys), 0, -1):
            if (found := self.lines.get(tuple(keys[:n]))) is not None:
                return found
        return None

    def where(self, *keys) -> str:
        """`file:line` of `keys` (`file (override k=v)` for an override; `file` if unknown)."""
        return located(self.source, self.line(*keys))


def located(source: str, line: int | str | None) -> str:
    if line is None:
        return source
    return f"{source}:{line}" if isinstance(line, int) else f"{source} ({line})"


def load_yaml(path: str | os.PathLike | None = None, text: str | None = None, overrides: typing.Sequence[str] = (),
              what: str = "recipe") -> YamlFile:
    """Read a YAML mapping, apply `key.sub=value` overrides and expand `${VAR}`, keeping every line.

    The one loader of `curate run` recipes, `curate mix` files and `curate ablate` configs; each
    checks its own keys on the result and names problems with `YamlFile.where`. `what` names the
    kind of file in messages. `${RECIPE_DIR}` is the file's folder (the working directory for text).
    """
    source = str(path) if path is not None else "<recipe>"
    if text is None:
        if path is None:
            raise RecipeError(f"load_yaml needs the path or the text of a {what}")
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise RecipeError(f"{what} not found: {path}") from None
        except OSError as error:
            raise RecipeError(f"cannot read {what} {path}: {error.strerror}") from None
    node, data = _parse(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RecipeError(f"{source}: a {what} is a YAML mapping of keys, got {type(data).__name__}")
    loaded = YamlFile(data, source, _lines(node) if node is not None else {})
    for override in overrides:
        keys = apply_override(data, override)
        loaded.lines = {k: v for k, v in loaded.lines.items() if k[:len(keys)] != keys}
        loaded.lines[keys] = f"override {override}"
    recipe_dir = str(Path(path).resolve().parent) if path is not None else os.getcwd()
    loaded.data = expand_env(data, recipe_dir, loaded)
    return loaded


def _parse(text: str, source: str):
    """The node tree (for lines) and the data, from one parse; errors name `source:line`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.MarkedYAMLError as error:
        raise RecipeError(_yaml_error(error, text, source)) from None
    except yaml.YAMLError as error:
        raise RecipeError(f"{source}: invalid YAML: {error}") from None
    finally:
        loader.dispose()


def _yaml_error(error: yaml.MarkedYAMLError, text: str, source: str) -> str:
    mark = error.problem_mark or error.context_mark
    problem = "; ".join(p for p in (error.context, error.problem) if p)
    if mark is None:
        return f"{source}: invalid YAML: {problem}"
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    hint = ""
    if "${" in line:  # `[${VAR}]`: in a flow collection `{` is YAML syntax, not part of the string
        hint = ('; a ${VAR} inside [...] or {...} must be quoted, ["${VAR}"], or written as a block list '
                "item on its own line (- ${VAR})")
    shown = line.strip() if len(line.strip()) <= 80 else line.strip()[:77] + "..."
    return f"{source}:{mark.line + 1}: invalid YAML: {problem}{hint} (the line: {shown})"  # one line: curate.errors


def _lines(node, keys: tuple = (), out: dict | None = None) -> dict:
    """1-based line of every mapping key and list item under `node`, by key path."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*keys, key.value)
            out[path] = key.start_mark.line + 1
            _lines(value, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*keys, i)] = item.start_mark.line + 1
            _lines(item, (*keys, i), out)
    return out


def expand_env(value, recipe_dir: str, loaded: YamlFile | None = None, keys: tuple = ()):
    """Expand `${VAR}`/`${VAR:-default}`/`${RECIPE_DIR}` in every string of `value`.

    An unset variable without a default, or a `${` that is not one of these forms, is an error
    naming the line (from `loaded`, the file `value` came from)."""
    if isinstance(value, str):
        return _expand_string(value, recipe_dir, loaded.where(*keys) if loaded else "<recipe>")
    if isinstance(value, list):
        return [expand_env(v, recipe_dir, loaded, (*keys, i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: expand_env(v, recipe_dir, loaded, (*keys, k)) for k, v in value.items()}
    return value


def _expand_string(value: str, recipe_dir: str, where: str) -> str:
    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name == "RECIPE_DIR":
            return recipe_dir
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise RecipeError(f"{where}: environment variable {name} is not set (used as ${{{name}}})")

    expanded, rest = ENV_VAR.sub(substitute, value), ENV_VAR.sub("", value)
    if "${" in rest:
        raise RecipeError(f"{where}: cannot expand {value!r}: write ${{VAR}} or ${{VAR:-default}}")
    return expanded


def apply_override(data: dict, override: str) -> tuple:
    """Apply one `key.sub=value` override to the raw mapping; return the key path it set."""
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise RecipeError(f"override {override!r} is not of the form key.sub=value")
    try:
        value = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError as error:
        raise RecipeError(f"override {override!r}: the value is not valid YAML: {error}") from None
    parts = key.split(".")
    if parts[0] == "stages" and len(parts) >= 2:
        entries = data.setdefault("stages", [])
        for i, entry in enumerate(entries):
            name, params = stage_entry(entry)
            if name.partition("@")[0] == parts[1].partition("@")[0]:
                if len(parts) == 2:
                    raise RecipeError(f"override {override!r} must name a parameter: stages.{parts[1]}.PARAM=value")
                params = dict(params or {})
                _set_path(params, parts[2:], value)
                entries[i] = {name: params}
                return ("stages", i, name, *parts[2:])
        raise RecipeError(f"override {override!r}: the recipe has no stage {parts[1]!r}")
    _set_path(data, parts, value)
    return tuple(parts)


def _set_path(target: dict, parts: list[str], value) -> None:
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise RecipeError(f"cannot set {'.'.join(parts)}: {part} is not a mapping")
    target[parts[-1]] = value

def stage_entry(entry) -> tuple[str, dict | None]:
    """(name, params) of a recipe's `stages:` entry: `name` or `{name: {params}}`."""
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, dict) and len(entry) == 1:
        (name, params), = entry.items()
        return str(name), params
    raise RecipeError(f"a stage must be a name or a one-key mapping {{name: {{params}}}}, got {entry!r}")
