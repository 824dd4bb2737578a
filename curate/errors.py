"""The CLI's one error boundary: a failure of the world outside the code becomes one line.

A file that cannot be read or written, a full disk, a bad recipe, override or model file, an
output folder in use, a missing fsspec backend or an unreachable network ends a command with
`Error: <message naming the path>` and exit status 1; `curate --debug ...` shows the traceback.
Anything else is a bug and keeps its traceback. `console()` gives a command the global
`--quiet`, `--progress` and `--debug` (curate.core.progress.Console): its bar and its stderr lines.
"""

from __future__ import annotations

import sys

import click

from curate.core import registry
from curate.core.config import RecipeError
from curate.core.processes import OutputInUse
from curate.core.progress import Console

NETWORK_MODULES = ("httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3", "huggingface_hub", "aiohttp")
EXTRAS = {"s3fs": "s3"}  # fsspec backend -> the curate extra that installs it


def _missing_backend(error: BaseException) -> str | None:
    """The fsspec backend package an ImportError asks for ("Install s3fs to access S3"), if any."""
    words = str(error).split()
    return words[1] if isinstance(error, ImportError) and len(words) > 1 and words[0] == "Install" else None


def _network(error: BaseException) -> bool:
    return type(error).__module__.split(".")[0] in NETWORK_MODULES


def describe(error: BaseException) -> str:
    """One line for `error`, naming the path(s) an OSError carries."""
    backend = _missing_backend(error)
    if backend:
        extra = EXTRAS.get(backend)
        hint = f"pip install 'curate[{extra}]'" if extra else f"pip install {backend}"
        return f"{error} (fsspec has no backend for this path): {hint}"
    if _network(error):
        return (f"cannot reach the network ({type(error).__name__}: {' '.join(str(error).split())}); "
                "remote paths (hf://, s3://, https://) need it: check the connection or use a local copy")
    if isinstance(error, OSError) and error.filename is not None:
        paths = " -> ".join(str(p) for p in (error.filename, error.filename2) if p is not None)
        return f"{paths}: {error.strerror or error}"
    return " ".join(str(error).split()) or type(error).__name__


def known(error: BaseException) -> bool:
    """Whether `error` is a failure of the world outside the code, reported as one line."""
    from curate.io.documents import DocumentError
    from curate.resources.models import ModelNotFound

    if isinstance(error, (OSError, RecipeError, ModelNotFound, OutputInUse, DocumentError, registry.UnknownStage)):
        return True
    if _missing_backend(error) or _network(error):
        return True
    duckdb = sys.modules.get("duckdb")  # a query on files that are missing, unreadable or not Parquet
    return duckdb is not None and isinstance(error, (duckdb.IOException, duckdb.InvalidInputException))


class Boundary(click.Group):
    """The one error boundary of the CLI (see the module docstring)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as error:
            if ctx.params.get("debug") or not known(error):
                raise
            raise click.ClickException(describe(error)) from None


def query_failed(error: Exception) -> Exception:
    """A DuckDB error (a bad `--where` or SQL) as one line, whose own message names the problem;
    any other error as it is."""
    duckdb = sys.modules.get("duckdb")
    if duckdb is None or not isinstance(error, duckdb.Error):
        return error
    return click.ClickException(f"query failed: {' '.join(str(error).split())}")


def console() -> Console:
    """This invocation's console settings (the defaults for a command invoked outside `curate`)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_root().obj if ctx is not None else None
    return found if isinstance(found, Console) else Console()


def terminate(signum, _frame):
    """SIGTERM unwinds like Ctrl-C: workers stopped, the run lock released."""
    raise SystemExit(128 + signum)
