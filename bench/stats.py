"""`curate stats` named queries on a 1,000,000-row decision table, one core: DuckDB vs pyarrow.

The table has the real schema and real values: the bench runs the FineWeb recipe in annotate
mode on the embedded sample crawl, then replicates its decision rows to 1,000,000 (10 files of
100,000, one row group each, as curate writes them), with fresh ids, 5,000 domains, and every
numeric signal scaled by a random factor so values differ row to row. Each named query runs
through `curate.tools.stats.named` on a DuckDB connection with `SET threads=1` (best of 3 in CPU
seconds, so time on one core whatever the load; wall seconds printed too; Parquet read each time); pyarrow (one CPU, `pa.set_cpu_count(1)`) computes the same figures from the same files
for comparison. The last line is JSON.

    .venv/bin/python -m bench.stats           # 1,000,000 rows
    .venv/bin/python -m bench.stats --quick   # 200,000 rows
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from curate.tools import stats  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def real_run(folder: Path) -> Path:
    import yaml

    from curate.core.config import load_recipe
    from curate.pipelines import runner

    out = folder / "ann"
    recipe = load_recipe(REPO / "pipelines" / "fineweb.yaml", overrides=[
        f"output={out}", "mode=annotate", f"stages.fasttext_lang.model={SHARED / 'models' / 'lid.176.ftz'}"])
    runner.run(recipe, progress=False)
    assert yaml.safe_load((out / "config.resolved.yaml").read_text())["mode"] == "annotate"
    return out


def replicate(run: Path, out: Path, rows: int, per_file: int = 100_000, seed: int = 0) -> None:
    """OUT with `rows` decision rows built from RUN's, and RUN's documents and config."""
    rng = np.random.default_rng(seed)
    base = pq.read_table(sorted((run / "decisions").glob("*.parquet")))
    (out / "decisions").mkdir(parents=True)
    shutil.copytree(run / "documents", out / "documents")
    shutil.copy(run / "config.resolved.yaml", out / "config.resolved.yaml")
    for k, start in enumerate(range(0, rows, per_file)):
        n = min(per_file, rows - start)
        table = base.take(rng.integers(0, base.num_rows, n))
        columns = {}
        for name, column in zip(table.column_names, table.columns):
            kind = column.type
            if name == "id":
                column = pa.array([f"doc-{start + i}" for i in range(n)])
            elif name == "domain":
                column = pa.array([f"site{d}.example" for d in rng.zipf(1.3, n) % 5000])
            elif pa.types.is_floating(kind) or (pa.types.is_integer(kind) and name != "read__http_status"):
                scaled = pc.multiply(column.cast(pa.float64()), pa.array(rng.uniform(0.7, 1.3, n)))
                column = scaled if pa.types.is_floating(kind) else pc.round(scaled).cast(kind)
            columns[name] = column
        pq.write_table(pa.table(columns, schema=base.schema), out / "decisions" / f"{k:05d}.parquet",
                       row_group_size=per_file)


def best_of(fn, repeat: int = 3) -> tuple[float, float]:
    """Best CPU seconds and best wall seconds of `repeat` runs. One thread, so CPU seconds are the
    time on one core, whatever else loads the machine; wall seconds grow with the load."""
    cpu, wall = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return min(cpu), min(wall)


def arrow_query(files: list[Path], name: str, signals: list[str], reasons: list[str]):
    """The same figures as the named query, with pyarrow compute (read + aggregate)."""
    def read(cols):
        return pq.read_table(files, columns=cols)

    if name == "funnel":
        return read(["stage", "n_chars"]).group_by("stage").aggregate([([], "count_all"), ("n_chars", "sum")])
    if name == "reasons":
        t = read(["stage", "reason", "n_chars", *reasons])
        out = [t.group_by("reason").aggregate([([], "count_all"), ("n_chars", "sum")])]
        kept = t.filter(pc.is_null(t["stage"]))
        out += [kept.group_by(c).aggregate([([], "count_all"), ("n_chars", "sum")]) for c in reasons]
        return out
    if name in ("languages", "domains"):
        col = "language" if name == "languages" else "domain"
        t = read([col, "stage", "n_chars", "language_score"])
        t = t.append_column("kept", pc.is_null(t["stage"]).cast(pa.int64()))
        t = t.append_column("kept_chars", pc.if_else(pc.is_null(t["stage"]), t["n_chars"], 0))
        return t.group_by(col).aggregate([([], "count_all"), ("kept", "sum"), ("kept_chars", "sum"),
                                          ("language_score", "mean")]).sort_by([("count_all", "descending")])[:20]
    if name == "lengths":
        t = read(["stage", "n_chars", "n_words"]).filter(pc.is_valid(pc.field("n_chars")))
        kept = pc.is_null(t["stage"]).cast(pa.int64())
        out = []
        for unit in ("n_chars", "n_words"):
            bins = pc.floor(pc.log2(pc.max_element_wise(t[unit], 1).cast(pa.float64())))
            g = pa.table({"bin": bins, "kept": kept})
            out.append(g.group_by("bin").aggregate([([], "count_all"), ("kept", "sum")]))
        return out
    if name == "signals":
        t = read(signals)
        return [(pc.min_max(t[c]), pc.mean(t[c]), pc.tdigest(t[c], q=[0.5, 0.9])) for c in signals]
    raise ValueError(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows")
    parser.add_argument("--rows", type=int, help="rows of the decision table (default 1,000,000)")
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else 1_000_000)
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        run = real_run(tmp)
        replicate(run, tmp / "big", rows)
        print(f"built a {rows:,}-row decision table from a real annotate run in {time.perf_counter() - start:.1f} s "
              f"(load average {os.getloadavg()[0]:.2f})")
        out = tmp / "big"
        con = stats.connect(out, threads=1)
        files = sorted((out / "decisions").glob("*.parquet"))
        signals = stats.signal_columns(con)
        reasons = [c for c in stats.columns(con) if c.endswith("__reason")]
        assert con.execute("SELECT count(*) FROM decisions").fetchone()[0] == rows
        results = {}
        print(f"{'query':<10} {'duckdb cpu s':>12} {'wall s':>7} {'pyarrow cpu s':>13} {'wall s':>7} "
              f"{'cpu ratio':>9} rows_out")
        for name in stats.QUERIES:
            duck, duck_wall = best_of(lambda name=name: stats.named(out, name, con))
            arrow, arrow_wall = best_of(lambda name=name: arrow_query(files, name, signals, reasons))
            n_out = len(stats.named(out, name, con)[1])
            results[name] = {"duckdb_cpu_s": round(duck, 3), "duckdb_wall_s": round(duck_wall, 3),
                             "pyarrow_cpu_s": round(arrow, 3), "pyarrow_wall_s": round(arrow_wall, 3)}
            print(f"{name:<10} {duck:>12.3f} {duck_wall:>7.3f} {arrow:>13.3f} {arrow_wall:>7.3f} "
                  f"{arrow / duck:>8.1f}x {n_out}")
        worst = max(r["duckdb_cpu_s"] for r in results.values())
        worst_wall = max(r["duckdb_wall_s"] for r in results.values())
        print(f"slowest named query: {worst:.3f} CPU s on one core ({'under' if worst < 1 else 'OVER'} the 1 s bar), "
              f"{worst_wall:.3f} s wall; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(json.dumps({"rows": rows, "threads": 1, "max_duckdb_cpu_s": worst, "max_duckdb_wall_s": worst_wall,
                          "queries": results,
                          "loadavg": round(os.getloadavg()[0], 2), "quick": args.quick}))


if __name__ == "__main__":
    main()
