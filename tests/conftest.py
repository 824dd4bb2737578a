import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    return Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_data()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set CURATE_SHARED_DATA to the shared/data folder)")
    return path


@pytest.fixture(scope="session")
def lid_model(shared) -> str:
    path = shared / "models" / "lid.176.ftz"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return str(path)


@pytest.fixture(scope="session")
def sample_crawl() -> Path:
    path = REPO / "pipelines" / "sample" / "sample-crawl.warc.gz"
    if not path.is_file():
        pytest.fail(f"the embedded sample crawl is missing: {path}")
    return path


def write_recipe(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path
