"""Aggregates over seeds with honest intervals (the estimators of rliable, Agarwal et al. 2021).

Point estimates: the mean, the median, and the interquartile mean IQM, the mean of the values
between the 25th and 75th percentiles (``scipy.stats.trim_mean(x, 0.25)``, as rliable computes it),
which is robust to an outlying seed yet uses half the data.

Intervals: 95% percentile intervals from a *stratified* bootstrap: each resample draws, within every
stratum (a task or a parameter combination), as many runs as the stratum has, with replacement, and
applies the estimator to the pooled draw. With one stratum this is the ordinary bootstrap. No
interval is formed from fewer than :data:`MIN_SEEDS_FOR_INTERVAL` values: the caller shows the
values themselves instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
N_RESAMPLES = 2000
MIN_SEEDS_FOR_INTERVAL = 3
"""Fewer finite values than this give no interval (``low`` and ``high`` are NaN)."""

Estimator = Callable[..., np.ndarray]
"""``estimator(values, axis=-1)``: one number per resample row."""


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% of ``values`` along ``axis``.

    The lowest and highest ``floor(n / 4)`` of the n values are dropped, as in
    ``scipy.stats.trim_mean(values, 0.25)`` (rliable's definition); a sort is ~6x faster than
    trim_mean's partition on the small (resamples x seeds) arrays of a bootstrap.
    """
    ordered = np.sort(np.asarray(values, dtype=float), axis=axis)
    n = ordered.shape[axis]
    cut = n // 4
    return np.take(ordered, np.arange(cut, n - cut), axis=axis).mean(axis=axis)


ESTIMATORS: dict[str, Estimator] = {"mean": np.mean, "median": np.median, "iqm": iqm}
"""The estimators reported for every metric, by the column prefix they get in a summary."""


def stratified_resamples(
    strata: Sequence[np.ndarray], n_resamples: int = N_RESAMPLES, seed: int = 0
) -> np.ndarray:
    """``(n_resamples, total)`` pooled draws: each stratum's values redrawn with replacement
    within the stratum, as many as it has."""
    rng = np.random.default_rng(seed)
    draws = [
        stratum[rng.integers(0, stratum.size, size=(n_resamples, stratum.size))]
        for stratum in strata
    ]
    return np.concatenate(draws, axis=1)


def percentile_interval(
    replicates: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The central ``confidence`` range of bootstrap replicates."""
    alpha = 100 * (1 - confidence) / 2
    low, high = np.percentile(replicates, [alpha, 100 - alpha])
    return float(low), float(high)


def stratified_bootstrap_interval(
    strata: Sequence[np.ndarray],
    estimator: Estimator,
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``estimator`` over the pooled strata, resampling within each stratum.

    Args:
        strata: One 1-D array of finite scores per stratum (e.g. the seeds of one task).
        estimator: ``estimator(samples, axis=-1)``.
        confidence: Coverage of the interval.
        n_resamples: Bootstrap resamples.
        seed: Seed of the resampling (fixed, so a report is reproducible).
    """
    replicates = estimator(stratified_resamples(strata, n_resamples, seed), axis=-1)
    return percentile_interval(replicates, confidence)


@dataclass(frozen=True)
class Estimate:
    """A point estimate over ``n`` values and its interval (NaN when ``n`` is too small)."""

    value: float
    low: float
    high: float
    n: int

    @property
    def has_interval(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high))


def estimates(
    values: np.ndarray, estimators: Mapping[str, Estimator] = ESTIMATORS
) -> dict[str, Estimate]:
    """Each estimator of the finite ``values`` with its bootstrap interval (one stratum; the
    estimators share the resamples).

    Fewer than :data:`MIN_SEEDS_FOR_INTERVAL` finite values give NaN bounds; identical values give a
    point interval.
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    n = finite.size
    if n == 0:
        return {name: Estimate(np.nan, np.nan, np.nan, 0) for name in estimators}
    points = {name: float(estimator(finite, axis=-1)) for name, estimator in estimators.items()}
    if n < MIN_SEEDS_FOR_INTERVAL:
        return {name: Estimate(value, np.nan, np.nan, n) for name, value in points.items()}
    if np.ptp(finite) == 0:
        return {name: Estimate(value, value, value, n) for name, value in points.items()}
    draws = stratified_resamples([finite])
    return {
        name: Estimate(points[name], *percentile_interval(estimator(draws, axis=-1)), n)
        for name, estimator in estimators.items()
    }


def estimate(values: np.ndarray, estimator: Estimator = np.mean) -> Estimate:
    """One estimator of the finite ``values`` with its interval (see :func:`estimates`)."""
    return estimates(values, {"value": estimator})["value"]


@dataclass(frozen=True)
class PairedComparison:
    """One arm against a baseline over the same seeds (common random numbers: pair ``k`` shares
    seed ``k``): how many pairs it wins, loses and ties, the mean difference, and the two-sided
    exact sign test of wins against losses (ties dropped; 1.0 when every pair ties)."""

    better: int
    worse: int
    tied: int
    mean_difference: float
    sign_test_p: float


def paired_comparison(values: np.ndarray, baseline: np.ndarray) -> PairedComparison:
    """Compare ``values[k]`` with ``baseline[k]`` seed by seed.

    The sign test assumes only that, under no effect, a non-tied pair is won or lost with
    probability 1/2 (p = P(Binomial(n, 1/2) at least as far from n/2 as the wins)); it suits bounded
    scores such as success rates, where many pairs tie.
    """
    # Imported on first use: scipy.stats would add ~0.5 s (measured) to every seqrl start.
    from scipy import stats

    values, baseline = np.asarray(values, dtype=float), np.asarray(baseline, dtype=float)
    if values.shape != baseline.shape or values.ndim != 1:
        raise ValueError(f"paired scores need two equal 1-D shapes, got {values.shape} and "
                         f"{baseline.shape}")  # fmt: skip
    better, worse = int((values > baseline).sum()), int((values < baseline).sum())
    p = stats.binomtest(better, better + worse).pvalue if better + worse else 1.0
    return PairedComparison(better, worse, values.size - better - worse,
                            float(np.mean(values - baseline)), float(p))  # fmt: skip
