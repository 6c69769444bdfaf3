"""Evaluation metrics in plain numpy (serving-side code may use them without sklearn)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); nan if one class only."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def bootstrap_ci(
    labels: ArrayLike, scores: ArrayLike, n: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the AUC (resampling images)."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        a = roc_auc(y[idx], s[idx])
        if not np.isnan(a):
            vals.append(a)
    if not vals:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(vals, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return (float(lo), float(hi))


def confusion(truth: ArrayLike, pred: ArrayLike, k: int = 5) -> NDArray[np.int64]:
    t = np.asarray(truth, dtype=np.int64)
    p = np.asarray(pred, dtype=np.int64)
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (t, p), 1)
    return m


def quadratic_kappa(truth: ArrayLike, pred: ArrayLike, k: int = 5) -> float:
    m = confusion(truth, pred, k).astype(np.float64)
    n = m.sum()
    if n == 0:
        return float("nan")
    w = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)], dtype=np.float64)
    w /= (k - 1) ** 2
    expected = np.outer(m.sum(1), m.sum(0)) / n
    denom = (w * expected).sum()
    return float(1.0 - (w * m).sum() / denom) if denom > 0 else float("nan")


@dataclass(frozen=True)
class BinaryStats:
    sensitivity: float
    specificity: float
    tp: int
    fn: int
    tn: int
    fp: int


def binary_stats(labels: ArrayLike, positive: ArrayLike) -> BinaryStats:
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(positive, dtype=bool)
    tp, fn = int((y & p).sum()), int((y & ~p).sum())
    tn, fp = int((~y & ~p).sum()), int((~y & p).sum())
    return BinaryStats(
        sensitivity=tp / (tp + fn) if tp + fn else float("nan"),
        specificity=tn / (tn + fp) if tn + fp else float("nan"),
        tp=tp,
        fn=fn,
        tn=tn,
        fp=fp,
    )


def threshold_for_sensitivity(labels: ArrayLike, scores: ArrayLike, target: float) -> float:
    """Highest threshold whose sensitivity (score >= threshold) reaches `target`."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    pos = np.sort(s[y])[::-1]
    if len(pos) == 0:
        return 0.5
    need = int(np.ceil(target * len(pos)))
    return float(pos[max(need, 1) - 1])


def youden_threshold(labels: ArrayLike, scores: ArrayLike) -> float:
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    best, best_t = -1.0, 0.5
    for t in np.unique(s):
        st = binary_stats(y, s >= t)
        j = st.sensitivity + st.specificity - 1
        if j > best:
            best, best_t = j, float(t)
    return best_t
