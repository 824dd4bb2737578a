"""A bounded, seeded sample of the text of dropped documents, so `curate inspect` can show it.

In filter mode the DecisionWriter keeps the text of kept documents only (`documents/`); the
decision table says why a document was dropped but not what it said. Storing every dropped text
would double a run's output, so `DroppedSample` keeps a reservoir of `per_reason` documents per
drop reason per task (Vitter 1985, Algorithm R: every dropped document of a reason has the same
chance to be kept, in one pass and O(per_reason) memory). Each reason draws from its own
`random.Random` seeded by (seed, rank, reason), so a task samples the same documents however
often it is re-run and whatever other reasons it meets. Texts are cut at `max_chars`.

Output: OUT/dropped/{rank:05d}.parquet with columns id, stage, reason, text (a file for every
task, empty if it dropped nothing). Like the decision files, a re-run task rewrites its file.
Example: `[*readers, *stages, DroppedSample("out/"), DecisionWriter("out/", columns)]`.
"""

from __future__ import annotations

import random

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.core.step import DROP_REASON, DROP_STAGE, is_dropped

PER_REASON = 20
MAX_CHARS = 5_000  # enough for a reader to judge the document; bounds the file at 20 x 5 kB per reason
COLUMNS = {"id": "string", "stage": "string", "reason": "string", "text": "string"}


class Reservoir:
    """At most `size` items of a stream, each item equally likely to be among them (Algorithm R)."""

    def __init__(self, size: int, rng: random.Random):
        self.size, self.rng, self.seen, self.items = size, rng, 0, []

    def offer(self, item) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
            return
        slot = self.rng.randrange(self.seen)
        if slot < self.size:
            self.items[slot] = item


class DroppedSample(PipelineStep):
    """Keep a seeded reservoir of dropped documents' text per reason; pass every document on.

    Place it right before the DecisionWriter, where every dropped document still travels
    (`emit_dropped`). Documents dropped by the reader carry no text worth showing and are skipped;
    documents dropped at extraction keep their raw input, cut at `max_chars`."""

    name = "🔎 dropped sample"
    type = "💽 - WRITER"

    def __init__(self, output_folder: str, per_reason: int = PER_REASON, seed: int = 0, max_chars: int = MAX_CHARS):
        super().__init__()
        self.output_folder = str(output_folder).rstrip("/")
        self.per_reason, self.seed, self.max_chars = per_reason, seed, max_chars

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        reservoirs: dict[str, Reservoir] = {}
        for doc in data:
            if is_dropped(doc) and doc.metadata.get(DROP_STAGE) != "read":
                reason = str(doc.metadata.get(DROP_REASON))
                if reason not in reservoirs:
                    reservoirs[reason] = Reservoir(self.per_reason, random.Random(f"{self.seed}:{rank}:{reason}"))
                reservoirs[reason].offer((str(doc.id), doc.metadata.get(DROP_STAGE), reason,
                                          (doc.text or "")[:self.max_chars]))
            yield doc
        rows = [item for reason in sorted(reservoirs) for item in reservoirs[reason].items]
        self.stat_update("sampled", value=len(rows))
        self.write(rows, rank)

    def write(self, rows: list[tuple], rank: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from datatrove.io import get_datafolder

        from curate.io.writers import naming, schema_of

        schema = schema_of(COLUMNS)
        table = pa.Table.from_pylist([dict(zip(COLUMNS, row)) for row in rows], schema=schema)
        path = f"{self.output_folder}/dropped/{rank:05d}.parquet"
        with naming(path), get_datafolder(f"{self.output_folder}/dropped").open(f"{rank:05d}.parquet", "wb") as f:
            pq.write_table(table, f)
