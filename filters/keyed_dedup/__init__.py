"""Keep one record per key across a whole run, in bounded memory: the passes of `paragraph_dedup` and `url_dedup`.

A stage built on `KeyedDedup` says, for each document, which keys it holds (`key_records`: a
paragraph's hash, a normalised URL's hash) and how its claim to a key ranks (the fields after the
hash: an order key, a length, a date). Three passes follow MinHash's pattern (filters/minhash:
sorted runs on disk, merged in key order, task layout never part of a decision):

1. keys (`passes.KeyRecords`, an `INPUT` pass, the recipe's tasks): each task's (hash, rank
   fields..., ref) records, spilled as sorted runs, `ref` = task << 32 | position in the task;
2. groups (`passes.KeepFirst`, a `TASKS` pass): task r merges every run over its share of the
   64-bit hash range; in each group of equal hashes with at least `min_group` records the first in
   record order (smallest rank fields, then ref) keeps the key, and every other record becomes a
   removal, written per target task sorted by (ref, hash);
3. the stage itself (`stage.KeyedDedup.run`): reads its task's removals in position order next to
   the documents, so each document learns which of its keys it lost.

The rank fields decide which record is first; they hold no task number, so 1 and N tasks give the
same output (the ref breaks only exact ties, e.g. one id and source file read twice).
"""

from curate.filters.keyed_dedup.stage import KeyedDedup

__all__ = ["KeyedDedup"]
