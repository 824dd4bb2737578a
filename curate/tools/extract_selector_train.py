"""Train the `extract` selector (filters/select_extract.py) on the tuning split of gold page sets.

    python -m curate.tools.extract_selector_train ../shared/data/html_gold/wcxb_dev/wcxb_dev.tar.xz \\
        ../shared/data/html_gold/cleaning_sets/cleaning_sets.tar.xz --out filters/data/extract_selector.json.gz

Every page of every set is run through the seven candidates (resiliparse's three texts, the repeated
region, the visible lines, trafilatura's two settings) and scored with WCXB's word-F1 against its
gold text. Only pages of the tuning split (even page numbers, `curate.tools.evaluate_extract.is_heldout`)
fit the models; every set counts the same in the fit, however many pages it has, so the small
news-portal sets are not drowned by WCXB. First the line model (scikit-learn's
`HistGradientBoostingClassifier`, scikit-learn from the `[dev]` extra; filters/visible_lines.py): a
visible line is labelled content where the gold text holds at least half its word pairs; a tuning
page's lines are scored by a model fitted without its fold (`LINE_FOLDS`), so that the selector
learns how good the lines text is on pages the line model has not seen, a held-out page's by the
model fitted on every tuning page, which is shipped. Then the selector's models
(`HistGradientBoostingRegressor`): `f1:<candidate>` predicts each candidate's F1 from page features;
`gain` predicts what the chosen trafilatura setting adds over the chosen cheap text; `keep` predicts
the same once trafilatura's text and its agreement with resiliparse's are known; each is the mean of
`BAGS` fits on seeded subsets of the tuning pages (bagging: better on every set's held-out split and in
cross-validation than one fit, which follows the few pages of the small sets too closely). `gate` is the
predicted gain above which trafilatura runs, set so that it runs on `--max-share` of the tuning
pages. The card written into the file holds the held-out F1 of the selector and of each candidate,
per set.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import pickle
import re
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from curate.filters.select_extract import CHEAP, VARIANT_NAMES, page_parts, trafilatura_text, with_lines
from curate.filters.selector_model import Forest, agreement_features
from curate.filters.visible_lines import FEATURES as LINE_FEATURES
from curate.tools.evaluate_extract import is_heldout, load_sets, word_prf

CANDIDATES = CHEAP + VARIANT_NAMES
TREES = dict(max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20, random_state=0)
BAGS, BAG_SHARE = 5, 0.8  # each selector model averages BAGS fits, each on a seeded BAG_SHARE of the tuning pages
LINE_TREES = dict(max_iter=200, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=40, random_state=0)
LINE_THRESHOLD = 0.4  # a line is kept where the line model's probability is over this
LINE_FOLDS = 5
WORD = re.compile(r"\w+")


def line_labels(lines: list[str], gold: str) -> np.ndarray:
    """Content (True) where the gold text holds at least half of a line's word pairs (its word, for one word)."""
    gold_words = WORD.findall(gold.lower())
    words, pairs = set(gold_words), set(zip(gold_words, gold_words[1:]))
    out = []
    for line in lines:
        w = WORD.findall(line.lower())
        out.append(sum(p in pairs for p in zip(w, w[1:])) >= (len(w) - 1) / 2 if len(w) >= 2 else bool(w) and w[0] in words)
    return np.array(out, dtype=bool)


def page_row(args: tuple[str, dict]) -> dict:
    """One page's cheap parts (filters/select_extract.page_parts), line labels, the F1 of every candidate but
    the visible lines (which wait for the line model) and agreement features, for fitting."""
    set_name, page = args
    parts = page_parts(page["html"])
    traf = [trafilatura_text(page["html"], v) for v in range(len(VARIANT_NAMES))]
    f1 = {name: word_prf(text, page["gold"])[2] for name, text in parts["texts"].items()}
    f1 |= {name: word_prf(traf[v], page["gold"])[2] for v, name in enumerate(VARIANT_NAMES)}
    agree = [agreement_features(parts["texts"]["resiliparse_dedup"], traf[v], v) for v in range(len(VARIANT_NAMES))]
    return {"set": set_name, "id": page["id"], "type": page["type"], "heldout": is_heldout(page["id"]),
            "parts": parts, "line_labels": line_labels(parts["lines"], page["gold"]), "gold": page["gold"],
            "agree": agree, "f1": f1}


def collect_pages(paths: list[Path], processes: int = 2, limit: int | None = None) -> list[dict]:
    """Rows of `page_row` for every page of every set (at most `limit` per set)."""
    jobs = [(name, page) for path in paths for name, pages in load_sets(path, limit).items() for page in pages]
    if processes == 1:
        return [page_row(job) for job in jobs]
    with Pool(processes) as pool:
        return pool.map(page_row, jobs, chunksize=8)


def fit_lines(rows: list[dict], train: np.ndarray) -> tuple[dict, object]:
    """The line model fitted on the lines of the `train` pages (each set weighs the same, a line by its words)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    pages = [r for r, t in zip(rows, train) if t and len(r["parts"]["lines"])]
    per_set = {s: sum(r["set"] == s for r in pages) for s in {r["set"] for r in pages}}
    X = np.vstack([r["parts"]["line_features"] for r in pages])
    y = np.concatenate([r["line_labels"] for r in pages])
    weight = np.concatenate([np.expm1(r["parts"]["line_features"][:, 0]) / per_set[r["set"]] for r in pages])
    model = HistGradientBoostingClassifier(**LINE_TREES).fit(X, y, sample_weight=weight)
    return export(model, list(LINE_FEATURES)), model


def complete(rows: list[dict], seed: int = 0) -> tuple[list[dict], dict]:
    """Rows ready for `fit` (features and the F1 of the visible lines), and the shipped line model's spec.

    A tuning page's lines are scored by the line model fitted on the other `LINE_FOLDS` - 1 folds of the
    tuning split, a held-out page's by the one fitted on the whole tuning split."""
    tuning = np.flatnonzero([not r["heldout"] for r in rows])
    scores: dict[int, np.ndarray] = {}
    folds = np.array_split(np.random.default_rng(seed).permutation(tuning), LINE_FOLDS)
    for held in [*folds, None]:
        train = np.zeros(len(rows), dtype=bool)
        train[np.setdiff1d(tuning, held) if held is not None else tuning] = True
        spec, model = fit_lines(rows, train)
        forest = Forest(spec)
        targets = held if held is not None else np.flatnonzero([r["heldout"] for r in rows])
        for i in targets:
            X = rows[i]["parts"]["line_features"]
            scores[i] = forest.predict_rows(X)
            if len(X):  # the exported trees must score as scikit-learn does
                assert np.allclose(scores[i], model.decision_function(X), atol=1e-6)
    threshold = math.log(LINE_THRESHOLD / (1 - LINE_THRESHOLD))
    out = []
    for i, r in enumerate(rows):
        texts, features = with_lines(r["parts"], scores[i], threshold)
        out.append({k: v for k, v in r.items() if k not in ("parts", "line_labels", "gold")}
                   | {"features": features, "f1": r["f1"] | {"lines": word_prf(texts["lines"], r["gold"])[2]}})
    return out, {"model": spec, "threshold": threshold}


def export(model, names: list[str]) -> dict:
    """A fitted regressor (or binary classifier: its log-odds) as plain lists (filters/selector_model.Forest reads them)."""
    trees = []
    for (tree,) in model._predictors:
        nodes = tree.nodes
        trees.append({"feature": nodes["feature_idx"].tolist(), "threshold": nodes["num_threshold"].tolist(),
                      "left": nodes["left"].tolist(), "right": nodes["right"].tolist(),
                      "value": nodes["value"].tolist(), "leaf": nodes["is_leaf"].astype(bool).tolist()})
    depth = max(int(t.nodes["depth"].max()) for (t,) in model._predictors) + 1
    return {"features": names, "baseline": float(np.ravel(model._baseline_prediction)[0]), "trees": trees, "depth": depth}


def bag_spec(models: list, names: list[str]) -> dict:
    """Several regressors fitted on the same features as one exported model that predicts their mean."""
    specs = [export(model, names) for model in models]
    # leaf values to 7 significant digits: the mean moves by less than 1e-7, the file is a third smaller
    trees = [tree | {"value": [float(f"{v / len(specs):.7g}") for v in tree["value"]]}
             for spec in specs for tree in spec["trees"]]
    return {"features": names, "baseline": float(np.mean([spec["baseline"] for spec in specs])), "trees": trees,
            "depth": max(spec["depth"] for spec in specs)}


def fit(rows: list[dict], max_share: float, train: np.ndarray | None = None, check: bool = True) -> tuple[dict, dict]:
    """(models as exported specs, per-page decisions) fitted on the `train` rows (default: the tuning
    split); `check` asserts that the exported trees predict what scikit-learn does.

    Each model is the mean of `BAGS` fits, each on its own seeded `BAG_SHARE` of the train rows: a single
    fit follows the few pages of the small sets (a CleanPortalEval page weighs as 20 WCXB pages) too
    closely, and the mean chose better on every set's held-out split and in cross-validation."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    page_names = sorted(rows[0]["features"])
    full_names = page_names + sorted(rows[0]["agree"][0])
    X = np.array([[r["features"][k] for k in page_names] for r in rows])
    Y = np.array([[r["f1"][c] for c in CANDIDATES] for r in rows])
    train = np.array([not r["heldout"] for r in rows]) if train is None else train
    sets = [r["set"] for r in rows]
    per_set = {s: sum(1 for r, t in zip(rows, train) if t and r["set"] == s) for s in set(sets)}
    weight = np.array([train.sum() / len(per_set) / per_set[s] for s, t in zip(sets, train) if t])
    fitted, specs = {}, {}

    rows_in = np.flatnonzero(train)
    bags = [np.sort(np.random.default_rng(seed).choice(len(rows_in), int(BAG_SHARE * len(rows_in)), replace=False))
            for seed in range(BAGS)]

    def regress(name, features, target, names):
        models = [HistGradientBoostingRegressor(**TREES).fit(features[rows_in[bag]], target[rows_in[bag]],
                                                             sample_weight=weight[bag]) for bag in bags]
        fitted[name], specs[name] = models, bag_spec(models, names)
        return np.mean([model.predict(features) for model in models], axis=0)

    pred = np.stack([regress(f"f1:{c}", X, Y[:, j], page_names) for j, c in enumerate(CANDIDATES)], 1)
    cheap = pred[:, :len(CHEAP)].argmax(1)
    variant = pred[:, len(CHEAP):].argmax(1)
    rows_at = np.arange(len(rows))
    gain = Y[rows_at, len(CHEAP) + variant] - Y[rows_at, cheap]
    predicted_gain = regress("gain", X, gain, page_names)
    XF = np.array([[r["features"][k] for k in page_names] + [r["agree"][v][k] for k in full_names[len(page_names):]]
                   for r, v in zip(rows, variant)])
    margin = regress("keep", XF, gain, full_names)
    gate = float(np.quantile(predicted_gain[train], 1 - max_share))
    stacked = Forest.stack({k: v for k, v in specs.items() if k != "keep"}) if check else None
    for name, model in fitted.items() if check else ():  # the exported trees must predict what scikit-learn does
        features = XF if name == "keep" else X
        sample = features[:: max(1, len(features) // 50)]
        ours = [Forest(specs[name]).predict(dict(zip(specs[name]["features"], x))) for x in sample]
        if name != "keep":  # and so must the stacked walk the stage uses
            ours_stacked = [stacked.predict_all(dict(zip(specs[name]["features"], x)))[name] for x in sample]
            assert np.allclose(ours_stacked, ours, atol=1e-6), name
        assert np.allclose(ours, np.mean([m.predict(sample) for m in model], axis=0), atol=1e-6), name
    ran = predicted_gain > gate
    nonempty = np.array([r["agree"][v]["t_words"] > 0 for r, v in zip(rows, variant)])  # as the stage: an empty text is not kept
    choice = np.where(ran & (margin > 0) & nonempty, len(CHEAP) + variant, cheap)
    return {"gate": gate, "models": specs}, {"f1": Y[rows_at, choice], "ran": ran, "Y": Y, "choice": choice}


def card(rows: list[dict], decisions: dict) -> dict:
    """Per set and split: pages, the selector's F1, each candidate's, the per-page oracle, trafilatura's share."""
    out = {}
    for s in dict.fromkeys(r["set"] for r in rows):
        for split in ("tuning", "heldout"):
            idx = [i for i, r in enumerate(rows) if r["set"] == s and r["heldout"] == (split == "heldout")]
            if not idx:
                continue
            Y = decisions["Y"][idx]
            out[f"{s}/{split}"] = {"pages": len(idx), "selector": round(float(decisions["f1"][idx].mean()), 4),
                                   "oracle": round(float(Y.max(1).mean()), 4),
                                   "trafilatura_share": round(float(decisions["ran"][idx].mean()), 3)} | {
                c: round(float(Y[:, j].mean()), 4) for j, c in enumerate(CANDIDATES)}
    return out


def cross_validate(rows: list[dict], max_share: float, folds: int = 5, seed: int = 0) -> dict:
    """The selector's F1 per set on the tuning split, each page chosen by models fitted without it
    (`folds`-fold, seeded): what the tuning split predicts of unseen pages, without touching the
    held-out split. The card's tuning figures are in-sample and so read high."""
    tuning = np.flatnonzero([not r["heldout"] for r in rows])
    chosen = np.zeros(len(rows))
    for fold in np.array_split(np.random.default_rng(seed).permutation(tuning), folds):
        train = np.zeros(len(rows), dtype=bool)
        train[np.setdiff1d(tuning, fold)] = True
        chosen[fold] = fit(rows, max_share, train, check=False)[1]["f1"][fold]
    sets = dict.fromkeys(rows[i]["set"] for i in tuning)
    return {s: round(float(np.mean([chosen[i] for i in tuning if rows[i]["set"] == s])), 4) for s in sets}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gold", nargs="+", type=Path, help="gold sets in WCXB layout (folders or archives)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[2] / "filters/data/extract_selector.json.gz")
    parser.add_argument("--max-share", type=float, default=0.10, help="share of tuning pages that run trafilatura")
    parser.add_argument("--cache", type=Path, help="pickle of the candidate runs, reused when present")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--cv", type=int, default=0, metavar="K",
                        help="also report K-fold cross-validated F1 per set on the tuning split")
    args = parser.parse_args(argv)
    if args.cache and args.cache.exists():
        pages = pickle.loads(args.cache.read_bytes())
    else:
        pages = collect_pages(args.gold, args.processes)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(pages))
    rows, lines = complete(pages)
    del pages
    spec, decisions = fit(rows, args.max_share)
    spec["models"]["lines"] = lines["model"]
    spec |= {"lines_threshold": lines["threshold"], "line_trees": LINE_TREES, "candidates": list(CANDIDATES),
             "card": card(rows, decisions), "trained_on": [p.name for p in args.gold], "trees": TREES,
             "bags": {"fits": BAGS, "share": BAG_SHARE}, "max_share": args.max_share}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt") as f:
        json.dump(spec, f, separators=(",", ":"))
    if args.cv:
        spec["card"]["cross_validated"] = {"folds": args.cv, "selector": cross_validate(rows, args.max_share, args.cv)}
    for key, row in spec["card"].items():
        print(key, json.dumps(row))
    print(json.dumps({"gate": round(spec["gate"], 4), "out": str(args.out), "bytes": args.out.stat().st_size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
