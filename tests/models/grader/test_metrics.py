"""Metrics against scikit-learn's reference implementations."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from models.grader.metrics import (
    binary_stats,
    bootstrap_ci,
    confusion,
    quadratic_kappa,
    roc_auc,
    threshold_for_sensitivity,
)


def test_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) + 0.3 * y, 1)  # rounding makes ties
    assert abs(roc_auc(y, s) - roc_auc_score(y, s)) < 1e-12


def test_auc_of_one_class_is_nan() -> None:
    assert np.isnan(roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))


def test_quadratic_kappa_matches_sklearn() -> None:
    rng = np.random.default_rng(2)
    t = rng.integers(0, 5, 200)
    p = np.clip(t + rng.integers(-1, 2, 200), 0, 4)
    assert abs(quadratic_kappa(t, p) - cohen_kappa_score(t, p, weights="quadratic")) < 1e-12


def test_confusion_counts() -> None:
    m = confusion([0, 0, 1, 4], [0, 1, 1, 2])
    assert m[0, 0] == 1 and m[0, 1] == 1 and m[1, 1] == 1 and m[4, 2] == 1 and m.sum() == 4


def test_bootstrap_ci_brackets_the_estimate() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    s = rng.random(200) + 0.5 * y
    lo, hi = bootstrap_ci(y, s, n=300, seed=0)
    assert lo < roc_auc(y, s) < hi and hi - lo < 0.3


def test_threshold_for_sensitivity_reaches_target() -> None:
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 1])
    s = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.3, 0.75, 0.05, 0.6, 0.4])
    t = threshold_for_sensitivity(y, s, 0.8)
    st = binary_stats(y, s >= t)
    assert st.sensitivity >= 0.8
    assert binary_stats(y, s > t).sensitivity < 0.8  # the highest such threshold
