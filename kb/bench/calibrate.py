"""Calibrating the answers' confidence on evaluation sets, and measuring how well it is calibrated.

`kb bench calibrate DATASET...` fits the logistic model of kb/channels/answers.py (COEFFICIENTS)
on the sets given, all languages together with an intercept per language, prints cross-validated
figures per set and per threshold, and the coefficients to paste. `kb bench search` reports, for
kb, `answered_rate`, `answered_hit@1` and `ece` with the shipped coefficients through
`answer_metrics`.

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
from kb.channels.answers import COEFFICIENTS, DEFAULT_THRESHOLD, confidence, features
from kb.report.tally import wilson_interval
from kb.search.index import build_index
from kb.search.ranker import search

FEATURES = ("share", "margin", "log_words", "title_words")
BASE_LANGUAGE = "en"  # the intercept the others are offsets from (and the model of languages without data)
FLOOR_DRAWS = 200
BINS = 10
L2 = 1e-3
FOLDS = 5
PER_SET = 1500  # a larger set is sampled down to this many queries, so no set outweighs the others
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


@dataclass
class Row:
    """The top result of one query: the model's features, and whether it is a relevant article."""

    features: dict[str, float] | None  # None when the query found nothing
    right: bool
    language: str = BASE_LANGUAGE


def calibration_rows(ds: Dataset, index: dict | None = None, language: str = "en") -> list[Row]:
    """One Row per query of `ds`, ranked by our engine over the set's articles (in `language`)."""
    index = index if index is not None else build_index(ds.articles, language=language)
    rows = []
    for q in ds.queries:
        hits = search(index, q.query, limit=2)
        rows.append(Row(features(hits, 0, language) if hits else None, bool(hits) and hits[0].id in q.relevant,
                        language))
    return rows


def predict(weights: dict[str, float], x: dict[str, float] | None, names: tuple[str, ...] = FEATURES) -> float:
    """The model's probability for features `x` (0 for a query with no result)."""
    if x is None:
        return 0.0
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
    w = [0.0] * k
    for _ in range(iterations):
        grad = [l2 * wi for wi in w]
        hess = [[l2 if i == j else 0.0 for j in range(k)] for i in range(k)]
        for x, y in data:
            z = sum(a * b for a, b in zip(w, x))
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            for i in range(k):
                grad[i] += (p - y) * x[i]
                for j in range(k):
                    hess[i][j] += p * (1 - p) * x[i] * x[j]
        step = _solve(hess, grad)
        w = [a - b for a, b in zip(w, step)]
        if max(abs(s) for s in step) < 1e-9:
            break
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


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[pivot] = m[pivot], m[c]
        for r in range(n):
            if r != c and m[r][c]:
                f = m[r][c] / m[c][c]
                for cc in range(c, n + 1):
                    m[r][cc] -= f * m[c][cc]
    return [m[i][n] / m[i][i] for i in range(n)]


def answer_metrics(probabilities: list[float], right: list[bool], threshold: float) -> dict:
    """answered_rate, answered_hit@1 (top right when answered) with its 95% Wilson interval (where
    the precision of that many answers may truly lie), and ece (10 bins) of top-result confidences."""
    n = len(probabilities) or 1
    answered = [r for p, r in zip(probabilities, right) if p >= threshold]
    low, high = wilson_interval(sum(answered), len(answered))
    return {"answered_rate": round(len(answered) / n, 4),
            "answered_hit@1": round(sum(answered) / len(answered), 4) if answered else 0.0,
            "answered_hit@1_interval": [round(low, 4), round(high, 4)],
            "ece": round(ece(probabilities, right), 4)}


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
    """answer_metrics of the shipped model and default threshold on `queries` over `index`, and the
    `ece_floor` of those confidences."""
    probabilities, right = [], []
    for q in queries:
        hits = search(index, q.query, limit=2)
        probabilities.append(confidence(hits, 0, index.get("language")) if hits else 0.0)
        right.append(bool(hits) and hits[0].id in q.relevant)
    return {**answer_metrics(probabilities, right, DEFAULT_THRESHOLD), "ece_floor": ece_floor(probabilities)}


def calibrate(datasets: list[Dataset], log: Callable[[str], None], seed: int = 0,
              languages: dict[str, str] | None = None, splits: int = 1) -> dict:
    """Fit one model on all sets, with an intercept per language; cross-validated figures per set
    and threshold.

    `languages` maps a set's name to its language (default en). Every language shares the
    features' weights, which the larger sets determine, and a set of a hundred queries only moves
    its language's intercept. Returns {coefficients: {language: weights}, shipped,
    cross_validated: {set: {threshold: metrics}}, ece_floor: {set: value}}; with `splits` > 1
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
    table, floors = {}, {}
    for name in rows:
        table[name] = {f"{t:.2f}": answer_metrics(predicted[name], right[name], t) for t in THRESHOLDS}
        floors[name] = ece_floor(predicted[name])
    fitted = fit_logistic([row for r in training.values() for row in r], languages=others)
    coefficients = {code: {k: round(v, 4) for k, v in model.items()}
                    for code, model in per_language(fitted, others).items()}
    result = {"coefficients": coefficients, "shipped": COEFFICIENTS, "cross_validated": table, "ece_floor": floors}
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
                for t in THRESHOLDS:
                    figures[name][f"{t:.2f}"].append(answer_metrics(predicted[name], right[name], t))
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
    for key in ("answered_rate", "answered_hit@1", "ece"):
        values = [run[key] for run in runs]
        out[key] = round(sum(values) / len(values), 4)
        out[f"{key}_min"], out[f"{key}_max"] = min(values), max(values)
    return out


def format_calibration(result: dict) -> str:
    """The cross-validated table (Markdown), over several splits when there were, and the coefficients."""
    lines = ["| set | threshold | answered_rate | answered_hit@1 | 95% interval | ece | ece floor |",
             "|---|---|---|---|---|---|---|"]
    for name, by_threshold in result["cross_validated"].items():
        for t, m in by_threshold.items():
            low, high = m["answered_hit@1_interval"]
            lines.append(f"| {name} | {t} | {m['answered_rate']:.3f} | {m['answered_hit@1']:.3f} "
                         f"| {low:.2f}-{high:.2f} | {m['ece']:.3f} | {result['ece_floor'][name]:.3f} |")
    lines += ["", "ece floor: the ECE a perfectly calibrated model with the same confidences shows on average "
                  "on that many queries (below it, a set cannot measure calibration). 95% interval: where "
                  "answered_hit@1 may truly lie, given how many queries were answered.", ""]
    if "splits" in result:
        count = next(iter(next(iter(result["splits"].values())).values()))["splits"]
        lines += [f"Over {count} splits into {FOLDS} folds (mean, lowest-highest):", "",
                  "| set | threshold | answered_rate | answered_hit@1 | ece |", "|---|---|---|---|---|"]
        for name, by_threshold in result["splits"].items():
            for t, m in by_threshold.items():
                lines.append(f"| {name} | {t} | " + " | ".join(
                    f"{m[k]:.3f} ({m[k + '_min']:.3f}-{m[k + '_max']:.3f})"
                    for k in ("answered_rate", "answered_hit@1", "ece")) + " |")
        lines.append("")
    lines.append("COEFFICIENTS = " + repr(result["coefficients"]))
    return "\n".join(lines)
