"""The bytes of a crawl file as *runs* of decompressed data: one run per gzip member, or the whole file.

WARC files are gzipped one record per member (WARC 1.1, annex D.2); some tools write one gzip
stream for the whole file instead. Neither `gzip.GzipFile` nor warcio says where a member ends
or survives damage: GzipFile stops at the first bad member, warcio prints zlib's error and returns
what it had (a silently cut record) or seeks to a negative offset on a one-stream file. This
module decompresses members itself with `zlib.decompressobj`, reading forward only, and reports
how each run ended:

- `END`: the member (or the plain file) ended cleanly;
- `CUT`: the file ended inside its last gzip member (a truncated download);
- `DAMAGED`: zlib rejected the data. The output up to the bad byte is still delivered (found by
  bisecting the last input piece), then `next_run` resynchronises on the next gzip header after
  the damaged member's start whose data decompresses and begins like a record (`looks_like_start`).

Bytes skipped to reach a run (garbage between members, or the undecodable rest of a damaged
member) are reported as a `Gap`, so the caller can account for them. Every new run starts past
the previous one, so reading always ends.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

GZIP_MAGIC = b"\x1f\x8b\x08"
END, CUT, DAMAGED = "end", "cut", "damaged"
IN_PIECE = 16 * 1024  # compressed bytes fed to zlib at a time
OUT_PIECE = 256 * 1024  # most decompressed bytes per call: a gzip bomb costs no memory
READ_SIZE = 64 * 1024
PROBE_BYTES = 64 * 1024  # compressed bytes tried when validating a candidate member
PADDING = frozenset(b"\x00\t\n\r ")


@dataclass
class Gap:
    """Compressed bytes [offset, offset + length) that no run covers; `data` says whether any byte
    was more than padding (NULs, whitespace), `damaged` whether they follow a damaged member."""

    offset: int
    length: int
    data: bool
    damaged: bool


class PlainRuns:
    """An uncompressed file: a single run, the whole file."""

    gzipped = False

    def __init__(self, f, head: bytes):
        self.f, self.pending, self.started = f, head, False
        self.run_offset, self.end, self.error, self.gap = 0, None, None, None

    def next_run(self) -> bool:
        started, self.started = self.started, True
        return not started

    def next_chunk(self) -> bytes | None:
        data, self.pending = (self.pending or self.f.read(OUT_PIECE)), b""
        if data:
            return data
        self.end = END
        return None


class GzipRuns:
    """A gzip file, member by member. `run_offset` is the current member's file offset."""

    gzipped = True

    def __init__(self, f, head: bytes, looks_like_start: Callable[[bytes], bool]):
        self.f, self.inbuf, self.c = f, head, 0  # inbuf: compressed bytes from file offset c on
        self.looks_like_start = looks_like_start
        self.d = None
        self.run_offset, self.end, self.error, self.gap = -1, None, None, None
        self.fed_end = 0  # after damage: the offset just past the byte zlib rejected

    def next_run(self) -> bool:
        """Start the next member; False at end of file. `gap` describes what was skipped to get there."""
        if self.end == CUT:
            self.gap = None
            return False
        damaged = self.end == DAMAGED
        if damaged:  # the next member may begin anywhere after the damaged one's header
            gap_from = self.fed_end
            self._seek(self.run_offset + 1)
        else:
            gap_from = self.c
        start, data = self._find_member(validate_first=damaged)
        gap_to = self.c
        self.gap = Gap(gap_from, gap_to - gap_from, data, damaged) if gap_to > gap_from else None
        if start is None:
            return False
        self.d, self.run_offset, self.end, self.error = zlib.decompressobj(31), start, None, None
        return True

    def next_chunk(self) -> bytes | None:
        """More decompressed bytes of the current member; None when it has ended (see `end`)."""
        while self.end is None:
            if self.d.eof:
                self.end = END
                break
            if not self.inbuf and not self._read():
                if self._later_member():
                    self.end, self.error = DAMAGED, "gzip data damaged (its data runs on past the next gzip member)"
                else:
                    self.end, self.error = CUT, "the file ends inside this gzip member"
                break
            piece = self.inbuf[:IN_PIECE]
            saved = self.d.copy()
            try:
                out = self.d.decompress(piece, OUT_PIECE)
            except zlib.error as error:
                return self._damaged(saved, piece, error)
            self._advance(len(piece))
            if out:
                return out
        return None

    def _advance(self, fed: int) -> None:
        """Drop from `inbuf` the bytes zlib consumed of the `fed` it was given. At the member's end the
        rest is `unused_data` alone: CPython then also leaves `unconsumed_tail` equal to it (not empty)
        when the call before stopped at the output limit, so subtracting both would cut the member short
        by that many bytes and leave them as a gap before the next member (zlibmodule.c,
        `save_unconsumed_input`: the tail is re-taken from `next_in` after `avail_in` was cleared)."""
        rest = self.d.unused_data if self.d.eof else self.d.unconsumed_tail
        used = fed - len(rest)
        self.inbuf, self.c = self.inbuf[used:], self.c + used

    def _damaged(self, saved, piece: bytes, error: zlib.error) -> bytes | None:
        """Deliver the output up to the rejected byte: the longest prefix of `piece` zlib accepts."""
        lo, hi = 0, len(piece) - 1  # piece[:hi + 1] fails; find the longest prefix that does not
        while lo < hi:
            mid = (lo + hi + 1) // 2
            try:
                saved.copy().decompress(piece[:mid])
                lo = mid
            except zlib.error:
                hi = mid - 1
        out = saved.decompress(piece[:lo]) if lo else b""
        self.end, self.error = DAMAGED, f"gzip data damaged ({error})"
        self.fed_end = self.c + lo + 1
        return out or None

    def _later_member(self) -> bool:
        """Is there a gzip member after this one's start? Then this one is damaged, not cut: its
        (corrupt) deflate data went on into the next member's bytes without zlib noticing."""
        self._seek(self.run_offset + 1)
        start, _ = self._find_member(validate_first=True)
        self.fed_end = self.c
        return start is not None

    def _find_member(self, validate_first: bool) -> tuple[int | None, bool]:
        """Move to the next gzip header from `c` on (checking, when scanning, that its data
        decompresses and looks like a record); (its offset or None, whether non-padding was skipped)."""
        data = False
        validate = validate_first
        while True:
            if len(self.inbuf) < len(GZIP_MAGIC):
                self._read()
            found = self.inbuf.find(GZIP_MAGIC)
            if found < 0:
                if len(self.inbuf) < len(GZIP_MAGIC) and not self._read():
                    data |= not PADDING.issuperset(self.inbuf)
                    self.c, self.inbuf = self.c + len(self.inbuf), b""
                    return None, data
                drop = max(0, len(self.inbuf) - len(GZIP_MAGIC) + 1)
                data |= not PADDING.issuperset(self.inbuf[:drop])
                self.inbuf, self.c, validate = self.inbuf[drop:], self.c + drop, True
                continue
            data |= not PADDING.issuperset(self.inbuf[:found])
            self.inbuf, self.c = self.inbuf[found:], self.c + found
            if found == 0 and not validate or self._plausible():
                return self.c, data
            self.inbuf, self.c, validate, data = self.inbuf[1:], self.c + 1, True, True

    def _plausible(self) -> bool:
        """Does the member at `c` decompress without error into something that starts like a record?"""
        while len(self.inbuf) < PROBE_BYTES and self._read():
            pass
        probe, out = zlib.decompressobj(31), b""
        try:
            for i in range(0, min(len(self.inbuf), PROBE_BYTES), 1024):
                out += probe.decompress(self.inbuf[i:i + 1024], 4096)
                if len(out.lstrip(b"\r\n")) >= 32 or probe.eof:
                    break
        except zlib.error:
            return False
        head = out.lstrip(b"\r\n")
        return not head or self.looks_like_start(head)

    def _read(self) -> bool:
        data = self.f.read(READ_SIZE)
        self.inbuf += data
        return bool(data)

    def _seek(self, offset: int) -> None:
        self.f.seek(offset)
        self.inbuf, self.c = b"", offset


def open_runs(f, name: str, looks_like_start: Callable[[bytes], bool]):
    """GzipRuns for gzip data (or a `.gz` name that does not start like a record), else PlainRuns."""
    head = f.read(READ_SIZE)
    if head.startswith(GZIP_MAGIC[:2]) or (name.lower().endswith(".gz") and not looks_like_start(head)):
        return GzipRuns(f, head, looks_like_start)
    return PlainRuns(f, head)
