"""Plots of ``ads-toy`` and ``ads-metaworld``: learning curves per discount schedule.

Each figure shows one recorded curve (success rate, discount, progress, the recognizer's margin)
against environment steps: per schedule (and fixed discount) the interquartile mean over seeds,
with a 95% stratified-bootstrap band from three seeds on; each schedule has its own colour, marker
and line style, so that curves that coincide (e.g. ADS and a fixed discount before ADS moves) stay
distinguishable.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from seqrl.scenarios.plots.style import aggregate_note, figure, legend, n_seeds, plot_line

CURVE_LABELS = {
    "success_rate": "success rate",
    "gamma": "discount gamma",
    "progress": "progress p",
    "recognizer_margin": "S_p - floor(0.9 R_p)",
}
"""Axis label of each curve the scenarios record (the ``metric`` column of trajectories)."""


def _schedule_label(schedule: str, gamma: float) -> str:
    if schedule == "fixed":
        return f"fixed gamma = {gamma:g}"
    return schedule.upper() if schedule == "ads" else schedule


def plot_curves(
    results: pd.DataFrame, trajectories: pd.DataFrame | None, title: str
) -> dict[str, Any]:
    """One figure per recorded curve, keyed by the curve's name; a line per schedule (and fixed
    gamma). Runs from before a curve was recorded simply lack its figure."""
    if trajectories is None or trajectories.empty:
        return {}
    figures = {}
    note = aggregate_note(n_seeds(trajectories), "iqm")
    for metric, label in CURVE_LABELS.items():
        subset = trajectories[trajectories["metric"] == metric]
        if subset.empty:
            continue
        fig, axes = figure(width=6.4, height=4.2)
        axis = axes[0, 0]
        for index, ((schedule, gamma), group) in enumerate(subset.groupby(["schedule", "gamma"])):
            plot_line(axis, group, "step", "value", index, _schedule_label(schedule, gamma), "iqm")
        axis.set_xlabel("environment steps")
        axis.set_ylabel(label)
        axis.set_title(f"{title}: {label} against environment steps ({note})", fontsize=9)
        legend(axis, fontsize=8)
        fig.tight_layout()
        figures[metric] = fig
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
        for name, fig in plot_curves(results[results["task"] == task], group, task).items():
            figures[f"ads_metaworld_{task.removesuffix('-v3').replace('-', '_')}_{name}"] = fig
    return figures
