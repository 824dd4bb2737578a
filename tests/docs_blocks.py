"""The shell commands and Python blocks of README.md and docs/*.md, and the machinery that runs them.

tests/test_docs.py runs every documented command, in documentation order, in a scratch folder laid
out like a checkout, so the docs cannot drift from the code (sqlite-utils walks every command of its
CLI for the same reason; docs/STYLE.md). Its tables (RULES, PLACEHOLDERS, FIGURES) say what runs how;
this module reads the Markdown, applies the rules and runs the commands; tests/docs_figures.py
compares the output the docs quote with the real one.

    .venv/bin/python -m tests.docs_blocks            # which quoted figures are stale (exit 1 if any)
    .venv/bin/python -m tests.docs_blocks --update   # paste the real output into every quoted figure
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OPEN = re.compile(r"^```(\S*)\s*$")
COMMAND_TIMEOUT = 300  # s; the slowest scaled command takes ~30 s (the Ray cluster start)
PYTHON_TIMEOUT = 120   # s; a Python block that spawns without a __main__ guard never ends


def docs(repo: Path = REPO) -> list[str]:
    """The documents whose blocks are run: README.md, then docs/*.md by name."""
    return ["README.md", *(f"docs/{p.name}" for p in sorted((repo / "docs").glob("*.md")))]


@dataclass(frozen=True)
class Block:
    """A fenced block: `line` is its opening fence (1-based); `prose` the text since the last block."""

    doc: str
    line: int
    lang: str
    lines: tuple[str, ...]
    prose: str

    @property
    def is_excerpt(self) -> bool:
        """A Python block with `...` lines quotes a file; it is compared with it, not run."""
        return self.lang == "python" and any(line.strip() == "..." for line in self.lines)

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line} {self.lang} block"


def read_blocks(doc: str, repo: Path = REPO) -> list[Block]:
    lines = (repo / doc).read_text().splitlines()
    blocks, prose, i = [], [], 0
    while i < len(lines):
        opening = OPEN.match(lines[i])
        if not opening:
            prose.append(lines[i])
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        blocks.append(Block(doc, start + 1, opening.group(1), tuple(body), "\n".join(prose)))
        prose = []
        i += 1
    return blocks


@dataclass(frozen=True)
class Command:
    """One shell command: lines joined over `\\`, its comment dropped, re-quoted by shlex."""

    doc: str
    line: int
    text: str

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text)

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line} {self.text[:70]}"


def normal_command(text: str) -> str:
    return shlex.join(shlex.split(text, comments=True))


def split_commands(block: Block) -> list[Command]:
    commands, pending, first = [], "", None
    for number, raw in enumerate(block.lines, start=block.line + 1):
        first = first or number
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        text = normal_command(pending + raw)
        if text:
            commands.append(Command(block.doc, first, text))
        pending, first = "", None
    return commands


def documented(repo: Path = REPO) -> list[Command | Block]:
    """Every bash command and every runnable Python block, in documentation order."""
    items: list[Command | Block] = []
    for doc in docs(repo):
        for block in read_blocks(doc, repo):
            if block.lang == "bash":
                items.extend(split_commands(block))
            elif block.lang == "python" and not block.is_excerpt:
                items.append(block)
    return items


def excerpts(repo: Path = REPO) -> list[Block]:
    return [b for doc in docs(repo) for b in read_blocks(doc, repo) if b.is_excerpt]


def excerpt_source(block: Block, repo: Path = REPO) -> Path | None:
    """The file an excerpt quotes: the last existing `path.py` named in the prose before it."""
    named = [repo / p for p in re.findall(r"`([\w./-]+\.py)`", block.prose)]
    named = [p for p in named if p.is_file()]
    return named[-1] if named else None


def excerpt_problem(block: Block, repo: Path = REPO) -> str | None:
    """Why the excerpt is stale (a line not in its file, in order), or None."""
    source = excerpt_source(block, repo)
    if source is None:
        return "the prose before it names no existing `*.py` file for it to quote"
    real = [line.rstrip() for line in source.read_text().splitlines()]
    at = 0
    for line in (x.rstrip() for x in block.lines if x.strip() != "..."):
        if line not in real[at:]:
            return f"{line.strip()!r} is not in {source.relative_to(repo)} after line {at} (in that order, same indent)"
        at = real.index(line, at) + 1
    return None


# ---- rules: how a documented command is run here ---------------------------------------------

@dataclass(frozen=True)
class Rule:
    """A command matching `pattern` (re.search on its text) is handled by `action`:
    skip | suite (a pytest run: check the file and -k exist) | help (run with --help, check its flags)
    | requires (skip unless module `arg` imports) | insert (`arg` after argv[0]) | append (`arg` at the
    end) | cap (`arg` = (flag, most): lower the flag's value)."""

    pattern: str
    action: str
    reason: str
    arg: object = None


@dataclass
class Plan:
    action: str  # run | skip | suite | help
    argv: list[str]
    reasons: list[str] = field(default_factory=list)


def plan(command: Command, rules: list[Rule]) -> Plan:
    argv, reasons = command.argv, []
    for rule in rules:
        if not re.search(rule.pattern, command.text):
            continue
        if rule.action == "requires":
            if importlib.util.find_spec(rule.arg) is None:
                return Plan("skip", argv, [f"needs {rule.arg}: {rule.reason}"])
            continue
        if rule.action in ("skip", "suite", "help"):
            return Plan(rule.action, argv, reasons + [rule.reason])
        before = list(argv)
        if rule.action == "insert":
            argv = argv[:1] + list(rule.arg) + argv[1:]
        elif rule.action == "append":
            argv = argv + list(rule.arg)
        elif rule.action == "cap":
            flag, most = rule.arg
            i = argv.index(flag) + 1
            argv[i] = str(min(int(argv[i]), most))
        else:
            raise ValueError(f"unknown rule action {rule.action!r}")
        reasons += [rule.reason] if argv != before else []
    return Plan("run", argv, reasons)


def suite_problem(argv: list[str], repo: Path = REPO) -> str | None:
    """A documented pytest run names test files that exist and a -k that selects a test in them."""
    files = [a.split("::")[0] for a in argv if a.split("::")[0].endswith(".py")]
    if not files:
        return "names no test file"
    missing = [f for f in files if not (repo / f).is_file()]
    if missing:
        return f"no such test file: {', '.join(missing)}"
    if "-k" in argv:
        word = argv[argv.index("-k") + 1]
        names = [n for f in files for n in re.findall(r"^def (test_\w+)", (repo / f).read_text(), re.M)]
        if not any(word in n for n in names):
            return f"-k {word} selects no test in {', '.join(files)}"
    return None


def help_argv(argv: list[str]) -> list[str]:
    """The command up to its first option (`python -m MODULE`, `curate SUB`), then --help."""
    head = argv[:3] if "-m" in argv[1:2] else argv[:1]
    head += [a for a in argv[len(head):len(head) + 1] if not a.startswith("-")]
    return head + ["--help"]


# ---- running ----------------------------------------------------------------------------------

@dataclass
class Outcome:
    kind: str  # ran | skipped | checked
    reasons: list[str] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)
    rc: int = 0
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    problem: str | None = None  # one line: why the command failed

    def report(self) -> str:
        tail = "\n".join((self.stdout + "\n" + self.stderr).strip().splitlines()[-25:])
        return f"{self.problem}\nran: {shlex.join(self.argv)}\n--- last lines of its output ---\n{tail}"


def layout(root: Path, shared: Path, placeholders: dict, repo: Path = REPO) -> Path:
    """root/main: the checkout (links to the repository's top-level entries, the running Python's
    environment as .venv, the placeholders built); root/shared/data: the shared data."""
    main = root / "main"
    main.mkdir(parents=True)
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(shared)
    taken = {name.rstrip("/") for name in placeholders}
    for entry in sorted(repo.iterdir()):
        name = entry.name
        if name.startswith(".") or name in taken or name in ("out", "build") or name.endswith(".egg-info"):
            continue
        (main / name).symlink_to(entry)
    (main / ".venv").symlink_to(Path(sys.prefix))
    for name, (_, build) in placeholders.items():
        build(main / name.rstrip("/"), shared)
    return main


class Session:
    """The documented items, run once each and in order in one scratch checkout."""

    def __init__(self, root: Path, shared: Path, rules: list[Rule], placeholders: dict, repo: Path = REPO):
        self.items, self.rules, self.repo = documented(repo), rules, repo
        self.cwd = layout(root, shared, placeholders, repo)
        self.env = {k: v for k, v in os.environ.items() if k != "ANNOTATED"}  # ablation_filters.yaml reads it
        self.env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        self.env["CURATE_SHARED_DATA"] = str(root / "shared" / "data")
        self.env["XDG_CACHE_HOME"] = str(root / "cache")  # caches a command writes (the anneal base model) stay in the scratch folder
        if (repo / ".git").is_dir():  # git reads only: `make structure`'s ls-files, the ablation's commit
            self.env["GIT_DIR"] = str(repo / ".git")
        self.outcomes: dict[int, Outcome] = {}

    def index(self, command: str) -> int:
        text = normal_command(command)
        found = [i for i, item in enumerate(self.items) if isinstance(item, Command) and item.text == text]
        if not found:
            raise LookupError(f"no documented command {text!r}")
        return found[0]

    def outcome(self, index: int) -> Outcome:
        """Run every item up to `index` that has not run yet (so -k still finds earlier outputs)."""
        for i in range(index + 1):
            if i not in self.outcomes:
                self.outcomes[i] = self._do(self.items[i])
        return self.outcomes[index]

    def _do(self, item: Command | Block) -> Outcome:
        if isinstance(item, Block):
            script = self.cwd / f"docs_block_{Path(item.doc).stem}_{item.line}.py"
            script.write_text("\n".join(item.lines) + "\n")
            return self._run([sys.executable, script.name], [], PYTHON_TIMEOUT)
        todo = plan(item, self.rules)
        if todo.action == "skip":
            return Outcome("skipped", todo.reasons, todo.argv)
        if todo.action == "suite":
            return Outcome("checked", todo.reasons, todo.argv, problem=suite_problem(todo.argv, self.repo))
        if todo.action == "help":
            outcome = self._run(help_argv(todo.argv), todo.reasons, COMMAND_TIMEOUT)
            flags = [a.split("=")[0] for a in todo.argv if a.startswith("--")]
            unknown = [f for f in flags if f not in outcome.stdout]
            if not outcome.problem and unknown:
                outcome.problem = f"--help does not list {', '.join(unknown)}"
            return outcome
        if todo.argv[0] == "make":  # never install into the running environment: dry-run first
            dry = self._run(todo.argv[:1] + ["-n"] + todo.argv[1:], todo.reasons, COMMAND_TIMEOUT)
            if dry.problem or "pip install" in dry.stdout:
                dry.problem = dry.problem or "make would install into the running environment (a new install step?)"
                return dry
        for earlier in self.outcomes.values():  # the same command again (two docs quote it): once
            if earlier.kind == "ran" and earlier.argv == todo.argv and not earlier.problem:
                return Outcome("ran", todo.reasons + ["the same command ran above"], todo.argv, stdout=earlier.stdout)
        return self._run(todo.argv, todo.reasons, COMMAND_TIMEOUT)

    def _run(self, argv: list[str], reasons: list[str], timeout: float) -> Outcome:
        """Run `argv` in its own process group: on a timeout the group goes (workers included)."""
        start = time.monotonic()
        try:
            proc = subprocess.Popen(argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except OSError as error:
            return Outcome("ran", reasons, argv, 127, "", str(error), 0.0, f"cannot start: {error}")
        try:
            out, err = proc.communicate(timeout=timeout)
            problem = f"exit status {proc.returncode}" if proc.returncode else None
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            problem = f"still running after {timeout:.0f} s"
        return Outcome("ran", reasons, argv, proc.returncode, out, err, time.monotonic() - start, problem)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="rewrite every quoted figure with real output")
    args = parser.parse_args(argv)
    from tests import test_docs  # the tables
    from tests.conftest import shared_data
    from tests.docs_figures import figure_problem, update

    stale = 0
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(Path(tmp), shared_data(), test_docs.RULES, test_docs.PLACEHOLDERS)
        for figure in test_docs.FIGURES:
            outcome = session.outcome(session.index(figure.command))
            if outcome.kind == "skipped" or outcome.problem:
                print(f"{figure.id}: not checked, the command {outcome.kind}: {outcome.problem or outcome.reasons}")
                stale += 1
                continue
            problem = figure_problem(figure, session, outcome.stdout)
            if problem and args.update:
                update(figure, session, outcome.stdout)
                print(f"updated {figure.id}")
            else:
                print(f"stale {figure.id}: {problem}" if problem else f"current {figure.id}")
                stale += bool(problem)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
