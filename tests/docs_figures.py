"""The figures the docs quote (tables a command prints, a number in the prose) against real output.

tests/test_docs.py's FIGURES name them; `.venv/bin/python -m tests.docs_blocks --update` rewrites
each quoted block in place with what its command prints now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.docs_blocks import REPO, Block, Session, read_blocks

# run-to-run figures in quoted output: wall time, throughput
TIMING = [(re.compile(r"\bin [\d.]+ s\b"), "in <t> s"), (re.compile(r"[\d.,]+ (docs|MB)/s"), r"<n> \1/s")]


@dataclass(frozen=True)
class Figure:
    """Output the docs quote from `command`. `block`: the first untagged block after the command in
    `doc` that starts with this prefix (the same prefix finds the start in the output); `...` lines
    in it stand for lines left out. `inline`: (pattern in the doc, pattern in the output), group 1 of
    each must agree."""

    command: str
    doc: str
    block: str | None = None
    inline: tuple[str, str] | None = None

    @property
    def id(self) -> str:
        return f"{self.doc}: {self.command}"


def normal(line: str) -> str:
    for pattern, repl in TIMING:
        line = pattern.sub(repl, line)
    return line.rstrip()


def quoted_block(figure: Figure, after: int, repo: Path = REPO) -> Block:
    for block in read_blocks(figure.doc, repo):
        if block.line > after and block.lang == "" and block.lines and block.lines[0].startswith(figure.block):
            return block
    raise LookupError(f"{figure.doc}: no untagged block starting {figure.block!r} after line {after}")


def segments(lines) -> list[list[str]]:
    parts = [[]]
    for line in lines:
        if line.strip() == "...":
            parts.append([])
        else:
            parts[-1].append(normal(line))
    return [p for p in parts if p]


def block_problem(block: Block, output: str) -> str | None:
    """None if every run of quoted lines appears, in order, as consecutive lines of the output."""
    out, at = [normal(line) for line in output.splitlines()], 0
    for part in segments(block.lines):
        starts = [i for i in range(at, len(out) - len(part) + 1) if out[i:i + len(part)] == part]
        if not starts:
            return f"{block.doc}:{block.line} quotes lines that the command does not print"
        at = starts[0] + len(part)
    return None


def new_block_lines(figure: Figure, block: Block, output: str) -> list[str]:
    """The real output in place of `block`: as many paragraphs as it quotes (or as many lines as its
    first part, then `...`, for an abridged block)."""
    out = [line.rstrip() for line in output.splitlines()]
    start = next((i for i, line in enumerate(out) if line.startswith(figure.block)), None)
    if start is None:
        raise LookupError(f"{figure.command!r} prints no line starting {figure.block!r}")
    if any(line.strip() == "..." for line in block.lines):
        first = len(segments(block.lines)[0])
        return out[start:start + first] + ["..."]
    wanted, seen, end = starts_of_paragraphs(block.lines), 0, start
    while end < len(out):
        if out[end] and (end == start or not out[end - 1]):
            seen += 1
            if seen > wanted:
                break
        end += 1
    while end > start and not out[end - 1]:
        end -= 1
    return out[start:end]


def starts_of_paragraphs(lines) -> int:
    return sum(1 for i, line in enumerate(lines) if line.strip() and (i == 0 or not lines[i - 1].strip()))


def figure_problem(figure: Figure, session: Session, output: str) -> str | None:
    if figure.inline:
        quoted = re.search(figure.inline[0], (session.repo / figure.doc).read_text())
        printed = re.search(figure.inline[1], output)
        if not quoted or not printed:
            return f"pattern not found: {'doc' if not quoted else 'output'}"
        if quoted.group(1) != printed.group(1):
            return f"{figure.doc} says {quoted.group(1)}, the command prints {printed.group(1)}"
        return None
    item = session.items[session.index(figure.command)]
    block = quoted_block(figure, item.line, session.repo)
    problem = block_problem(block, output)
    if problem:
        try:
            real = "\n".join(new_block_lines(figure, block, output))
        except LookupError as error:
            real = f"{error}; all of it:\n{output}"
        return f"{problem}:\n" + "\n".join(block.lines) + f"\n--- it prints ---\n{real}"
    return None


def update(figure: Figure, session: Session, output: str) -> bool:
    """Rewrite the figure in its doc with `output`; True if the doc changed."""
    path = session.repo / figure.doc
    text = path.read_text()
    if figure.inline:
        quoted, printed = re.search(figure.inline[0], text), re.search(figure.inline[1], output)
        new = text[:quoted.start(1)] + printed.group(1) + text[quoted.end(1):]
    else:
        block = quoted_block(figure, session.items[session.index(figure.command)].line, session.repo)
        lines = text.split("\n")
        body = slice(block.line, block.line + len(block.lines))
        lines[body] = new_block_lines(figure, block, output)
        new = "\n".join(lines)
    if new != text:
        path.write_text(new)
    return new != text
