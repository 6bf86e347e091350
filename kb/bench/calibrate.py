"""Calibrating the browser engine's confidence on evaluation sets, and measuring how well it is calibrated.

`kb bench calibrate DATASET...` fits the logistic model of kb/search/confidence.py (COEFFICIENTS)
on the sets given, in-scope and out-of-scope queries together (a query with no relevant article
is one the help center does not answer: its top result is never right), all languages together
with an intercept per language. It prints cross-validated figures per set and per threshold, the
threshold at which the site's "no good answer" decision is right most often, and the coefficients
to paste. `kb bench search` reports, for the `kb` engine, `answered_rate`, `answered_hit@1`,
`oos_answered` and `ece` with the shipped model through `answer_metrics`.

`ece` measured on a few hundred queries is mostly noise: `ece_floor` is the ECE a perfectly
calibrated model with the same confidences would show on average (its labels drawn from its own
probabilities), the level below which a set cannot tell calibration errors apart. For the same
reason `answered_hit@1` carries its 95% Wilson interval, and `splits` > 1 repeats the
cross-validation over other random splits into folds, so a small set's figures show how much of
them is the luck of one split.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable

from kb.bench.datasets import Dataset, Query
import numpy as np

from kb.report.tally import wilson_interval
from kb.search.confidence import (BASE_LANGUAGE, COEFFICIENTS, CUT, FEATURES, THRESHOLD, confidence, features,
                                  model_of, probability)
from kb.search.index import build_index
from kb.search.ranker import search

FLOOR_DRAWS = 200
BINS = 10
L2 = 1e-3
FOLDS = 5
PER_SET = 1500  # a larger set is sampled down to this many queries, so no set outweighs the others
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9)
LIST = 20  # results the site lists at most (kb/assets/search/worker.js RESULT_LIMIT)
CUTS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7)
DECISION_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(2, 19))  # 0.10 ... 0.90, for choosing


@dataclass
class Row:
    """The top result of one query: the model's features, and whether it is a relevant article."""

    features: dict[str, float] | None  # None when the query found nothing
    right: bool
    language: str = BASE_LANGUAGE
    in_scope: bool = True  # False: the help center does not answer the query (no relevant article)
    scores: tuple[float, ...] = ()  # each result's score over the top one's, first LIST results
    relevant_at: int | None = None  # where the first relevant article is among them


def calibration_rows(ds: Dataset, index: dict | None = None, language: str = "en") -> list[Row]:
    """One Row per query of `ds`, ranked by our engine over the set's articles (in `language`)."""
    index = index if index is not None else build_index(ds.articles, language=language)
    rows = []
    for q in ds.queries:
        hits = search(index, q.query, limit=LIST)
        at = next((i for i, h in enumerate(hits) if h.id in q.relevant), None)
        rows.append(Row(features(hits, 0, language) if hits else None, bool(hits) and hits[0].id in q.relevant,
                        language, bool(q.relevant), tuple(h.score / hits[0].score for h in hits), at))
    return rows


def cut_table(rows: dict[str, list[Row]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per set and cut: the share of relevant articles found in the first LIST results that a list
    stopping below `cut` x the top score keeps, and how long such lists are on average."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for name, r in rows.items():
        found = [row for row in r if row.relevant_at is not None]
        table[name] = {}
        for cut in CUTS:
            kept = sum(1 for row in found if row.scores[row.relevant_at] >= cut)
            length = sum(sum(1 for x in row.scores if x >= cut) for row in r) / (len(r) or 1)
            table[name][f"{cut:.1f}"] = {"kept": round(kept / (len(found) or 1), 4), "length": round(length, 2)}
    return table


def predict(weights: dict[str, float], x: dict[str, float] | None, names: tuple[str, ...] = FEATURES) -> float:
    """The model's probability for features `x` over the features `names` (0 for a query with no result)."""
    if x is None:
        return 0.0
    if names == FEATURES:
        return probability(weights, x)  # the browser's model, summed as the worker sums it
    z = weights["intercept"] + sum(weights[name] * x[name] for name in names)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def fit_logistic(rows: list[Row], l2: float = L2, iterations: int = 30,
                 languages: tuple[str, ...] = (), names: tuple[str, ...] = FEATURES) -> dict[str, float]:
    """Logistic regression on rows with results, by Newton's method with a small L2 penalty.

    `languages`: those (other than the base language) that get an intercept offset of their own,
    returned as `offset:<code>`; `names`: the features (of each row's `features`) to fit on.
    """
    data = [([1.0] + [r.features[n] for n in names] + [1.0 if r.language == code else 0.0 for code in languages],
             1.0 if r.right else 0.0) for r in rows if r.features]
    k = len(names) + 1 + len(languages)
    x = np.array([d[0] for d in data], dtype=float).reshape(len(data), k)
    y = np.array([d[1] for d in data], dtype=float)
    w = np.zeros(k)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30.0, 30.0)))
        grad = x.T @ (p - y) + l2 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(k)
        step = np.linalg.solve(hess, grad)
        w = w - step
        if np.abs(step).max() < 1e-9:
            break
    w = w.tolist()
    return {"intercept": w[0], **{name: w[i + 1] for i, name in enumerate(names)},
            **{f"offset:{code}": w[len(names) + 1 + i] for i, code in enumerate(languages)}}


def per_language(fitted: dict[str, float], languages: tuple[str, ...],
                 names: tuple[str, ...] = FEATURES) -> dict[str, dict[str, float]]:
    """One model per language from a fit with offsets: the shared weights, each language's intercept."""
    shared = {name: fitted[name] for name in names}
    models = {BASE_LANGUAGE: {"intercept": fitted["intercept"], **shared}}
    for code in languages:
        models[code] = {"intercept": fitted["intercept"] + fitted[f"offset:{code}"], **shared}
    return models


def answer_metrics(probabilities: list[float], right: list[bool], threshold: float,
                   out_of_scope: list[bool] | None = None) -> dict:
    """answered_rate, answered_hit@1 (top right when answered) with its 95% Wilson interval (where
    the precision of that many answers may truly lie), and ece (10 bins) of top-result confidences.

    With `out_of_scope` (True for a query the help center does not answer), answered_rate and
    answered_hit@1 are of the in-scope queries, `oos_answered` is the share of the out-of-scope
    ones answered and `answered_precision` the share of all answers that were right; ece is of all.
    """
    scope = out_of_scope or [False] * len(probabilities)
    inside = [(p, r) for p, r, oos in zip(probabilities, right, scope) if not oos]
    n = len(inside) or 1
    answered = [r for p, r in inside if p >= threshold]
    low, high = wilson_interval(sum(answered), len(answered))
    out = {"answered_rate": round(len(answered) / n, 4),
           "answered_hit@1": round(sum(answered) / len(answered), 4) if answered else 0.0,
           "answered_hit@1_interval": [round(low, 4), round(high, 4)],
           "ece": round(ece(probabilities, right), 4)}
    if out_of_scope is not None and any(out_of_scope):
        outside = [p for p, oos in zip(probabilities, scope) if oos]
        wrong = sum(1 for p in outside if p >= threshold)
        out["oos_answered"] = round(wrong / len(outside), 4)
        total = len(answered) + wrong
        out["answered_precision"] = round(sum(answered) / total, 4) if total else 0.0
    return out


def decision_accuracy(probabilities: list[float], right: list[bool], threshold: float) -> float:
    """How often the site's decision is right at `threshold`: a confident answer whose top result
    is right, or "no good answer" where it is not."""
    return sum((p >= threshold) == bool(r) for p, r in zip(probabilities, right)) / (len(right) or 1)


def choose_threshold(predicted: dict[str, list[float]], right: dict[str, list[bool]]) -> tuple[float, dict]:
    """The threshold of DECISION_THRESHOLDS whose decision is right most often, each set counting
    alike (the lowest of equals), and the mean decision accuracy at each."""
    table = {t: sum(decision_accuracy(predicted[name], right[name], t) for name in predicted) / len(predicted)
             for t in DECISION_THRESHOLDS}
    best = max(table.values())
    return min(t for t, v in table.items() if v == best), {f"{t:.2f}": round(v, 4) for t, v in table.items()}


def ece(probabilities: list[float], right: list[bool]) -> float:
    """Expected calibration error in BINS equal-width bins: sum over bins of share x |mean p - accuracy|."""
    n = len(probabilities) or 1
    sums = [[0, 0.0, 0] for _ in range(BINS)]  # members, sum of p, right
    for p, r in zip(probabilities, right):
        at = min(BINS - 1, max(0, int(p * BINS)))
        while at > 0 and p < at / BINS:  # the bin whose [b/BINS, (b+1)/BINS) holds p, exactly
            at -= 1
        while at < BINS - 1 and p >= (at + 1) / BINS:
            at += 1
        b = sums[at]
        b[0] += 1
        b[1] += p
        b[2] += bool(r)
    return sum(abs(total - hits) / n for members, total, hits in sums if members)


def ece_floor(probabilities: list[float], draws: int = FLOOR_DRAWS, seed: int = 0) -> float:
    """The mean ECE of a perfectly calibrated model with these confidences: labels drawn from them."""
    rng = random.Random(seed)
    return round(sum(ece(probabilities, [rng.random() < p for p in probabilities]) for _ in range(draws)) / draws, 4)


def shipped_metrics(index: dict, queries: list[Query]) -> dict[str, float]:
    """answer_metrics of the model and threshold shipped with `index` on `queries` (the browser
    engine's, what the site's "no good answer" state follows), and the `ece_floor` of those
    confidences. Out-of-scope queries (no relevant article) give `oos_answered` too."""
    probabilities, right = [], []
    for q in queries:
        hits = search(index, q.query, limit=2)
        probabilities.append(confidence(hits, 0, index) if hits else 0.0)
        right.append(bool(hits) and hits[0].id in q.relevant)
    return {**answer_metrics(probabilities, right, model_of(index)["threshold"], [not q.relevant for q in queries]),
            "ece_floor": ece_floor(probabilities)}


def calibrate(datasets: list[Dataset], log: Callable[[str], None], seed: int = 0,
              languages: dict[str, str] | None = None, splits: int = 1) -> dict:
    """Fit one model on all sets, with an intercept per language; cross-validated figures per set
    and threshold.

    `languages` maps a set's name to its language (default en). Every language shares the
    features' weights, which the larger sets determine, and a set of a hundred queries only moves
    its language's intercept. Returns {coefficients: {language: weights}, shipped, threshold (see
    choose_threshold), decisions: {threshold: mean decision accuracy}, cross_validated: {set:
    {threshold: metrics}}, ece_floor: {set: value}}; with `splits` > 1
    also splits: {set: {threshold: the mean and range of each figure over that many splits}}, the
    first split being the one of cross_validated (query i in fold i mod 5), the others random.
    """
    language_of = {ds.name: (languages or {}).get(ds.name, BASE_LANGUAGE) for ds in datasets}
    others = tuple(sorted(set(language_of.values()) - {BASE_LANGUAGE}))
    rows = {}
    for ds in datasets:
        log(f"{ds.name}: ranking {len(ds.queries)} queries ({language_of[ds.name]})")
        rows[ds.name] = calibration_rows(ds, language=language_of[ds.name])
    rng = random.Random(seed)
    training = {name: (rng.sample(r, PER_SET) if len(r) > PER_SET else r) for name, r in rows.items()}
    # the first split: query i in fold i mod FOLDS; the others shuffle each set's queries first
    fold_of = {id(row): i % FOLDS for r in rows.values() for i, row in enumerate(r)}
    predicted = _cross_validated(rows, training, fold_of, others)
    right = {name: [row.right for row in r] for name, r in rows.items()}
    outside = {name: [not row.in_scope for row in r] for name, r in rows.items()}
    threshold, decisions = choose_threshold(predicted, right)
    table, floors = {}, {}
    for name in rows:
        table[name] = {f"{t:.2f}": answer_metrics(predicted[name], right[name], t, outside[name])
                       for t in sorted({*THRESHOLDS, threshold})}
        floors[name] = ece_floor(predicted[name])
    fitted = fit_logistic([row for r in training.values() for row in r], languages=others)
    coefficients = {code: {k: round(v, 4) for k, v in model.items()}
                    for code, model in per_language(fitted, others).items()}
    result = {"coefficients": coefficients, "shipped": COEFFICIENTS, "threshold": threshold,
              "shipped_threshold": THRESHOLD, "decisions": decisions, "cross_validated": table, "ece_floor": floors,
              "cut": cut_table(rows), "shipped_cut": CUT}
    if splits > 1:
        figures = {name: {t: [by_threshold[t]] for t in by_threshold} for name, by_threshold in table.items()}
        shuffle = random.Random(seed + 1)
        for split in range(1, splits):
            log(f"cross-validating split {split + 1} of {splits}")
            fold_of = {}
            for r in rows.values():
                order = list(range(len(r)))
                shuffle.shuffle(order)
                fold_of.update({id(r[i]): place % FOLDS for place, i in enumerate(order)})
            predicted = _cross_validated(rows, training, fold_of, others)
            for name in rows:
                for t in figures[name]:
                    figures[name][t].append(answer_metrics(predicted[name], right[name], float(t), outside[name]))
        result["splits"] = {name: {t: _spread(runs) for t, runs in by_threshold.items()}
                            for name, by_threshold in figures.items()}
    return result


def _cross_validated(rows: dict[str, list[Row]], training: dict[str, list[Row]], fold_of: dict[int, int],
                     others: tuple[str, ...]) -> dict[str, list[float]]:
    """Each row's probability from the model fitted on the other folds: no model sees what it predicts."""
    predicted: dict[str, list[float]] = {name: [0.0] * len(r) for name, r in rows.items()}
    for fold in range(FOLDS):
        fitted = fit_logistic([row for r in training.values() for row in r if fold_of[id(row)] != fold],
                              languages=others)
        models = per_language(fitted, others)
        for name, r in rows.items():
            for i, row in enumerate(r):
                if fold_of[id(row)] == fold:
                    predicted[name][i] = predict(models[row.language], row.features)
    return predicted


def _spread(runs: list[dict[str, float]]) -> dict[str, float]:
    """Mean, lowest and highest of each figure over the splits' runs."""
    out: dict[str, float] = {"splits": len(runs)}
    for key in ("answered_rate", "answered_hit@1", "oos_answered", "ece"):
        if key not in runs[0]:
            continue
        values = [run[key] for run in runs]
        out[key] = round(sum(values) / len(values), 4)
        out[f"{key}_min"], out[f"{key}_max"] = min(values), max(values)
    return out


def format_calibration(result: dict) -> str:
    """The cross-validated table (Markdown), over several splits when there were, the threshold
    chosen and the coefficients."""
    lines = ["| set | threshold | answered_rate | answered_hit@1 | 95% interval | oos_answered | precision | ece "
             "| ece floor |", "|---|---|---|---|---|---|---|---|---|"]
    for name, by_threshold in result["cross_validated"].items():
        for t, m in by_threshold.items():
            low, high = m["answered_hit@1_interval"]
            oos = f"{m['oos_answered']:.3f} | {m['answered_precision']:.3f}" if "oos_answered" in m else "- | -"
            lines.append(f"| {name} | {t} | {m['answered_rate']:.3f} | {m['answered_hit@1']:.3f} "
                         f"| {low:.2f}-{high:.2f} | {oos} | {m['ece']:.3f} | {result['ece_floor'][name]:.3f} |")
    lines += ["", "answered_rate and answered_hit@1: of the in-scope queries; oos_answered: the share of "
                  "out-of-scope queries answered; precision: the share of all answers that were right. ece floor: "
                  "the ECE a perfectly calibrated model with the same confidences shows on average on that many "
                  "queries (below it, a set cannot measure calibration). 95% interval: where answered_hit@1 may "
                  "truly lie, given how many queries were answered.", ""]
    if "splits" in result:
        count = next(iter(next(iter(result["splits"].values())).values()))["splits"]
        keys = ("answered_rate", "answered_hit@1", "oos_answered", "ece")
        lines += [f"Over {count} splits into {FOLDS} folds (mean, lowest-highest):", "",
                  "| set | threshold | " + " | ".join(keys) + " |", "|---|---|---|---|---|---|"]
        for name, by_threshold in result["splits"].items():
            for t, m in by_threshold.items():
                lines.append(f"| {name} | {t} | " + " | ".join(
                    f"{m[k]:.3f} ({m[k + '_min']:.3f}-{m[k + '_max']:.3f})" if k in m else "-" for k in keys) + " |")
        lines.append("")
    lines += ["How often the site's decision is right (a confident answer whose top result is right, or \"no good "
              "answer\" where it is not), cross-validated, the mean over the sets:", "",
              "| threshold | " + " | ".join(result["decisions"]) + " |",
              "|---|" + "---|" * len(result["decisions"]),
              "| decisions right | " + " | ".join(f"{v:.3f}" for v in result["decisions"].values()) + " |", "",
              "Where the list of results stops: the share of relevant articles found in the first "
              f"{LIST} results that a list cut below that share of the top score keeps, and its mean length:", "",
              "| set | " + " | ".join(f"cut {c}" for c in next(iter(result["cut"].values()))) + " |",
              "|---|" + "---|" * len(CUTS),
              *[f"| {name} | " + " | ".join(f"{m['kept']:.3f} ({m['length']:.1f})" for m in by_cut.values()) + " |"
                for name, by_cut in result["cut"].items()], "",
              f"CUT = {result['shipped_cut']}  (shipped)",
              f"THRESHOLD = {result['threshold']}  (right most often; shipped: {result['shipped_threshold']})",
              "COEFFICIENTS = " + repr(result["coefficients"])]
    return "\n".join(lines)
