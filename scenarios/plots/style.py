"""The shared look of every figure: a colour-blind-safe palette, markers and line styles, and the
seed-aggregate drawing (mean with a 95% interval, or each seed's line when there are too few).

Colours are Okabe & Ito's (2008) palette, distinguishable under the common colour-vision
deficiencies; each series also gets its own marker and line style, so that overlapping lines stay
apart in greyscale too. Library code picks no backend; pyplot is imported lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from seqrl.scenarios.statistics import ESTIMATORS, MIN_SEEDS_FOR_INTERVAL, estimate

OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow (last: weak on white)
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
BAND_ALPHA = 0.2


def series_style(index: int) -> dict[str, Any]:
    """Colour, marker and line style of the ``index``-th series of a panel."""
    return {
        "color": OKABE_ITO[index % len(OKABE_ITO)],
        "marker": MARKERS[index % len(MARKERS)],
        "linestyle": LINESTYLES[index % len(LINESTYLES)],
    }


def figure(ncols: int = 1, width: float = 6.0, height: float = 4.2, **kwargs: Any) -> Any:
    """A figure of ``ncols`` panels side by side and its axes as a (1, ncols) array."""
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False, **kwargs)


def markevery(n_points: int, target: int = 12) -> int:
    """Draw a marker on about ``target`` points of a long line."""
    return max(1, n_points // target)


REPLICATES = ("seed_index", "run")
"""Columns that tell independent replicates apart: the task's seed, and the run within a task that
trains several runs as one batched model."""


def _replicates(frame: pd.DataFrame) -> list[str]:
    return [column for column in REPLICATES if column in frame]


def seed_aggregate(frame: pd.DataFrame, x: str, y: str, estimator: str = "mean") -> pd.DataFrame:
    """Per value of ``x``: the ``estimator`` (mean, median or iqm) of ``y`` over the seeds
    (``seed_index``, and ``run`` where a task holds several runs) with its 95% interval (NaN with
    fewer than three seeds) and ``n``.

    Rows of one seed at one ``x`` are first averaged, so each seed counts once.
    """
    replicates = _replicates(frame)
    per_seed = frame.groupby([x, *replicates])[y].mean() if replicates else frame.set_index(x)[y]
    rows = []
    for value, group in per_seed.groupby(level=0):
        found = estimate(group.to_numpy(dtype=float), ESTIMATORS[estimator])
        rows.append({x: value, "mean": found.value, "low": found.low, "high": found.high,
                     "n": found.n})  # fmt: skip
    return pd.DataFrame(rows, columns=[x, "mean", "low", "high", "n"])


def n_seeds(frame: pd.DataFrame) -> int:
    """The number of distinct seeds (``seed_index``, and ``run`` where present) in ``frame``
    (1 when it has neither)."""
    replicates = _replicates(frame)
    return len(frame[replicates].drop_duplicates()) if replicates else 1


def aggregate_note(n: int, estimator: str = "mean") -> str:
    """Words for what a line and its band show, for a title or caption."""
    what = "IQM" if estimator == "iqm" else estimator
    if n >= MIN_SEEDS_FOR_INTERVAL:
        return f"{what} over {n} seeds, 95% bootstrap CI"
    seeds = f"{n} seed{'s' if n != 1 else ''}"
    return f"{what} over {seeds} (faint: each seed), no CI from < {MIN_SEEDS_FOR_INTERVAL} seeds"


def plot_line(
    axis: Any,
    frame: pd.DataFrame,
    x: str,
    y: str,
    index: int,
    label: str,
    estimator: str = "mean",
    **kwargs: Any,
) -> Any:
    """The seeds' ``estimator`` of ``y`` against ``x`` with a 95% band (>= 3 seeds), or with each
    seed's own line drawn thin (fewer seeds: the values, not an interval). Returns the line."""
    style = series_style(index) | kwargs
    band = seed_aggregate(frame, x, y, estimator)
    (line,) = axis.plot(
        band[x], band["mean"], label=label, markevery=markevery(len(band)), ms=4, **style
    )
    if band["low"].notna().any():
        axis.fill_between(band[x], band["low"], band["high"], color=style["color"],
                          alpha=BAND_ALPHA, lw=0)  # fmt: skip
    elif n_seeds(frame) > 1:
        for _, seed in frame.groupby(_replicates(frame)):
            per_x = seed.groupby(x)[y].mean()
            axis.plot(per_x.index, per_x, color=style["color"], lw=0.6, alpha=0.5)
    return line


def plot_points(
    axis: Any, frame: pd.DataFrame, x: str, y: str, index: int, label: str, **kwargs: Any
) -> Any:
    """The seeds' mean of ``y`` at each ``x`` as markers with 95% error bars (>= 3 seeds), or the
    seeds' own values as small dots (fewer seeds)."""
    style = series_style(index) | {"linestyle": "none"} | kwargs
    band = seed_aggregate(frame, x, y)
    errors = _error_bars(band)
    container = axis.errorbar(band[x], band["mean"], yerr=errors, capsize=3, ms=5, label=label,
                              **style)  # fmt: skip
    if errors is None and "seed_index" in frame and frame["seed_index"].nunique() > 1:
        axis.plot(frame[x], frame[y], ".", color=style["color"], ms=3, alpha=0.6)
    return container


def _error_bars(band: pd.DataFrame) -> np.ndarray | None:
    if not band["low"].notna().any():
        return None
    return np.vstack([band["mean"] - band["low"], band["high"] - band["mean"]]).clip(min=0)


def errorbar_from_standard_error(
    axis: Any, x: Sequence[Any], mean: Sequence[float], standard_error: Sequence[float],
    **kwargs: Any,
) -> Any:  # fmt: skip
    """Markers with +/- 1.96 standard-error bars (an interval a task computed itself)."""
    errors = 1.96 * np.nan_to_num(np.asarray(standard_error, dtype=float))
    return axis.errorbar(x, mean, yerr=errors, capsize=4, **kwargs)


def legend(axis: Any, **kwargs: Any) -> None:
    """A small legend, if the panel has labelled series."""
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=kwargs.pop("fontsize", 7), **kwargs)
