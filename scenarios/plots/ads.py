"""Plots of ``ads-toy`` and ``ads-metaworld``: learning curves per discount schedule.

Each figure shows one recorded curve (success rate, discount, progress) against environment steps:
per schedule (and fixed discount) the interquartile mean over seeds with a 95% bootstrap interval.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

SCHEDULE_COLORS = {"ads": "tab:blue", "fixed": "tab:red", "linear": "tab:green"}
CURVE_LABELS = {"success_rate": "success rate", "gamma": "discount gamma", "progress": "progress p"}
"""Axis label of each curve the scenarios record (the ``metric`` column of trajectories)."""


def _curve_band(table: pd.DataFrame) -> pd.DataFrame:
    """IQM over seeds per step with a 95% bootstrap interval of the mean."""
    from seqrl.scenarios.report import bootstrap_interval, interquartile_mean

    rows = []
    for step, group in table.groupby("step"):
        values = group["value"].to_numpy(dtype=float)
        low, high = bootstrap_interval(values)
        rows.append({"step": step, "iqm": interquartile_mean(values), "low": low, "high": high})
    return pd.DataFrame(rows)


def _schedule_label(schedule: str, gamma: float) -> str:
    if schedule == "fixed":
        return f"fixed gamma = {gamma:g}"
    return schedule.upper() if schedule == "ads" else schedule


def plot_curves(
    results: pd.DataFrame, trajectories: pd.DataFrame | None, title: str
) -> dict[str, Any]:
    """One figure per curve, keyed by the curve's name; a band per schedule (and fixed gamma)."""
    import matplotlib.pyplot as plt

    if trajectories is None or trajectories.empty:
        return {}
    figures = {}
    n_seeds = results["seed_index"].nunique() if "seed_index" in results else 1
    for metric, label in CURVE_LABELS.items():
        figure, axis = plt.subplots(figsize=(6.4, 4.2))
        subset = trajectories[trajectories["metric"] == metric]
        for (schedule, gamma), group in subset.groupby(["schedule", "gamma"]):
            band = _curve_band(group)
            color = SCHEDULE_COLORS.get(schedule) if schedule != "fixed" or gamma == 0.99 else None
            axis.plot(
                band["step"], band["iqm"], label=_schedule_label(schedule, gamma), color=color
            )
            axis.fill_between(
                band["step"], band["low"], band["high"], alpha=0.2, color=axis.lines[-1].get_color()
            )
        axis.set_xlabel("environment steps")
        axis.set_ylabel(label)
        axis.set_title(f"{title}: {label} (IQM, 95% bootstrap CI, {n_seeds} seeds)", fontsize=9)
        axis.legend()
        figure.tight_layout()
        figures[metric] = figure
    return figures


def plot_toy(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Learning curves of ``ads-toy``: ``ads_toy_<curve>``."""
    figures = plot_curves(results, trajectories, "FetchDeliver")
    return {f"ads_toy_{name}": figure for name, figure in figures.items()}


def plot_metaworld(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Learning curves of ``ads-metaworld``, per task: ``ads_metaworld_<task>_<curve>``."""
    if trajectories is None or trajectories.empty:
        return {}
    figures = {}
    for task, group in trajectories.groupby("task"):
        for name, figure in plot_curves(results[results["task"] == task], group, task).items():
            figures[f"ads_metaworld_{task.removesuffix('-v3').replace('-', '_')}_{name}"] = figure
    return figures
