"""Exact dedup: one document per group of identical normalised texts.

It shares MinHash's passes (filters/minhash: signatures -> buckets -> clusters -> filter) with a
single band, the hash of the text, so it scales and resumes the same way and its decision rows
carry the same columns: `exact_dedup__cluster_id`, `__cluster_size`, `__duplicate_of`, `__kept`.
"""

from __future__ import annotations

from curate.filters.minhash.filter import DedupFilter


class ExactDedup(DedupFilter):
    """Exact duplicate removal: documents whose normalised text (lowercased, runs of whitespace
    collapsed) has the same 64-bit xxh3 hash; one per group is kept, the one with the smallest
    order key, as in `minhash`. Runs as the same four passes as `minhash` with one band.
    Example: `- exact_dedup: {}`
    """

    namespace = "exact_dedup"
    names_kept = True  # identical texts: each duplicate is a copy of the kept one

    def __init__(self, buffer_records: int = 1 << 22, work_dir: str | None = None, mode: str = "filter",
                 emit_dropped: bool = False):
        super().__init__(work_dir=work_dir, mode=mode, emit_dropped=emit_dropped)
        self.buffer_records = buffer_records

    def signature_step(self):
        from curate.filters.minhash.signatures import ExactSignatures

        return ExactSignatures(self.work_dir, buffer_records=self.buffer_records)
