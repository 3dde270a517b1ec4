"""summary.md and plots from a run's stored results.

For each numeric metric and each parameter combination: the number of seeds, the mean with a 95%
bootstrap confidence interval (``scipy.stats.bootstrap``, percentile method, fixed resampling seed),
and the interquartile mean (IQM, the mean of the middle 50%), which is robust to outlying seeds.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from seqrl.scenarios.core import RESERVED_COLUMNS, BadInput, Scenario
from seqrl.scenarios.registry import resolve
from seqrl.scenarios.storage import SUMMARY, RunStore, atomic_write

logger = logging.getLogger(__name__)

CONFIDENCE = 0.95
N_RESAMPLES = 2000


def bootstrap_interval(values: np.ndarray) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean (degenerate samples give a point interval)."""
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return (np.nan, np.nan)
    if np.ptp(values) == 0:
        return (float(values[0]), float(values[0]))
    result = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=CONFIDENCE,
        n_resamples=N_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def interquartile_mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(stats.trim_mean(values, 0.25)) if len(values) else np.nan


def summarise(results: pd.DataFrame, param_names: list[str]) -> pd.DataFrame:
    """One row per (parameter combination, metric): n, mean, CI bounds, IQM."""
    numeric = [
        c
        for c in results.columns
        if c not in param_names
        and c not in RESERVED_COLUMNS
        and (pd.api.types.is_numeric_dtype(results[c]) or pd.api.types.is_bool_dtype(results[c]))
    ]
    rows: list[dict[str, Any]] = []
    groups = (
        results.groupby(param_names, sort=True, dropna=False) if param_names else [((), results)]
    )
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        for metric in numeric:
            values = group[metric].to_numpy(dtype=float)
            low, high = bootstrap_interval(values)
            rows.append(
                {
                    **dict(zip(param_names, key, strict=True)),
                    "metric": metric,
                    "n": int(np.isfinite(values).sum()),
                    "mean": float(np.nanmean(values)) if np.isfinite(values).any() else np.nan,
                    "ci_low": low,
                    "ci_high": high,
                    "iqm": interquartile_mean(values),
                }
            )
    return pd.DataFrame(rows)


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return "nan" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def _markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def write_report(out_dir: Path) -> Path:
    """Consolidate a run directory's tasks, save the scenario's plots, and write summary.md.

    Raises:
        BadInput: the directory holds no seqrl run.
    """
    store = RunStore(out_dir)
    manifest = store.read_manifest()
    if manifest is None:
        raise BadInput(f"{out_dir}: no manifest.json here; not a seqrl run directory")
    identity = manifest["identity"]
    grids = identity["grid"]
    param_names = list(grids[0])
    values = {k: list(dict.fromkeys(str(v) for g in grids for v in g[k])) for k in param_names}
    results, trajectories = store.consolidate(order=[*param_names, "seed_index"])
    varying = [k for k, v in values.items() if len(v) > 1]

    lines = [
        f"# {identity['scenario']}",
        "",
        f"{manifest.get('description', '')}",
        "",
        f"Tasks finished: {len(results)} of {manifest.get('n_tasks', '?')}; "
        f"seeds per combination: {identity['n_seeds']} (root seed {identity['root_seed']}).",
        "",
        "Fixed parameters: " + ", ".join(f"`{k}={v[0]}`" for k, v in values.items() if len(v) == 1),
        "",
        "Each cell: mean over seeds with its 95% bootstrap confidence interval; IQM is the "
        "interquartile mean.",
        "",
    ]
    if not results.empty:
        summary = summarise(results, [p for p in param_names if p in results.columns])
        for metric, table in summary.groupby("metric", sort=False):
            shown = table[[*varying, "n", "mean", "ci_low", "ci_high", "iqm"]]
            lines += [f"## {metric}", "", _markdown_table(shown), ""]
        for stem in _save_plots(out_dir, manifest["reference"], results, trajectories):
            lines += [f"![{stem}]({stem}.png)", ""]
    text = "\n".join(lines)
    atomic_write(out_dir / SUMMARY, lambda p: p.write_text(text))
    return out_dir / SUMMARY


def _save_plots(
    out_dir: Path, reference: str | None, results: pd.DataFrame, trajectories: pd.DataFrame | None
) -> list[str]:
    if reference is None:
        return []
    try:
        scenario: Scenario = resolve(reference)
    except BadInput as error:
        logger.warning("no plots: %s", error)
        return []
    if scenario.plot is None:
        return []
    import matplotlib.pyplot as plt

    figures = scenario.plot(results, trajectories)
    saved = []
    for stem, figure in figures.items():
        atomic_write(out_dir / f"{stem}.png", partial(figure.savefig, format="png", dpi=120))
        plt.close(figure)
        saved.append(stem)
    return saved
