"""curate's layers and its import graph: what may import what.

From the bottom: the stage framework and text utilities (`curate.core`), then reading, writing and
resources (`curate.io`, `curate.resources`), the stages (`curate.filters`), multi-stage pipelines
and recipes (`curate.pipelines`), tools and analysis (`curate.tools`), the ablation trainer
(`curate.ablation`), and the CLI on top, the one module that imports everything. An import may
point down or across its own layer, never up, and the module graph has no cycle (dolma's `core`
never imports its taggers; the CLI sits on top).

The graph is read from the source with `ast`, so it sees imports inside functions too (a lazy
import is still a dependency). `python -m curate.core.layers` prints it and any violation.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

# (package prefix, layer); the longest matching prefix decides a module's layer
LAYERS: tuple[tuple[str, int], ...] = (
    ("curate", 0),  # curate/__init__.py: the version, nothing else
    ("curate.core", 0),
    ("curate.io", 1),
    ("curate.resources", 1),
    ("curate.filters", 2),
    ("curate.pipelines", 3),
    ("curate.tools", 4),
    ("curate.ablation", 5),
    ("curate.cli", 6),
    ("curate.errors", 6),  # the CLI's error boundary
    ("curate.commands", 6),  # CLI commands in their own modules, registered by curate.cli
    ("curate.__main__", 6),
)
# source folder of each package that the build maps elsewhere (pyproject.toml [tool.setuptools.package-dir])
PACKAGE_DIRS = {"curate": "curate", "curate.filters": "filters", "curate.pipelines": "pipelines",
                "curate.ablation": "ablation"}


def layer_of(module: str) -> int:
    best = max((prefix for prefix, _ in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return dict(LAYERS)[best]


def modules(root: Path) -> dict[str, Path]:
    """Every curate module under the repository `root`, by dotted name."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            if package == "curate" and parts and parts[0] in ("filters", "pipelines", "ablation"):
                continue  # not a source of those packages
            found.setdefault(name, path)
    return found


def imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The curate modules that `path` imports (absolute or relative, at any depth of the file)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            for alias in node.names:  # `from curate.tools import stats` imports the module curate.tools.stats
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {t for t in targets if t in known or t.split(".")[0] in ("curate", "filters", "pipelines", "ablation")}


@dataclass(frozen=True)
class Violation:
    kind: str  # "upward" | "cycle" | "outside"
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def graph(root: Path) -> dict[str, set[str]]:
    mods = modules(root)
    known = set(mods)
    return {name: imports(path, name, known) - {name} for name, path in mods.items()}


def check(edges: dict[str, set[str]]) -> list[Violation]:
    """Upward imports, imports of a top-level `filters`/`pipelines`/`ablation`, and import cycles."""
    found = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            if not target.startswith("curate"):
                found.append(Violation("outside", f"{source} imports {target}; use curate.{target}"))
            elif target in edges and layer_of(target) > layer_of(source):
                found.append(Violation("upward", f"{source} (layer {layer_of(source)}) imports {target} "
                                                 f"(layer {layer_of(target)})"))
    found.extend(Violation("cycle", " -> ".join(cycle)) for cycle in cycles(edges))
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan's algorithm).

    An import of a package's own `__init__` by its submodule is not counted: Python runs the
    package first whatever the submodule says, so only the other direction can loop."""
    def deps(node: str) -> list[str]:
        return sorted(t for t in edges.get(node, ()) if t in edges and not node.startswith(t + "."))

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in deps(node):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component) + [min(component)])

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0] if argv else Path(__file__).resolve().parents[2])
    edges = graph(root)
    for source in sorted(edges, key=lambda m: (layer_of(m), m)):
        targets = ", ".join(sorted(edges[source])) or "-"
        print(f"L{layer_of(source)} {source}: {targets}")
    problems = check(edges)
    for problem in problems:
        print(problem)
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} imports, {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
