"""Pass 4 of dedup: mark every duplicate dropped, naming the document it duplicates.

The recipe stages `minhash` and `exact_dedup` are these filters. Each declares, in `prepasses`,
the passes that must run before it (signatures -> buckets -> clusters); curate's runner chains
them with datatrove's `depends=`, so the same recipe runs on the local, Ray and Slurm executors.

Input: the documents of one task, in the same order as in pass 1 (the same readers and stages,
the same number of tasks), and `clusters/{rank:05d}.parquet`. Output: the documents, with
`<ns>__cluster_id`, `<ns>__cluster_size`, `<ns>__duplicate_of`, `<ns>__kept` recorded; a duplicate
is dropped with reason `<ns>:duplicate` (`filter` mode) or only annotated (`annotate` mode), and a
near-duplicate of a document of an earlier run (`minhash: {against: [...]}`, index.py) with reason
`<ns>:duplicate_of_earlier_run`. Every kept document has a `cluster_size` (1 when it has no
duplicate), the size FineWeb-2's rehydration upsamples by (curate/tools/rehydrate.py).
"""

from __future__ import annotations

from typing import ClassVar

from datatrove.data import Document, DocumentsPipeline

from curate.core.step import CurateFilter, Pass, PassKind, Signal


class DedupFilter(CurateFilter):
    signals: ClassVar[dict[str, Signal]] = {"cluster_id": Signal("string"), "cluster_size": Signal("int64"),
                                            "duplicate_of": Signal("string"),
                                            "kept": Signal("bool", keep="higher",
                                                           reasons=("duplicate", "duplicate_of_earlier_run"))}
    num_bands = 1
    num_perm = 0
    min_similarity: float | None = None
    names_kept = False  # duplicate_of: the cluster's kept document, not the graph neighbour matched
    against: tuple = ()  # earlier runs' indexes (MinhashDedup)
    save_index = False
    buffer_records = 1 << 22  # records a pass holds in memory (signatures, clusters); the rest spills to disk

    def __init__(self, work_dir: str | None = None, mode: str = "filter", emit_dropped: bool = False):
        super().__init__(mode=mode, emit_dropped=emit_dropped)
        self.work_dir = work_dir
        self._clusters: dict = {}

    def signature_step(self):
        raise NotImplementedError

    def prepasses(self) -> list[Pass]:
        """Signatures over the same documents as the main pipeline (an `INPUT` pass, so the same
        tasks see the same documents in the same order), buckets with the recipe's task count, and
        clusters in one task."""
        from curate.filters.minhash.buckets import DedupBuckets
        from curate.filters.minhash.clusters import DedupClusters

        self._need_work_dir()
        against = self.earlier_indexes()
        index_dir = f"{self.work_dir}/index" if self.save_index else None
        return [Pass("signatures", [self.signature_step()], PassKind.INPUT),
                Pass("buckets", [DedupBuckets(self.work_dir, self.num_bands, min_similarity=self.min_similarity,
                                              num_perm=self.num_perm, against=against, index_dir=index_dir)],
                     PassKind.TASKS),
                Pass("clusters", [DedupClusters(self.work_dir, max_records=self.buffer_records, against=against,
                                                index_dir=index_dir, manifest=self.index_manifest())],
                     PassKind.SINGLE)]

    def earlier_indexes(self) -> list[str]:
        return []

    def index_manifest(self) -> dict:
        return {}

    def _need_work_dir(self) -> None:
        if not self.work_dir:
            raise ValueError(f"{self.namespace}: work_dir is not set (curate's runner sets OUT/dedup/{self.namespace})")

    def filter(self, doc: Document) -> str | None:
        row = self._clusters.get(self._position)
        if row is None:
            self.record(doc, "cluster_size", 1)
            self.record(doc, "kept", True)
            return None
        cluster_id, size, kept, duplicate_of, earlier = row
        self.record(doc, "cluster_id", cluster_id)
        self.record(doc, "cluster_size", size)
        self.record(doc, "kept", kept)
        if kept:
            return None
        self.record(doc, "duplicate_of", cluster_id if self.names_kept else duplicate_of)
        return "duplicate_of_earlier_run" if earlier else "duplicate"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import pyarrow.parquet as pq
        from datatrove.io import get_datafolder

        self._need_work_dir()
        folder = get_datafolder(self.work_dir)
        with folder.open(f"clusters/{rank:05d}.parquet", "rb") as f:
            table = pq.read_table(f).to_pydict()
        earlier = table.get("earlier") or [False] * len(table["position"])
        self._clusters = {p: row for p, *row in zip(table["position"], table["cluster_id"], table["cluster_size"],
                                                    table["kept"], table["duplicate_of"], earlier)}

        def positioned():
            for position, doc in enumerate(data):
                self._position = position  # pass 1 numbered every document, dropped ones too
                yield doc

        yield from super().run(positioned(), rank, world_size)
        self._clusters = {}


class MinhashDedup(DedupFilter):
    """MinHash near-duplicate removal (FineWeb's defaults: word 5-grams, 14 bands x 8 rows = 112
    hashes, so a pair with Jaccard 0.8 is caught with probability 1-(1-0.8^8)^14 = 0.92), keeping
    one document per cluster: the one with the smallest order key (a hash of id and source file).
    Signatures equal datasketch's MinHash (see curate/core/hashing.py). `unit` is `word` or
    `char` shingles of `n` units. A pair sharing a bucket counts only if its full signatures
    estimate a Jaccard >= `min_similarity` (None: plain LSH, as datatrove). 0.74 was chosen on one
    half of a corpus of planted real pages (recall at J >= 0.8 / precision at J >= 0.7: 0.9905 / 0.9944;
    0.70: 0.995 / 0.958; 0.76: 0.976 / 1.000) and checked on the other half (0.9759 / 0.9889):
    tests/test_minhash_correctness.py. Each bucket's members are checked against its member with the
    smallest order key, so the result does not depend on the task count; since then the two halves
    give 0.9905 / 0.9926 and 0.9812 / 0.9800 (means over 8 reshuffles with other ids: 0.9873 / 0.9930
    and 0.9796 / 0.9867, against 0.9880 / 0.9935 and 0.9799 / 0.9867 before). Runs as four passes: see filters/minhash/__init__.py;
    the signatures and clusters passes hold `buffer_records` records and spill sorted runs to disk.
    `save_index` (default on) saves the run's MinHash index in OUT/dedup/minhash/index/; `against`
    lists earlier runs' indexes (or their OUT folders): a document that near-duplicates one of their
    documents is dropped as `duplicate_of_earlier_run`, without reading their text (index.py),
    e.g. `- minhash: {against: [out/crawl-2024-10]}`.
    Example: `- minhash: {n: 5, bands: 14, rows: 8, seed: 1}`
    """

    namespace = "minhash"

    def __init__(self, n: int = 5, unit: str = "word", bands: int = 14, rows: int = 8, seed: int = 1,
                 min_similarity: float | None = 0.74, buffer_records: int = 1 << 22, work_dir: str | None = None,
                 mode: str = "filter", emit_dropped: bool = False, against: list[str] | None = None,
                 save_index: bool = True):
        super().__init__(work_dir=work_dir, mode=mode, emit_dropped=emit_dropped)
        if isinstance(against, str):
            against = [against]
        self.against, self.save_index = tuple(against or ()), save_index
        if unit not in ("word", "char"):
            raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
        if min(n, bands, rows) < 1:
            raise ValueError("n, bands and rows must be positive")
        self.n, self.unit, self.bands, self.rows, self.seed = n, unit, bands, rows, seed
        self.num_bands, self.num_perm, self.buffer_records = bands, bands * rows, buffer_records
        self.min_similarity = min_similarity  # verify bucket pairs on the full signature; None: LSH only

    def signature_step(self):
        from curate.filters.minhash.signatures import MinhashSignatures

        return MinhashSignatures(self.work_dir, self.bands, self.rows, self.n, self.unit, self.seed,
                                 buffer_records=self.buffer_records)

    def index_manifest(self) -> dict:
        return {"num_perm": self.num_perm, "bands": self.bands, "rows": self.rows, "n": self.n, "unit": self.unit,
                "seed": self.seed}

    def earlier_indexes(self) -> list[str]:
        """The earlier indexes' folders, each checked against this stage's parameters (RecipeError)."""
        from curate.filters.minhash.index import check, resolve

        folders = [resolve(str(path)) for path in self.against]
        for folder in folders:
            check(folder, self.index_manifest())
        return folders
