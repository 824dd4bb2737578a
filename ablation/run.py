"""`curate ablate`: a sweep of variants x seeds on equal token budgets, evaluated and summarised with CIs.

The steps, in order, each resumable from what is already in the run folder:
1. read the baseline and every variant's documents; drop documents overlapping the benchmarks or
   the held-out text (ablation/decontam.py); derive damaged variants;
2. train one BPE tokenizer on a reference sample of the baseline (`tokenizer.json`, saved once);
3. sample the same number of training tokens for every variant (`data/<variant>.bin`);
4. train every variant with every seed (`runs/<variant>/seed<k>/`: a checkpoint while training,
   `scores.npz` + `result.json` when done, so a killed sweep resumes where it stopped);
5. write `results.parquet/.csv`, `summary.parquet`, `curves.parquet`, plots and `run.json`.

A variant is one of (see README, "Ablations"):
    {name, damage: boilerplate|duplicates|foreign|spam, fraction}   planted damage of the baseline
    {name, where: "SQL"}          baseline documents whose decision-table row matches (DuckDB WHERE)
    {name, input: [paths], where: "SQL"?}   another recipe's output or any dataset
    (baseline and input variants take `max_docs: N`: a fixed random subset of N documents)
    {name, mix: {variant: weight, ...}}     documents from other variants, by share of tokens

Example:
    run_ablation(load_config("pipelines/ablation_damage_tiny.yaml"), output="out/ablate")
"""

from __future__ import annotations

import json
import platform
import random
import re
import subprocess
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from curate.ablation import anneal, data, report
from curate.ablation.damage import damage, foreign_documents
from curate.ablation.decontam import decontaminate
from curate.ablation.evaluate import FILES, TASKS, evaluate, heldout_windows, load_tasks
from curate.ablation.train import TrainConfig, resolve_device, train
from curate.core import registry
from curate.core.config import RecipeError, YamlFile, expand_env, load_yaml
from curate.io.writers import DECISION_COLUMNS

DEFAULTS = {
    "seeds": [0, 1, 2],
    "foreign": "${CURATE_SHARED_DATA:-../shared/data}/multilingual/lingua_language-testdata.tar.xz",
    "heldout": {"input": ["${CURATE_SHARED_DATA:-../shared/data}/clean_text/gutenberg",
                          "${CURATE_SHARED_DATA:-../shared/data}/clean_text/wikitext-2"],
                "every": 10, "tokens": 65536},
    "tokenizer": {"vocab_size": 4096, "sample_docs": 4000},
    "eval": {"benchmarks": "${CURATE_SHARED_DATA:-../shared/data}/benchmarks", "tasks": list(TASKS),
             "max_items": 500, "bootstrap": 1000},
    "decontaminate": True,
    "workers": 1,  # runs trained at once, each in its own process
    "train": {},
}


# scratch: every variant x seed trained from scratch; anneal: one base model, every variant x seed annealed
# from it on a share of the variant's data (ablation/anneal.py)
MODES = ("scratch", "anneal")


def load_config(path: str | Path, overrides: list[str] = ()) -> dict:
    """The ablation YAML with defaults filled in, `key.sub=value` overrides applied and `${VAR}` expanded.

    Every `where:` is checked too: a signal column it names must be one some registered stage
    declares (or a base column of the decision table), so a misspelt one fails here, naming the
    line and the closest column, and not after an hour of training on an empty selection."""
    loaded = load_yaml(path, overrides=overrides, what="ablation config")
    raw = loaded.data
    defaults = expand_env(DEFAULTS, str(Path(path).resolve().parent))
    config = {**defaults, **raw}
    for key in ("heldout", "tokenizer", "eval"):
        config[key] = {**defaults[key], **(raw.get(key) or {})}
    unknown = {f.name for f in fields(TrainConfig)}
    bad = set(config["train"]) - unknown
    if bad:
        raise RecipeError(f"{loaded.where('train')}: unknown train setting(s) {sorted(bad)}; valid: {sorted(unknown)}")
    if "baseline" not in config:
        raise RecipeError(f"{path}: no `baseline:` (a run folder or dataset: {{name, input: [...]}})")
    names = [config["baseline"].get("name", "baseline")] + [v.get("name") for v in config.get("variants", [])]
    if None in names or len(set(names)) != len(names):
        raise RecipeError(f"{loaded.where('variants')}: every variant needs a unique `name` (got {names})")
    mode = config.get("mode", "scratch")
    if mode not in MODES:
        raise RecipeError(f"{loaded.where('mode')}: unknown mode {mode!r}; valid: {', '.join(MODES)}")
    if mode == "anneal":
        try:
            anneal.settings(config)
        except ValueError as error:
            raise RecipeError(f"{loaded.where('anneal')}: {error}") from None
    check_where(config, loaded)
    return config


# `<stage>__<signal>`, bare or "quoted"; string literals are blanked first, so 'a__b' is not a column
SIGNAL_COLUMN = re.compile(r'"([^"]*__[^"]*)"|\b([A-Za-z_][A-Za-z0-9_]*__[A-Za-z0-9_]+)\b')
SQL_STRING = re.compile(r"'(?:[^']|'')*'")


def where_columns(sql: str) -> list[str]:
    """The signal columns (`<stage>__<signal>`) a `where:` clause names."""
    return [quoted or bare for quoted, bare in SIGNAL_COLUMN.findall(SQL_STRING.sub("''", sql))]


def check_where(config: dict, loaded: YamlFile) -> None:
    """Each `where:` of the baseline and the variants may only name known signal columns."""
    known = {**DECISION_COLUMNS, **registry.all_columns()}
    entries = [(("baseline",), config["baseline"])]
    entries += [(("variants", i), v) for i, v in enumerate(config.get("variants") or [])]
    for keys, entry in entries:
        clause = entry.get("where") if isinstance(entry, dict) else None
        for column in where_columns(str(clause or "")):
            if column not in known:
                raise RecipeError(
                    f"{loaded.where(*keys, 'where')}: variant {entry.get('name')!r}: `where:` names {column!r}, "
                    f"which no registered stage records{registry.closest(column, known)}")


def build_variants(config: dict, log=print) -> tuple[dict[str, list[str]], list[str], dict]:
    """{variant: training documents}, held-out documents, decontamination report."""
    held_cfg = config["heldout"]
    held_all = data.read_documents(held_cfg["input"])
    heldout = held_all[:: held_cfg["every"]]  # every k-th document: spread over all the held-out sources
    base_cfg = config["baseline"]
    base_name = base_cfg.get("name", "baseline")
    sources = {base_name: data.read_documents(base_cfg["input"], base_cfg.get("where"))}
    for v in config.get("variants", []):
        if "input" in v or "where" in v:
            sources[v["name"]] = data.read_documents(v.get("input", base_cfg["input"]), v.get("where"))
    bench_files = [Path(config["eval"]["benchmarks"]) / FILES[t] for t in config["eval"]["tasks"]]
    contamination = {}
    for name, docs in sources.items():
        if config["decontaminate"]:
            sources[name], contamination[name] = decontaminate(docs, bench_files, heldout)
        else:  # still never train on the held-out documents themselves
            held = set(heldout)
            sources[name] = [d for d in docs if d not in held]
        limit = (base_cfg if name == base_name else _variant(config, name)).get("max_docs")
        if limit and len(sources[name]) > limit:  # a fixed random subset: a small, data-constrained pool
            sources[name] = random.Random(0).sample(sources[name], limit)
        log(f"ablation: {name}: {len(docs):,} documents, {len(sources[name]):,} after decontamination"
            + (f" (max_docs {limit})" if limit else ""))
    variants = {base_name: sources[base_name]}
    foreign = None
    for i, v in enumerate(config.get("variants", [])):
        name = v["name"]
        if "damage" in v:
            if v["damage"] == "foreign" and foreign is None:
                foreign = foreign_documents(config["foreign"])
            variants[name] = damage(variants[v.get("of", base_name)], v["damage"], v.get("fraction", 0.3),
                                    seed=1000 + i, foreign=foreign)
        elif "mix" in v:
            variants[name] = _mix({k: variants[k] for k in v["mix"]}, v["mix"], seed=1000 + i)
        elif name in sources:
            variants[name] = sources[name]
        else:
            raise RecipeError(f"variant {name!r}: give one of damage, where, input or mix")
    return variants, heldout, contamination


def _variant(config: dict, name: str) -> dict:
    return next(v for v in config.get("variants", []) if v.get("name") == name)


def _mix(parts: dict[str, list[str]], weights: dict[str, float], seed: int) -> list[str]:
    """Documents drawn from each part in proportion to its weight (by characters, a proxy for tokens)."""
    rng = random.Random(seed)
    total = sum(weights.values())
    size = min(sum(len(d) for d in docs) / (weights[k] / total) for k, docs in parts.items())
    out = []
    for k, docs in parts.items():
        budget, pool = size * weights[k] / total, docs[:]
        rng.shuffle(pool)
        for doc in pool:
            if budget <= 0:
                break
            out.append(doc)
            budget -= len(doc)
    return out


def run_ablation(config: dict, output: str | Path | None = None, log=print, progress=None) -> dict:
    """Build the variants, train every variant x seed, write the tables; `progress(done, total,
    phase, unit)` (curate.core.progress) hears of the preparation and of every training step."""
    progress = progress or (lambda *args, **kwargs: None)
    out = Path(output or config.get("output") or f"out/ablation_{config.get('name', 'run')}")
    out.mkdir(parents=True, exist_ok=True)
    # resuming is only sound into a folder made by the same config (as `curate run` refuses a different one)
    saved = out / "config.json"
    current = json.dumps({k: v for k, v in config.items() if k != "output"}, sort_keys=True, default=str)
    if saved.is_file() and saved.read_text() != current:
        raise RecipeError(f"{out} holds an ablation of a different config ({saved}); use a new --output")
    saved.write_text(current)
    cfg = TrainConfig(**config["train"])
    started = time.time()
    device, bf16, use_compile = resolve_device(cfg)
    log(f"ablation: {out} on {device} (bf16 {bf16}, compile {use_compile}, {cfg.threads} threads)")

    progress(0, None, "preparing data")
    variants, heldout, contamination = build_variants(config, log)

    # 2. one tokenizer for every variant, trained on a fixed sample of the baseline, saved with the run
    from curate.tools.tokenizer import load_tokenizer, train_tokenizer

    tok_path = out / "tokenizer.json"
    if tok_path.is_file():
        tokenizer = load_tokenizer(tok_path)
    else:
        base = next(iter(variants.values()))
        sample = random.Random(0).sample(base, min(len(base), config["tokenizer"]["sample_docs"]))
        tokenizer = train_tokenizer(sample, vocab_size=config["tokenizer"]["vocab_size"], output=tok_path)
    vocab = tokenizer.get_vocab_size()

    # 3. equal token budgets: each run reads `tokens` tokens (+1 for the last target); in anneal mode a
    # share of them are the variant's, the rest the reference's, and every run starts from one base model
    init = base_info = None
    if config.get("mode", "scratch") == "anneal":
        cfg, init, base_info, manifest = anneal.prepare(out, config, variants, tokenizer, log)
    else:
        manifest = {}
        for name, docs in variants.items():
            shard = out / "data" / f"{name}.bin"
            if not shard.is_file():
                tokens, info = data.sample_tokens(docs, tokenizer, cfg.tokens + 1, seed=0)
                data.write_shard(shard, tokens)
                (shard.with_suffix(".json")).write_text(json.dumps(info))
            manifest[name] = json.loads(shard.with_suffix(".json").read_text())
    for name in manifest:
        manifest[name]["decontamination"] = contamination.get(name)
    held_tokens, _ = data.sample_tokens(heldout, tokenizer, config["heldout"]["tokens"] + 1, seed=0)
    windows = heldout_windows(held_tokens, cfg.block_size, config["heldout"]["tokens"])
    ev = config["eval"]
    tasks = load_tasks(ev["benchmarks"], ev["tasks"], ev["max_items"]) if ev["tasks"] else {}

    # 4. every variant x seed; finished runs are skipped, interrupted ones resume from their checkpoint.
    # `workers` > 1 trains that many runs at once in separate processes (each with `threads` threads):
    # for models this small, two 1-thread runs beat one 2-thread run (docs/PERFORMANCE.md)
    jobs = [(out, name, seed, cfg, vocab, windows, tasks, init) for name in variants for seed in config["seeds"]
            if not (out / "runs" / name / f"seed{seed}" / "result.json").is_file()]
    workers = int(config.get("workers", 1))
    if jobs:
        progress(0, len(jobs), "training", "run")
    if workers > 1 and len(jobs) > 1:  # runs in other processes: progress run by run
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for done, message in enumerate(pool.imap_unordered(_train_and_evaluate, jobs), 1):
                log(message)
                progress(done, len(jobs), "training", "run")
    else:  # in this process: progress step by step, in fractions of a run
        for done, job in enumerate(jobs):
            log(_train_and_evaluate(job, lambda step, steps, d=done: progress(d + step / steps, len(jobs),
                                                                              "training", "run")))

    # 5. tables, plots, run log
    base_name = config["baseline"].get("name", "baseline")
    tables = report.write_tables(out, list(variants), config["seeds"], base_name, ev.get("bootstrap", 1000))
    model_params = _param_count(cfg, vocab)
    run_log = {"config": config, "train_config": asdict(cfg), "device": device, "bf16": bf16, "compile": use_compile,
               "model_params": model_params, "vocab_size": vocab, "git_commit": _git_commit(),
               "manifest": manifest, "heldout": {"docs": len(heldout), "windows": len(windows),
                                                 "tokens": int(windows.shape[0] * cfg.block_size)},
               "eval_items": {t: len(items) for t, items in tasks.items()}, "versions": _versions(),
               "mode": config.get("mode", "scratch"), "anneal": base_info,
               "seconds": round(time.time() - started, 1)}
    (out / "run.json").write_text(json.dumps(run_log, indent=1, default=str))
    log(report.render_summary(tables["summary"], base_name))
    return {"output": out, **tables, "run": run_log}


def _train_and_evaluate(job, progress=None) -> str:
    out, name, seed, cfg, vocab, windows, tasks, init = job
    from curate.tools.tokenizer import load_tokenizer

    folder = out / "runs" / name / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    shard = data.read_shard(out / "data" / f"{name}.bin")
    result = train(cfg, shard, vocab, seed, checkpoint=folder / "ckpt.pt", progress=progress, init=init)
    t0 = time.perf_counter()
    scores = evaluate(result.model, load_tokenizer(out / "tokenizer.json"), windows, tasks)
    np.savez(folder / "scores.npz", **scores)
    info = {"variant": name, "seed": seed, "tokens": result.steps * cfg.batch_size * cfg.block_size,
            "train_seconds": round(result.seconds, 2), "eval_seconds": round(time.perf_counter() - t0, 2),
            "tokens_per_second": round(result.tokens_per_second, 1), "curve": result.curve}
    (folder / "result.json").write_text(json.dumps(info))  # written last: its presence means "done"
    (folder / "ckpt.pt").unlink(missing_ok=True)  # the scores are kept; the weights are not needed
    return (f"ablation: {name} seed {seed}: held-out loss {scores['heldout_loss'].mean():.4f} "
            f"({info['tokens_per_second']:,.0f} tokens/s, {info['train_seconds']:.0f} s train, "
            f"{info['eval_seconds']:.0f} s eval)")


def _param_count(cfg: TrainConfig, vocab: int) -> int:
    from curate.ablation.model import GPT

    return GPT(cfg.model_config(vocab)).num_params()


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for package in ("torch", "tokenizers", "numpy", "duckdb", "pyarrow", "curate"):
        try:
            out[package] = md.version(package)
        except md.PackageNotFoundError:
            out[package] = None
    return out
