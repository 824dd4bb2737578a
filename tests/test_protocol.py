"""The declared stage protocol: the base class's hooks and defaults, the one pass orchestrator
(`chain_prepasses`) running a stage that declares passes, no `hasattr`/`getattr` probing in the
runner, the orchestrator and the writer, and a runner that leaves datatrove's module functions alone."""

from __future__ import annotations

import ast
import dataclasses
import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datatrove.data import Document
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep

from curate.core.step import CurateFilter, CurateStep, Pass, PassKind
from curate.filters.fasttext_classifier import FastTextClassifier
from curate.filters.minhash import MinhashDedup
from curate.io.readers import JsonlReader, WarcReader
from curate.io.writers import DecisionWriter, signal_columns
from curate.pipelines.multipass import STREAM, StreamCache, StreamReader, chain_prepasses, remove_streams
from curate.pipelines.runner import QuietLocalExecutor, write_reports
from tests.conftest import REPO


class Plain(CurateStep):
    namespace = "plain"
    signals = {"x": "int64"}

    def process(self, doc: Document) -> str | None:
        return None


class Judge(CurateFilter):
    namespace = "judge"
    signals = {"y": "float64"}

    def filter(self, doc: Document) -> str | None:
        return None


def test_the_base_class_declares_every_hook_with_a_default_that_does_nothing():
    step = Plain()
    assert step.prepasses() == [] and step.reports() == {}
    assert step.work_dir is None and step.work_group == "dedup" and step.output_partition is None
    assert Plain.all_signals() == {"x": "int64"} and Plain.all_signals() is not Plain.signals
    assert Judge.all_signals() == {"y": "float64", "reason": "string"}
    assert [k.name for k in PassKind] == ["INPUT", "TASKS", "SINGLE"]
    one = Pass("p", [], PassKind.SINGLE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.kind = PassKind.INPUT


def test_the_stages_declare_their_hooks():
    dedup = MinhashDedup(work_dir="w")
    assert [(p.name, p.kind) for p in dedup.prepasses()] == [
        ("signatures", PassKind.INPUT), ("buckets", PassKind.TASKS), ("clusters", PassKind.SINGLE)]
    from curate.filters.decontaminate.filter import Decontaminate
    from curate.filters.fasttext_lang import FastTextLang

    assert list(Decontaminate.__new__(Decontaminate).reports()) == ["decontamination"]  # no index needed
    assert FastTextClassifier.work_group == "classifier"
    assert FastTextLang.output_partition is None  # an instance with `route: true` sets "language"


def test_signal_columns_come_from_the_declarations_of_readers_and_stages():
    class Foreign(PipelineStep):  # a plain datatrove step declares nothing and adds no column
        def run(self, data, rank=0, world_size=1):
            yield from data

    columns = signal_columns([WarcReader, JsonlReader, Foreign, Plain(), Judge])
    warc = {f"read__{name}": kind for name, kind in WarcReader.signals.items()}
    assert columns == {**warc, "plain__x": "int64", "judge__y": "float64", "judge__reason": "string"}


# A stage that declares all three kinds of pass: count the documents of each task (INPUT), mark each
# task of the recipe's task count (TASKS), add the counts in one task (SINGLE); the main pass records
# the total on every document.
class CountDocs(PipelineStep):
    name = "count"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder

    def run(self, data, rank: int = 0, world_size: int = 1):
        n = sum(1 for _ in data)
        with get_datafolder(self.folder).open(f"counts/{rank:05d}.json", "w") as f:
            f.write(json.dumps(n))
        yield from ()


class MarkTask(CountDocs):
    name = "mark"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        with get_datafolder(self.folder).open(f"tasks/{rank:05d}-of-{world_size}", "w") as f:
            f.write("")
        yield from ()


class SumCounts(CountDocs):
    name = "sum"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        folder = get_datafolder(self.folder)
        total = sum(json.loads(folder.open(path).read()) for path in folder.list_files("counts"))
        with folder.open("total.json", "w") as f:
            f.write(json.dumps({"total": total, "world_size": world_size}))
        yield from ()


class Census(CurateStep):
    namespace = "census"
    signals = {"total": "int64"}
    work_group = "census_work"

    def prepasses(self) -> list[Pass]:
        return [Pass("count", [CountDocs(self.work_dir)], PassKind.INPUT),
                Pass("mark", [MarkTask(self.work_dir)], PassKind.TASKS),
                Pass("sum", [SumCounts(self.work_dir)], PassKind.SINGLE)]

    def process(self, doc: Document) -> str | None:
        with get_datafolder(self.work_dir).open("total.json") as f:
            self.record(doc, "total", json.load(f)["total"])
        return None


def quiet(steps, tasks, logging_dir, depends, name):
    return QuietLocalExecutor(pipeline=steps, tasks=tasks, logging_dir=logging_dir, depends=depends, workers=1)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(2):
        with open(folder / f"part{k}.jsonl", "w") as f:
            for i in range(3 + 2 * k):
                f.write(json.dumps({"id": f"d{k}-{i}", "text": f"document {k} {i}"}) + "\n")
    return folder


def test_a_stage_declaring_passes_runs_through_chain_prepasses(corpus, tmp_path):
    out = str(tmp_path / "out")
    reader, census = JsonlReader(str(corpus)), Census()
    writer = DecisionWriter(out, signal_columns([reader, census]))
    depends, steps = chain_prepasses([reader, census, writer], quiet, out, tasks=2, name="t")
    work = f"{out}/census_work/census"
    assert census.work_dir == work
    assert isinstance(steps[0], StreamReader) and steps[1:] == [census, writer]  # the input is read once
    QuietLocalExecutor(pipeline=steps, tasks=2, logging_dir=f"{out}/logs", depends=depends, workers=1).run()

    rows = duckdb.sql(f"SELECT id, census__total FROM '{out}/decisions/*.parquet' ORDER BY id").fetchall()
    assert len(rows) == 8 and {total for _, total in rows} == {8}
    assert json.loads((tmp_path / "out/census_work/census/total.json").read_text()) == {"total": 8, "world_size": 1}
    assert sorted(p.name for p in (tmp_path / "out/census_work/census/tasks").iterdir()) == ["00000-of-2", "00001-of-2"]
    for name, tasks in (("count", 2), ("mark", 2), ("sum", 1)):
        assert len(list((tmp_path / f"out/logs/census_{name}/completions").iterdir())) == tasks
    assert len(list((tmp_path / "out/census_work/census" / STREAM).iterdir())) == 2
    remove_streams([reader, census, writer])
    assert list((tmp_path / "out/census_work/census" / STREAM).iterdir()) == []


def test_each_pass_gets_its_kinds_inputs_and_task_count_and_depends_on_the_one_before():
    built = []

    def record(steps, tasks, logging_dir, depends, name):
        built.append((steps, tasks, logging_dir, depends, name))
        return name

    reader, first, second, writer = object(), MinhashDedup(), MinhashDedup(), object()
    second.work_dir = "elsewhere"
    depends, steps = chain_prepasses([reader, first, second, writer], record, "OUT", tasks=4, name="r")
    assert first.work_dir == "OUT/dedup/minhash" and second.work_dir == "elsewhere"
    assert [(tasks, logs, dep) for _, tasks, logs, dep, _ in built] == [
        (4, "OUT/logs/minhash_signatures", None), (4, "OUT/logs/minhash_buckets", "r_minhash_signatures"),
        (1, "OUT/logs/minhash_clusters", "r_minhash_buckets"),
        (4, "OUT/logs/minhash_signatures", "r_minhash_clusters"), (4, "OUT/logs/minhash_buckets", "r_minhash_signatures"),
        (1, "OUT/logs/minhash_clusters", "r_minhash_buckets")]
    first_input, second_input = built[0][0], built[3][0]
    assert first_input[0] is reader and isinstance(first_input[1], StreamCache)
    assert first_input[1].folder == f"OUT/dedup/minhash/{STREAM}"
    # the second stage's input pass starts from the first's saved stream, not the reader
    assert isinstance(second_input[0], StreamReader) and second_input[0].folder == f"OUT/dedup/minhash/{STREAM}"
    assert second_input[1] is first and second_input[2].folder == f"elsewhere/{STREAM}"
    assert depends == "r_minhash_clusters"
    assert steps[0].folder == f"elsewhere/{STREAM}" and steps[1:] == [second, writer]


def test_a_stage_without_passes_leaves_the_pipeline_and_its_work_dir_alone(tmp_path):
    classifier = FastTextClassifier.__new__(FastTextClassifier)  # threshold only: no model needed to plan
    classifier.top_percent = None
    pipeline = ["reader", Plain(), classifier, "writer"]
    depends, steps = chain_prepasses(pipeline, quiet, str(tmp_path), tasks=2)
    assert depends is None and steps == pipeline
    assert classifier.work_dir is None and pipeline[1].work_dir is None


def test_reports_are_the_declared_sql_over_the_decision_table(tmp_path):
    (tmp_path / "decisions").mkdir()
    for rank, stages in enumerate((["a", None, "a"], ["b", None])):
        table = pa.table({"id": [f"{rank}-{i}" for i in range(len(stages))], "stage": pa.array(stages, pa.string())})
        pq.write_table(table, tmp_path / "decisions" / f"{rank:05d}.parquet")
    write_reports(tmp_path, [{}, {"drops": "SELECT stage, count(*) AS n FROM decisions "
                                           "WHERE stage IS NOT NULL GROUP BY 1 ORDER BY 1"}])
    assert pq.read_table(tmp_path / "reports" / "drops.parquet").to_pylist() == [
        {"stage": "a", "n": 2}, {"stage": "b", "n": 1}]


@pytest.mark.parametrize("module", ["pipelines/runner.py", "pipelines/multipass.py", "curate/io/writers.py"])
def test_the_runner_orchestrator_and_writer_never_probe_a_stage(module):
    tree = ast.parse((REPO / module).read_text())
    probes = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
              and isinstance(node.func, ast.Name) and node.func.id in ("hasattr", "getattr")]
    assert probes == [], f"{module}: hasattr/getattr at lines {probes}"


def test_the_quiet_executor_leaves_datatrove_alone_and_logs_tasks_in_full(corpus, tmp_path, capfd):
    import datatrove.executor.base as base
    import datatrove.utils.logging as dt_logging

    before = (base.add_task_logger, base.close_task_logger, dt_logging.add_task_logger)
    out = tmp_path / "out"
    reader = JsonlReader(str(corpus))
    QuietLocalExecutor(pipeline=[reader, DecisionWriter(str(out), signal_columns([reader]))], tasks=2,
                       logging_dir=str(out / "logs"), workers=1).run()
    assert (base.add_task_logger, base.close_task_logger, dt_logging.add_task_logger) == before
    assert before[0] is dt_logging.add_task_logger
    assert sorted(p.name for p in (out / "logs" / "completions").iterdir()) == ["00000", "00001"]
    log = (out / "logs" / "logs" / "task_00001.log").read_text()
    assert "Launching pipeline for rank=1" in log and "Processing done for rank=1" in log
    assert "Launching pipeline" not in capfd.readouterr().err  # the console shows WARNING and up only
    assert len(list((out / "decisions").iterdir())) == 2
