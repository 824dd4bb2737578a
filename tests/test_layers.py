"""The layers hold (imports point down, no cycles), and the check would catch a planted violation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from curate.core import layers

REPO = Path(__file__).resolve().parents[1]


def test_the_import_graph_points_down_and_has_no_cycle():
    edges = layers.graph(REPO)
    assert "curate.filters.gopher_quality" in edges and "curate.ablation.train" in edges
    assert layers.check(edges) == []


def test_only_the_cli_imports_the_top_layers():
    edges = layers.graph(REPO)
    importers = {source for source, targets in edges.items() if "curate.ablation.run" in targets}
    assert importers == {"curate.cli"}


@pytest.fixture
def tree(tmp_path):
    """A copy of the sources to plant violations in."""
    for folder in layers.PACKAGE_DIRS.values():
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*.warc.gz"))
    return tmp_path


def plant(path: Path, line: str) -> None:
    text = path.read_text()
    path.write_text(text + f"\n\ndef _planted():\n    {line}\n")


@pytest.mark.parametrize("file, line, kind", [
    ("curate/core/step.py", "from curate.tools import stats", "upward"),
    ("filters/length.py", "from curate.pipelines import runner", "upward"),
    ("curate/io/writers.py", "import curate.filters.gopher_quality", "upward"),
    ("filters/length.py", "from filters import gopher_quality", "outside"),
    ("curate/tools/sweep.py", "from curate.tools import report", "cycle"),  # report imports sweep
])
def test_a_planted_violation_is_caught(tree, file, line, kind):
    assert planted(tree, file, line) == [kind]


def planted(tree: Path, file: str, line: str) -> list[str]:
    """The kinds of violation that planting `line` in `file` adds."""
    before = set(layers.check(layers.graph(tree)))
    plant(tree / file, line)
    return [p.kind for p in layers.check(layers.graph(tree)) if p not in before]


def test_relative_imports_are_resolved(tree):
    assert planted(tree, "curate/core/step.py", "from ..tools import stats") == ["upward"]
