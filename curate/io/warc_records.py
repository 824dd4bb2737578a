"""WARC and ARC record framing that resynchronises, so every record is accounted for.

A WARC record (WARC 1.1, section 4) is a version line `WARC/1.x`, named fields, an empty line, a
block of `Content-Length` bytes and CRLF CRLF. An ARC v1 record (Internet Archive, 1996) is one
line `URL IP date mime length`, `length` bytes and LF. warcio trusts those lengths, so a wrong
one swallows the next record or invents one from the rest of a member, and a bad one restarts at
the same record forever. Here a record is accepted only if its block ends where the next record
(or the data) begins; otherwise it is reported, never kept, and reading goes on at the next
record start: `WARC/x.y` anywhere (so garbage without a trailing newline cannot hide a record),
an ARC header line, or the next gzip member (`curate.io.warc_bytes`). A resynchronisation
always starts past the failed record's start, so reading always ends.

`Framer(f, name, keep_bytes)` yields a `Framed` for every record and for every stretch of bytes
that is not one; `problem` is None, `truncated_record` (the data ends inside it) or
`corrupt_record` (`error` says why: the header named, the gzip error, the offsets). A block is
streamed: only its first `keep_bytes` are held, so a huge record costs no memory.
"""

from __future__ import annotations

from datatrove.utils.logging import logger

from curate.io.warc_bytes import CUT, DAMAGED, END, open_runs
from curate.io.warc_fields import (
    ARC_SCAN,
    ARC_START,
    CORRUPT,
    TRUNCATED,
    WARC_START,
    Framed,
    declared_length,
    digest_ok,
    header_errors,
    http_length_ok,
    is_junk,
    iso_date,
    join,
    looks_like_start,
    merged,
    partial_start,
    text_of,
)
from curate.io.warc_stream import Stream

MAX_LINE = 64 * 1024
MAX_HEADER = 256 * 1024
RETAIN = 64 << 20  # bytes held after a record start seen inside a block, in case the block's length is wrong
OVERLAP = {"warc": 16, "arc": 8 * 1024}  # a start split across two reads is still found


class Framer:
    """The records of one open file, as `Framed` rows (see the module docstring).

    How a block's end is judged: the terminator then a record start (or the end of the data) is
    clean. A record start seen inside the block, garbage after the terminator, or no terminator is
    ambiguous; the block's WARC-Block-Digest settles it, else the HTTP message's own length. Where no
    gzip CRC covers a record (plain files, several records in one gzip member) its digest is checked
    too: a mismatch is a `corrupt_record`. After damage inside a multi-record member whose writer
    writes digests, only records that match theirs are kept; without digests, data that zlib decodes
    wrongly but without error cannot be told from good data until the member's CRC fails.
    """

    def __init__(self, f, name: str, keep_bytes: int):
        self.name = name
        self.fmt = "arc" if ".arc" in name.lower() else "warc"
        self.detected = False
        self.keep_bytes = keep_bytes
        self.runs = open_runs(f, name, looks_like_start)
        self.damage: int | None = 0  # block bytes the damaged record lost (None: its row covers the rest)
        self.reported = False  # the current run's damage already has a row
        self.tainted = False  # the current gzip member held damage: later records must match their digest
        self.current: Framed | None = None  # the record being read
        self.digests = False  # a record of the current run matched its WARC-Block-Digest

    def __iter__(self):
        while self.runs.next_run():
            yield from self._gap()
            self.damage, self.reported, self.tainted, self.digests = 0, False, False, False
            yield from self._run(Stream(self.runs))
        yield from self._gap()

    def _gap(self):
        gap, self.runs.gap = self.runs.gap, None
        if gap is None:
            return
        if gap.damaged:  # the undecodable rest of a damaged member: a row unless its record covers it
            if self.damage is None or gap.length <= self.damage + 64 + self.damage // 256:
                return
            error = f"{gap.length} compressed bytes after damaged gzip data could not be read"
        elif gap.data:
            error = f"{gap.length} bytes that are not gzip data"
        else:
            return
        yield Framed(gap.offset, str(gap.offset), self.fmt, None, present=gap.length, problem=CORRUPT, error=error)

    def _run(self, s: Stream):
        """The rows of one run; a stretch of junk (stray bytes and headers that name no record and give
        no length, as damaged gzip data decodes to) is one row, however many `WARC/` lines it holds."""
        had_data, junk = False, None
        for item in self._items(s):
            if item is None:
                had_data = True
                continue
            if junk is not None and is_junk(item):
                junk.merged += 1
                continue
            if junk is not None:
                yield merged(junk)
            junk = item if is_junk(item) else None
            if junk is None:
                yield item
        if junk is not None:
            yield merged(junk)
        yield from self._run_ended(s, had_data)

    def _items(self, s: Stream):
        """Records and stray stretches of the run, in order; None once data is seen."""
        while True:
            s.skip_blank()
            if s.at_end():
                return
            yield None
            self._detect(s)
            if self._at_start(s):
                rec = self._record(s)
                self.tainted |= rec.problem is not None and self.runs.gzipped
                yield rec
                continue
            start, head = s.pos, s.peek(16)
            found = self._scan(s, start)
            self.tainted = self.runs.gzipped
            yield self._stray(start, s.pos - start, head, found)
            if not found:
                return

    def _run_ended(self, s: Stream, had_data: bool):
        end = self.runs.end
        if end == DAMAGED and not self.reported:  # between records: `_gap` accounts for what follows
            logger.warning(f"{self.name}: gzip member at byte {self.runs.run_offset}: {self.runs.error}")
            self.damage = 0
        elif end == CUT and not had_data:
            yield self._framed(s.pos, None, TRUNCATED, "the file ends inside this gzip member's header")

    def _stray(self, start: int, n: int, head: bytes, found: bool) -> Framed:
        """A row for `n` bytes at `start` (beginning with `head`) that are not a record."""
        end = self.runs.end
        if not found and end == DAMAGED:
            self.damage, self.reported = None, True
            return self._framed(start, None, CORRUPT, self.runs.error)
        if not found and (end == CUT or not self.runs.gzipped) and partial_start(head[:n], self.fmt):
            return self._framed(start, None, TRUNCATED, f"the file ends inside a record's first line ({n} bytes)")
        return self._framed(start, None, CORRUPT, f"{n} bytes that are not a {self.fmt.upper()} record")

    def _framed(self, pos: int, headers, problem: str | None, error: str | None) -> Framed:
        if self.runs.gzipped:
            offset = self.runs.run_offset
            where = str(offset) if pos == 0 else f"{offset}+{pos}"
        else:
            offset, where = pos, str(pos)
        return Framed(offset, where, self.fmt, headers, problem=problem, error=error, inner=pos)

    def _detect(self, s: Stream) -> None:
        if not self.detected:
            self.detected = True
            head = s.peek(16)
            if head.startswith(b"WARC/"):
                self.fmt = "warc"
            elif head.startswith(b"filedesc://"):
                self.fmt = "arc"

    def _at_start(self, s: Stream) -> bool:
        if self.fmt == "warc":
            return bool(WARC_START.match(s.peek(12)))
        head = s.peek(512)
        if b"\n" not in head and len(head) == 512:
            head = s.peek(MAX_LINE)
        return bool(ARC_START.match(head))

    def _find(self, s: Stream, lo: int, hi: int) -> int | None:
        """Run offset of the first record start in the buffered bytes [lo, hi)."""
        if self.fmt == "warc":
            m = WARC_START.search(s.buf, max(lo, s.base) - s.base, hi - s.base)
            return None if m is None else m.start() + s.base
        m = ARC_SCAN.search(s.buf, max(lo - 1, s.base) - s.base, hi - s.base)
        return None if m is None else m.start() + 1 + s.base

    def _scan(self, s: Stream, lo: int) -> bool:
        """Move to the next record start at or after `lo`; False (at the run's end) if there is none."""
        overlap = OVERLAP[self.fmt]
        while True:
            s.keep = lo
            found = self._find(s, lo, s.end)
            if found is not None:
                s.keep = None
                s.seek(found)
                return True
            lo = max(lo, s.end - overlap)
            s.pos = max(s.pos, lo)
            if not s.fill():
                s.keep, s.pos = None, s.end
                return False

    def _skip_rest(self, s: Stream, rec: Framed, lo: int) -> None:
        """Skip to the next record start: the bytes up to it belong to `rec` (and so does damage met on the way)."""
        if not self._scan(s, lo) and self.runs.end == DAMAGED:
            rec.error = join(rec.error, self.runs.error)
            self.damage, self.reported, rec.trusted = None, True, False

    def _short(self, what: str, left: int | None) -> tuple[str, str]:
        """(problem, error) for a record that its run ends inside."""
        end = self.runs.end
        if end == DAMAGED:
            self.damage, self.reported = left, True
            self.current.trusted = False
            return CORRUPT, f"{self.runs.error}; {what}"
        if end == CUT or not self.runs.gzipped:
            return TRUNCATED, f"the file ends inside this record ({what})"
        return CORRUPT, f"the gzip member ends inside this record ({what})"

    def _record(self, s: Stream) -> Framed:
        rec = self.current = self._framed(s.pos, None, None, None)
        start = s.pos
        if self.fmt == "warc":
            self._warc_header(s, rec)
        else:
            self._arc_header(s, rec)
        if rec.problem is not None and rec.length is None:
            if s.available() or not s.done:  # a header error, not the end of the data
                self._skip_rest(s, rec, max(s.pos, start + 1))
            return rec
        self._block(s, rec)
        return rec

    def _warc_header(self, s: Stream, rec: Framed) -> None:
        s.readline(MAX_LINE)  # the version line, matched by _at_start
        fields: dict[str, str] = {}
        rec.headers = fields
        size, name, errors = 0, None, []
        while True:
            line = s.readline(MAX_LINE)
            size += len(line)
            if not line.endswith(b"\n"):
                if s.at_end():
                    rec.problem, rec.error = self._short("its header is cut", None)
                else:
                    rec.problem, rec.error = CORRUPT, f"a header line is longer than {MAX_LINE} bytes"
                return
            if size > MAX_HEADER:
                rec.problem, rec.error = CORRUPT, f"the header is longer than {MAX_HEADER} bytes"
                return
            text = line.rstrip(b"\r\n")
            if not text:
                break
            if text[:1] in (b" ", b"\t") and name:
                fields[name] += " " + text_of(text.strip())
                continue
            key, sep, value = text.partition(b":")
            if not sep or not key.strip():
                errors.append(f"malformed header line {text_of(text[:60])!r}")
                rec.trusted, name = False, None
                continue
            name = text_of(key.strip()).lower()
            fields.setdefault(name, text_of(value.strip()))
        errors += header_errors(fields)
        rec.length = declared_length(fields.get("content-length"))
        if errors:
            rec.problem, rec.error = CORRUPT, "; ".join(errors)

    def _arc_header(self, s: Stream, rec: Framed) -> None:
        line = s.readline(MAX_LINE).rstrip(b"\r\n")
        url, ip, date, mime, length = (text_of(p) for p in line.rsplit(b" ", 4))
        rec.headers = {"warc-type": "warcinfo" if url.startswith("filedesc://") else "response",
                       "warc-target-uri": url, "warc-ip-address": ip, "warc-date": iso_date(date), "content-type": mime}
        rec.length = int(length)

    def _block(self, s: Stream, rec: Framed) -> None:
        """Read the block (keeping its first keep_bytes) and check that the record ends after it."""
        body, length = s.pos, rec.length
        block, candidate, scan_from = bytearray(), None, body
        overlap = OVERLAP[self.fmt]
        while rec.present < length:
            chunk = s.read(min(length - rec.present, 1 << 20))
            if not chunk:
                break
            rec.present += len(chunk)
            if len(block) < self.keep_bytes:
                block += chunk[:self.keep_bytes - len(block)]
            if candidate is None:
                candidate = self._find(s, scan_from, s.pos)
                scan_from = max(body, s.pos - overlap)
                s.keep = scan_from if candidate is None else max(body, candidate - 4)  # and its CRLF CRLF
            elif s.pos - candidate > RETAIN:  # too far back to return to: take it as content
                candidate, scan_from = None, s.pos - overlap
                s.keep = scan_from
        if candidate is None and rec.present:  # a record start that the block's last bytes begin
            s.peek(overlap)
            found = self._find(s, scan_from, s.end)
            candidate = found if found is not None and found < s.pos else None
        rec.block = bytes(block)
        if rec.present < length:
            self._cut_block(s, rec, candidate, body)
            return
        state = self._end_of_record(s)
        whole = rec.present == len(rec.block)
        protected = state == "clean" and candidate is None and self._crc_covers(s, rec)
        digest = digest_ok(rec.headers or {}, rec.block) if whole and not protected else None
        self.digests |= digest is True
        strong = candidate is not None and (self.fmt == "arc" or self._after_terminator(s, candidate))
        if not self._length_right(state, candidate, strong, digest, rec.block if whole else b""):
            rec.problem = CORRUPT
            rec.error = join(rec.error, f"Content-Length {length} does not end the record")
            if candidate is not None:
                s.seek(candidate)
            else:
                self._skip_rest(s, rec, s.pos)
        elif digest is False:
            rec.problem, rec.error = CORRUPT, join(rec.error, "WARC-Block-Digest does not match the block")
        elif digest is None and self.tainted and self.digests and rec.problem is None:
            rec.problem, rec.trusted = CORRUPT, False  # damage before it in a member whose writer writes digests
            rec.error = "follows damaged data in its gzip member and has no WARC-Block-Digest to check"
        if rec.inner == 0 and digest is not True and self._check_failed(s):  # its member fails its CRC
            rec.trusted, self.reported = False, True
            rec.problem, rec.error = CORRUPT, join(rec.error, self.runs.error)
        s.keep = None

    def _length_right(self, state: str, candidate: int | None, strong: bool, digest: bool | None,
                      block: bytes) -> bool:
        """Does the declared length end the block where it really ends? `state` is how the bytes after
        it look (`_end_of_record`), `candidate` a record start seen inside it (`strong`: right after a
        record's CRLF CRLF, or an ARC header line); the block's digest, when it has one, settles it,
        else its HTTP Content-Length where the framing alone is ambiguous."""
        if digest is not None:
            return digest or (state == "clean" and candidate is None)  # a clean mismatch: damaged content
        http = http_length_ok(block) if block else None
        if state == "clean":  # a page may quote a `WARC/1.0` line; a WARC record may hold a WARC file
            return candidate is None or (http is True if strong else http is not False)
        if state == "loose":
            return candidate is None and http is not False
        return candidate is None and http is True  # "bad": only a complete HTTP response says otherwise

    def _after_terminator(self, s: Stream, candidate: int) -> bool:
        """Is the record start at `candidate` right after a record's CRLF CRLF (a swallowed record)?"""
        i = candidate - s.base
        return i >= 4 and s.buf[i - 4:i] == b"\r\n\r\n"

    def _crc_covers(self, s: Stream, rec: Framed) -> bool:
        """Is the record its gzip member's whole content, checked by the member's CRC?"""
        return self.runs.gzipped and rec.inner == 0 and s.at_end() and self.runs.end == END

    def _check_failed(self, s: Stream) -> bool:
        """Did the gzip member end right here on a CRC or length mismatch (all its data out, but not as written)?
        A deflate error after a complete record does not touch it: its bytes were decoded before the bad bits."""
        return (self.runs.gzipped and s.at_end() and self.runs.end == DAMAGED
                and any(m in (self.runs.error or "") for m in ("incorrect data check", "incorrect length check")))

    def _cut_block(self, s: Stream, rec: Framed, candidate: int | None, body: int) -> None:
        s.keep = None
        if candidate is not None:
            s.seek(candidate)
            rec.problem = CORRUPT
            rec.error = join(rec.error, f"Content-Length {rec.length} runs past the next record "
                                         f"(at byte {candidate - body} of the block)")
            return
        problem, error = self._short(f"{rec.present} of {rec.length} block bytes", rec.length - rec.present)
        rec.error = join(rec.error, error)
        if rec.problem is None or problem == TRUNCATED:
            rec.problem = problem

    def _end_of_record(self, s: Stream) -> str:
        """"clean": the terminator, then a record or the end; "loose": the terminator (WARC: CRLF CRLF,
        ARC: LF) but then something else (garbage after a record, or a length too small); "bad": neither."""
        terminator = b"\r\n\r\n" if self.fmt == "warc" else b"\n"
        if s.peek(len(terminator)) == terminator:
            s.read(len(terminator))
            s.skip_blank()
            return "clean" if s.at_end() or self._at_start(s) else "loose"
        s.skip_blank()
        return "clean" if s.at_end() or self._at_start(s) else "bad"
