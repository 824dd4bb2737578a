"""A read position over one run of decompressed bytes (`curate.io.warc_bytes`), for the record framer.

The buffer holds the bytes from the read position on, plus those from `keep` on while the framer
may need to come back to them (a record start seen inside a payload whose length may be wrong).
Positions are offsets inside the run. Nothing here seeks the file.
"""

from __future__ import annotations

import re

COMPACT = 1 << 20  # drop consumed bytes once this many have piled up
BLANK = b"\r\n"


class Stream:
    def __init__(self, runs):
        self.runs = runs
        self.buf = bytearray()
        self.base = 0  # run offset of buf[0]
        self.pos = 0
        self.keep: int | None = None
        self.done = False

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def fill(self) -> bool:
        """Append the run's next chunk; False once the run has ended."""
        if self.done:
            return False
        chunk = self.runs.next_chunk()
        if chunk is None:
            self.done = True
            return False
        low = self.pos if self.keep is None else min(self.keep, self.pos)
        if low - self.base >= COMPACT:
            del self.buf[:low - self.base]
            self.base = low
        self.buf += chunk
        return True

    def available(self) -> int:
        return self.end - self.pos

    def at_end(self) -> bool:
        while not self.available():
            if not self.fill():
                return True
        return False

    def peek(self, n: int) -> bytes:
        while self.available() < n and self.fill():
            pass
        i = self.pos - self.base
        return bytes(self.buf[i:i + n])

    def read(self, n: int) -> bytes:
        """Up to `n` bytes (fewer at a chunk boundary, none at the end of the run)."""
        if not self.available() and not self.fill():
            return b""
        i = self.pos - self.base
        data = bytes(self.buf[i:i + n])
        self.pos += len(data)
        return data

    def readline(self, limit: int) -> bytes:
        """A line with its newline; without one if it is longer than `limit` or the run ends first."""
        searched = self.pos  # run offsets: a fill may compact the buffer
        while True:
            nl = self.buf.find(b"\n", searched - self.base, self.pos + limit - self.base)
            if nl >= 0:
                return self._take(nl + 1 + self.base - self.pos)
            if self.available() >= limit:
                return self._take(limit)
            searched = self.end
            if not self.fill():
                return self._take(self.available())

    def _take(self, n: int) -> bytes:
        i = self.pos - self.base
        data = bytes(self.buf[i:i + n])
        self.pos += len(data)
        return data

    def skip_blank(self) -> int:
        """Skip CR and LF bytes; how many."""
        skipped = 0
        while True:
            i = self.pos - self.base
            j = i
            while j < len(self.buf) and self.buf[j] in BLANK:
                j += 1
            skipped += j - i
            self.pos += j - i
            if j < len(self.buf) or not self.fill():
                return skipped

    def search(self, pattern: re.Pattern, lo: int, hi: int) -> re.Match | None:
        """`pattern` in the buffered bytes [lo, hi) (run offsets; lo must still be buffered)."""
        return pattern.search(self.buf, max(lo, self.base) - self.base, hi - self.base)

    def seek(self, pos: int) -> None:
        if not self.base <= pos <= self.end:
            raise ValueError(f"position {pos} is no longer buffered ({self.base}..{self.end})")
        self.pos = pos
