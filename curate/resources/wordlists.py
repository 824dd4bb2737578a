"""Word lists of the LDNOOBW kind: one file per language code, one word or phrase per line.

The List of Dirty, Naughty, Obscene, and Otherwise Bad Words (LDNOOBW, Shutterstock, CC BY 4.0)
is the list C4 filtered with (Raffel et al. 2020, section 2.2). Three parts of curate read it:
the `c4_badwords` and `nsfw_words` stages and `curate stats --analysis --badwords`; this is their
one loader, and the one place that knows where the lists live by default
(`$CURATE_SHARED_DATA/blocklists/ldnoobw`, else `shared/data/blocklists/ldnoobw` beside the
repository, as the tests find it).

Words are returned as written (stripped, blank lines dropped): datatrove's `C4BadWordsFilter`
does not lowercase the list either, and `tests/test_conformance.py` holds curate to its decisions,
so a caller that wants lowercase words lowercases them itself.

Example: `load_words(default_folder(), "en")` -> {"2g1c", "acrotomophilia", ...}.
"""

from __future__ import annotations

import os
from pathlib import Path

LDNOOBW = Path("blocklists") / "ldnoobw"


def default_folder() -> str:
    """The LDNOOBW folder of the shared data: `$CURATE_SHARED_DATA`, else `../shared/data` of the repository."""
    base = os.environ.get("CURATE_SHARED_DATA") or str(Path(__file__).resolve().parents[3] / "shared" / "data")
    return os.path.join(base, LDNOOBW)


def list_path(path: str | Path, lang: str) -> Path:
    """The list file for `lang`: `path/lang` when `path` is a folder, else `path` itself (one list)."""
    path = Path(path)
    return path / lang if path.is_dir() else path


def load_words(path: str | Path, lang: str) -> set[str] | None:
    """The words of `lang`'s list under the folder `path` (or of the list file `path`), as written;
    None when there is no such list."""
    file = list_path(path, lang)
    if not file.is_file():
        return None
    with open(file, encoding="utf-8") as f:
        return {word for word in (line.strip() for line in f) if word}
