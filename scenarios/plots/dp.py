"""Plots of the private sequential learning scenarios (``dp-*``, scenarios/library/dp.py).

Each function maps (results, trajectories) to {file stem: matplotlib Figure}; pyplot is imported
lazily and no backend is chosen here (the CLI sets Agg). Lines are the mean over seeds with a 95%
bootstrap band from three seeds on (:mod:`seqrl.scenarios.plots.style`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from seqrl.mechanisms.dp_sequential import BinaryCascadeClosedForm
from seqrl.scenarios.plots.style import (
    aggregate_note,
    errorbar_from_standard_error,
    figure,
    legend,
    n_seeds,
    plot_line,
    plot_points,
    series_style,
)

LLR_AXIS_LABEL = "mean public LLR theta * l_n"


def _epsilon_label(epsilon: float) -> str:
    return "no privacy" if math.isinf(epsilon) else f"epsilon = {epsilon:g}"


def plot_binary_cascade(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """P(correct cascade) against epsilon: simulated points (with error bars) beside the closed
    forms."""
    fig, axes = figure(width=7.5, height=5.2)
    axis = axes[0, 0]
    private_eps = results.loc[np.isfinite(results["epsilon"]), "epsilon"]
    top = float(private_eps.max()) if len(private_eps) else 5.0
    fine = np.linspace(0.05, max(top, 1.0), 800)
    for index, p in enumerate(sorted(results["p"].unique())):
        style = series_style(index)
        curve = [BinaryCascadeClosedForm(p, eps).probability_correct for eps in fine]
        axis.plot(fine, curve, color=style["color"], ls=style["linestyle"], lw=1.2,
                  label=f"closed form, p = {p:g}")  # fmt: skip
        axis.axhline(BinaryCascadeClosedForm(p, math.inf).probability_correct, color=style["color"],
                     ls=":", lw=1, label=f"no privacy (closed form), p = {p:g}")  # fmt: skip
        rows = results[(results["p"] == p) & np.isfinite(results["epsilon"])]
        plot_points(axis, rows, "epsilon", "correct_cascade_rate", index,
                    f"simulation, p = {p:g}")  # fmt: skip
    axis.set_xlabel("privacy budget epsilon (randomized response)")
    axis.set_ylabel("P(cascade is correct)")
    axis.set_title(
        "Correct-cascade probability against epsilon: simulation and closed form\n"
        f"(points: {aggregate_note(n_seeds(results))})",
        fontsize=10,
    )
    fig.legend(*axis.get_legend_handles_labels(), fontsize=7, ncol=3, loc="lower center")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return {"dp_binary_cascade": fig}


def plot_continuous(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Mean public LLR against log n and sqrt(log n), and the mean wrong actions, per budget."""
    fig, axes = figure(ncols=2)
    wrong_figure, wrong_axes = figure()
    if trajectories is None or trajectories.empty:
        return {"dp_continuous_learning": fig, "dp_wrong_actions": wrong_figure}
    frame = trajectories.assign(sqrt_log_n=np.sqrt(np.log(trajectories["step"])))
    several_sigmas = frame["sigma"].nunique() > 1
    for index, ((epsilon, sigma), rows) in enumerate(frame.groupby(["epsilon", "sigma"])):
        label = _epsilon_label(epsilon) + (f", sigma = {sigma:g}" if several_sigmas else "")
        plot_line(axes[0, 0], rows, "step", "mean_public_llr", index, label)
        plot_line(axes[0, 1], rows, "sqrt_log_n", "mean_public_llr", index, label)
        plot_line(wrong_axes[0, 0], rows, "step", "mean_wrong_actions", index, label)
    note = aggregate_note(n_seeds(frame))
    axes[0, 0].set(xscale="log", xlabel="agent n (log scale)",
                   title="Public LLR against n (log axis)")  # fmt: skip
    axes[0, 1].set(xlabel="sqrt(log n)", title="Public LLR against sqrt(log n)")
    for axis in axes[0]:
        axis.set_ylabel(LLR_AXIS_LABEL)
        legend(axis, fontsize=8)
    fig.suptitle(f"Gaussian signals, smoothed randomized response ({note})", fontsize=10)
    wrong_axes[0, 0].set(xscale="log", xlabel="agent n (log scale)",
                         ylabel="mean wrong actions among agents < n",
                         title=f"Wrong actions among the first n agents\n({note})")  # fmt: skip
    legend(wrong_axes[0, 0], fontsize=8)
    fig.tight_layout()
    wrong_figure.tight_layout()
    return {"dp_continuous_learning": fig, "dp_wrong_actions": wrong_figure}


def _plot_first_correct(trajectories: pd.DataFrame | None) -> Any:
    """Survival of the times to the first correct action and report, on log-log axes."""
    fig, axes = figure(ncols=2, width=5.5)
    if trajectories is None or trajectories.empty:
        return fig
    columns = ("survival_first_correct_action", "survival_first_correct_report")
    for index, (epsilon, rows) in enumerate(trajectories.groupby("epsilon")):
        for axis, column in zip(axes[0], columns, strict=True):
            positive = rows[rows[column] > 0]
            plot_line(axis, positive, "step", column, index, _epsilon_label(epsilon))
    steps = np.geomspace(1, trajectories["step"].max(), 50)
    note = aggregate_note(n_seeds(trajectories))
    for axis, what in zip(axes[0], ("action", "report"), strict=True):
        axis.plot(steps, 0.1 / steps, color="grey", ls=":", label="slope -1 (infinite mean)")
        axis.set(xscale="log", yscale="log", xlabel="n",
                 ylabel=f"P(first correct {what} after agent n)",
                 title=f"Survival of the time to the first correct {what}")  # fmt: skip
        legend(axis, fontsize=8)
    fig.suptitle(note, fontsize=9)
    fig.tight_layout()
    return fig


def plot_hitting(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """E[tau_B] against epsilon (Monte Carlo with error bars beside Bellman), and the
    first-correct-time tails.

    The Monte Carlo bars are the seeds' 95% bootstrap interval from three seeds on, and otherwise
    +/- 1.96 standard errors from the tasks' own ``tau_mc_standard_error``.
    """
    fig, axes = figure(width=6.5)
    axis = axes[0, 0]
    seeds = n_seeds(results)
    for index, (bound, rows) in enumerate(results.groupby("bound")):
        style = series_style(index)
        finite = rows[np.isfinite(rows["epsilon"])]
        bellman = finite.groupby("epsilon")["tau_bellman"].mean()
        axis.plot(bellman.index, bellman, color=style["color"], ls=style["linestyle"],
                  label=f"Bellman, B = {bound:g}")  # fmt: skip
        if seeds >= 3 or "tau_mc_standard_error" not in rows:
            plot_points(axis, finite, "epsilon", "tau_mc", index, f"Monte Carlo, B = {bound:g}")
        else:
            by_eps = finite.groupby("epsilon")
            combined = by_eps["tau_mc_standard_error"].apply(
                lambda se: float(np.sqrt(np.nansum(np.square(se)))) / len(se)
            )
            errorbar_from_standard_error(
                axis, by_eps["tau_mc"].mean().index, by_eps["tau_mc"].mean(), combined,
                color=style["color"], marker=style["marker"], ls="none",
                label=f"Monte Carlo +/- 1.96 s.e., B = {bound:g}",
            )  # fmt: skip
        for value in rows.loc[~np.isfinite(rows["epsilon"]), "tau_bellman"].unique():
            axis.axhline(value, color=style["color"], ls=":",
                         label=f"no privacy (Bellman), B = {bound:g}")  # fmt: skip
    axis.set_yscale("log")
    axis.set_xlabel("privacy budget epsilon (smoothed randomized response)")
    axis.set_ylabel("E[tau_B]: reports until |l| >= B")
    axis.set_title(f"Expected hitting time of the public LLR ({seeds} seed{'s' * (seeds != 1)})")
    legend(axis, fontsize=8)
    fig.tight_layout()
    return {"dp_hitting_time": fig, "dp_first_correct": _plot_first_correct(trajectories)}


def plot_heterogeneous(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Mean public LLR against n, one line per budget distribution and observer knowledge."""
    fig, axes = figure(width=7.0)
    if trajectories is None or trajectories.empty:
        return {"dp_heterogeneous": fig}
    keys = ["mechanism", "budget_distribution", "budget_low", "budget_high", "budgets_observed"]
    for index, (key, rows) in enumerate(trajectories.groupby(keys)):
        mechanism, distribution, low, high, observed = key
        label = (
            f"{mechanism}, {distribution}[{low:g}, {high:g}], "
            f"{'budgets seen' if observed else 'budgets marginalised'}"
        )
        plot_line(axes[0, 0], rows, "step", "mean_public_llr", index, label)
    axes[0, 0].set(
        xscale="log",
        xlabel="agent n (log scale)",
        ylabel=LLR_AXIS_LABEL,
        title=f"Public LLR with per-agent budgets ({aggregate_note(n_seeds(trajectories))})",
    )
    axes[0, 0].title.set_fontsize(9)
    legend(axes[0, 0], fontsize=8)
    fig.tight_layout()
    return {"dp_heterogeneous": fig}


def plot_rl(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Mean public LLR per step under PPO and the Bayesian policy, and their accuracies with
    +/- 1.96 standard-error bars (over evaluation episodes, pooled over seeds)."""
    fig, axes = figure(ncols=2, width=5.5)
    if trajectories is not None and not trajectories.empty:
        for index, (policy, rows) in enumerate(trajectories.groupby("policy")):
            plot_line(axes[0, 0], rows, "step", "mean_public_llr", index, policy)
    axes[0, 0].set(xlabel="agent n", ylabel=LLR_AXIS_LABEL,
                   title="Public LLR under each policy")  # fmt: skip
    legend(axes[0, 0], fontsize=8)
    for index, name in enumerate(("ppo", "bayesian")):
        accuracy = results[f"{name}_accuracy"]
        error = results[f"{name}_accuracy_standard_error"]
        combined = float(np.sqrt(np.nansum(np.square(error)))) / len(error)
        style = series_style(index)
        axes[0, 1].bar(index, accuracy.mean(), color=style["color"], width=0.6,
                       hatch=("", "//")[index], edgecolor="black", lw=0.5)  # fmt: skip
        errorbar_from_standard_error(axes[0, 1], [index], [accuracy.mean()], [combined],
                                     color="black", ls="none")  # fmt: skip
    axes[0, 1].set(xticks=[0, 1], xticklabels=["PPO", "Bayesian"], ylim=(0, 1),
                   ylabel="accuracy (evaluate_policy)",
                   title="Share of correct guesses (+/- 1.96 s.e.)")  # fmt: skip
    fig.suptitle(f"dp-rl-learner: {aggregate_note(n_seeds(results))}", fontsize=9)
    fig.tight_layout()
    return {"dp_rl_learner": fig}
