"""The wheel is one package, `curate`, holding everything the README's commands use.

Built from this checkout without build isolation (setuptools is already in the environment) and
installed with `--no-deps --target`, so it costs seconds and no network. The import check runs
in another folder with the target first on the path: what it imports is the wheel's, not the
checkout's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from curate.core.layers import PACKAGE_DIRS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of a copy of the checkout's files (a build in the checkout could reuse a stale build/)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for name in listed:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(source)], check=True, capture_output=True)
    (found,) = out.glob("curate-*.whl")
    return found


def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


def test_one_top_level_package(wheel):
    assert {name.split("/")[0] for name in names(wheel) if ".dist-info" not in name} == {"curate"}


def test_every_source_module_is_in_the_wheel(wheel):
    inside = names(wheel)
    missing = []
    for package, folder in PACKAGE_DIRS.items():
        for path in (REPO / folder).rglob("*.py"):
            rel = path.relative_to(REPO / folder)
            if package == "curate" and rel.parts[0] in ("filters", "pipelines", "ablation"):
                continue
            target = "/".join([*package.split("."), *rel.parts])
            if target not in inside:
                missing.append(target)
    assert missing == []


def test_the_demo_inputs_are_in_the_wheel(wheel):
    inside = names(wheel)
    recipes = {f"curate/pipelines/{p.name}" for p in (REPO / "pipelines").glob("*.yaml")}
    assert recipes <= inside
    assert {"curate/pipelines/sample/sample-crawl.warc.gz", "curate/pipelines/sample/page_text.py",
            "curate/pipelines/sample/pages/en-tardigrades.html", "curate/tools/data/identity_terms.yaml"} <= inside


def test_installed_wheel_imports_as_curate_only(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    code = ("import curate, curate.filters, curate.ablation, curate.pipelines.sample.page_text, curate.cli\n"
            "print(curate.filters.__file__)\n"
            "try:\n    import filters\nexcept ImportError:\n    print('no filters')\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=True)
    first, second = done.stdout.splitlines()
    assert Path(first).is_relative_to(target)
    assert second == "no filters"
