"""Choosing the FAQ fusion weights by cross-validation over entries, and measuring each signal.

Every alternate of every entry is searched with itself held out of the index, and each signal's
score of every entry is kept (`collect_signals`). The weights are then chosen on a grid (steps of
0.1, summing to 1) by 5-fold cross-validation over *entries*: the weights that give the best
MRR on the alternates of four fifths of the entries are scored on the alternates of the fifth
never seen while choosing. The cross-validated figure is the honest one; the weights chosen on
all entries are what `bot.faq.index.FUSION_WEIGHTS` should hold.

    signals = collect_signals(index)
    report = tune(signals, ["tfidf", "words", "chars", "synonyms", "intent"])
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bot.faq.index import FaqIndex

GRID_STEP = 0.1
FOLDS = 5
SEED = 7
DEPTH = 10


@dataclass(frozen=True, slots=True)
class Signals:
    """scores[name] is queries x entries; target[q] the entry of query q."""

    scores: dict[str, np.ndarray]
    target: np.ndarray


def collect_signals(index: FaqIndex) -> Signals:
    """Every signal's score of every entry for every alternate, held out of the index."""
    from bot.faq.index import _BLANKS
    from bot.nlu.normalize import normalize
    from bot.text import fill

    rows: dict[str, list[np.ndarray]] = {}
    target: list[int] = []
    for number, entry in enumerate(index.entries):
        for alternate in entry.alternates:
            query = normalize(fill(alternate, _BLANKS))
            if not query:
                continue
            found, *_ = index.signals(query, exclude_text=query)
            for name, values in found.items():
                rows.setdefault(name, []).append(np.asarray(values, dtype=np.float64))
            target.append(number)
    return Signals({name: np.vstack(values) for name, values in rows.items()}, np.array(target))


# The top score of the index before the `answer` signal (fusion of 2026-12-02: words .1, chars .7,
# synonyms .1, intent .1) on the held-out alternates of data/faq and the out_of_scope examples of
# data/nlu (687 questions), at 0, 5, ..., 100 %: the scale config.yml's answer thresholds were
# chosen on. `calibrate` maps today's confidence onto it, so a threshold keeps answering the same
# share of such questions directly.
REFERENCE_QUANTILES = (
    0.1, 0.242, 0.2826, 0.3105, 0.3329, 0.3528, 0.3743, 0.3932, 0.4141, 0.429, 0.4522,
    0.4787, 0.5074, 0.5382, 0.56, 0.5863, 0.6124, 0.6576, 0.7113, 0.7541, 1.0,
)  # fmt: skip
# The same questions' lead of the top entry over the next (`FaqHit.margin`).
REFERENCE_MARGIN_QUANTILES = (
    0.0, 0.0044, 0.0093, 0.0162, 0.0239, 0.0338, 0.0446, 0.0548, 0.0661, 0.0784, 0.0909,
    0.1068, 0.1241, 0.1418, 0.1705, 0.1953, 0.2241, 0.2649, 0.307, 0.3683, 0.6197,
)  # fmt: skip


def top_confidences(index: FaqIndex, others: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The uncalibrated confidence of the top hit, and its lead over the next entry, for every
    alternate (held out of the index) and every other question (normalised texts, e.g. the
    out_of_scope examples of data/nlu)."""
    from bot.faq.index import _BLANKS, IDENTITY
    from bot.nlu.normalize import normalize
    from bot.text import fill

    queries: list[tuple[str, str | None]] = [
        (q, q) for e in index.entries for a in e.alternates if (q := normalize(fill(a, _BLANKS)))
    ]
    queries += [(q, None) for q in others if q]
    kept = index.calibration, index.margin_calibration
    index.calibration = index.margin_calibration = IDENTITY
    try:
        tops, leads = [], []
        for query, held_out in queries:
            hits = index.search(query, k=1, exclude_text=held_out)
            tops.append(hits[0].score if hits else 0.0)
            leads.append(min(1.0, hits[0].margin) if hits else 0.0)
    finally:
        index.calibration, index.margin_calibration = kept
    return np.array(tops), np.array(leads)


def calibrate(
    raw: np.ndarray, reference: Sequence[float] = REFERENCE_QUANTILES, *, low: float = 0.0
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Knots (x, y) of the monotone piecewise-linear map that sends the quantiles of `raw` onto
    the reference quantiles (taken at the same evenly spaced levels), for
    `bot.faq.index.CALIBRATION` (and, with the margin references and low=-1,
    `MARGIN_CALIBRATION`). Knots whose x or y does not increase are dropped; the ends are
    pinned at (low, low) and (1, 1), and (0, 0) lies on the map: a lead that is not one (the
    ranking-only `answer` signal put the entry first, not its confidence) stays not one."""
    levels = np.linspace(0, 1, len(reference))
    xs = np.quantile(np.clip(raw, low, 1), levels)
    pairs = [(low, low)] + ([(0.0, 0.0)] if low < 0 else [])
    for x, y in zip(xs, reference):
        x, y = round(float(x), 4), round(float(y), 4)
        if max(pairs[-1][0], 0.0) < x < 1.0 and y > pairs[-1][1]:
            pairs.append((x, y))
    pairs.append((1.0, 1.0))
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def rank_metrics(fused: np.ndarray, target: np.ndarray) -> tuple[float, float, float]:
    """(top-1, top-3, MRR@10); a tie with the right entry counts against it."""
    if not len(target):
        return 0.0, 0.0, 0.0
    right = fused[np.arange(len(target)), target]
    rank = (fused >= right[:, None]).sum(axis=1)
    return float((rank == 1).mean()), float((rank <= 3).mean()), float(np.where(rank <= DEPTH, 1.0 / rank, 0.0).mean())


def _grid(size: int) -> list[np.ndarray]:
    steps = int(round(1 / GRID_STEP))
    return [np.array(c) * GRID_STEP for c in itertools.product(range(steps + 1), repeat=size) if sum(c) == steps]


def _ranks(grid: list[np.ndarray], stacked: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The right entry's rank for every weight vector of the grid and every query (ties count
    against it), computed a slice of the grid at a time to bound memory."""
    weights = np.array(grid)
    right = stacked[:, np.arange(len(target)), target]  # signals x queries
    ranks = np.empty((len(grid), len(target)), dtype=np.int32)
    for start in range(0, len(grid), 64):
        part = weights[start : start + 64]
        fused = np.einsum("gs,sqe->gqe", part, stacked)
        ranks[start : start + 64] = (fused >= (part @ right)[:, :, None] - 1e-12).sum(axis=2)
    return ranks


def tune(signals: Signals, names: Sequence[str], *, folds: int = FOLDS, seed: int = SEED) -> dict[str, Any]:
    """Cross-validated fusion of the named signals.

    Keys: signals, cross_validated {top1, top3, mrr} (weights chosen without the scored entries),
    weights {name: weight} (chosen on all entries), fitted {top1, top3, mrr} (those weights on
    all entries: optimistic), per_fold [{name: weight}].
    """
    names = [n for n in names if n in signals.scores]
    stacked = np.stack([signals.scores[n] for n in names])  # signals x queries x entries
    grid = _grid(len(names))
    ranks = _ranks(grid, stacked, signals.target)  # grid x queries
    entries = stacked.shape[2]
    fold_of = np.empty(entries, dtype=int)
    fold_of[np.random.RandomState(seed).permutation(entries)] = np.arange(entries) % folds
    query_fold = fold_of[signals.target]

    def measured(rank: np.ndarray) -> np.ndarray:  # (top-1, top-3, MRR) per grid row
        return np.stack(
            [
                (rank == 1).mean(axis=-1),
                (rank <= 3).mean(axis=-1),
                np.where(rank <= DEPTH, 1.0 / rank, 0.0).mean(axis=-1),
            ],
            axis=-1,
        )

    def best(rows: np.ndarray) -> int:
        scores = measured(ranks[:, rows])
        return int(np.lexsort((scores[:, 0], scores[:, 2]))[-1])  # best MRR, then best top-1

    totals = np.zeros(3)
    per_fold = []
    for fold in range(folds):
        train, test = np.flatnonzero(query_fold != fold), np.flatnonzero(query_fold == fold)
        chosen = best(train)
        per_fold.append({n: round(float(w), 2) for n, w in zip(names, grid[chosen])})
        totals += measured(ranks[chosen, test]) * len(test)
    chosen = best(np.arange(len(signals.target)))
    cv = totals / len(signals.target)
    fitted = measured(ranks[chosen])
    return {
        "signals": names,
        "cross_validated": {
            "top1": round(float(cv[0]), 4),
            "top3": round(float(cv[1]), 4),
            "mrr": round(float(cv[2]), 4),
        },
        "weights": {n: round(float(w), 2) for n, w in zip(names, grid[chosen])},
        "fitted": {
            "top1": round(float(fitted[0]), 4),
            "top3": round(float(fitted[1]), 4),
            "mrr": round(float(fitted[2]), 4),
        },
        "per_fold": per_fold,
    }


def ablation(signals: Signals, names: Sequence[str]) -> list[dict[str, Any]]:
    """Each signal alone, then all together, then all but one: what each one adds (every row has
    the keys of `tune`, plus `without` for the all-but-one rows)."""
    names = [n for n in names if n in signals.scores]
    rows = []
    for name in names:
        top1, top3, mrr = rank_metrics(signals.scores[name], signals.target)
        alone = {"top1": round(top1, 4), "top3": round(top3, 4), "mrr": round(mrr, 4)}
        rows.append(
            {"signals": [name], "cross_validated": alone, "weights": {name: 1.0}, "fitted": alone, "per_fold": []}
        )
    rows.append(tune(signals, names))
    for left_out in names:
        rows.append(tune(signals, [n for n in names if n != left_out]) | {"without": left_out})
    return rows
