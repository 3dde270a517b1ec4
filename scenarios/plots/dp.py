"""Plots of the private sequential learning scenarios (``dp-*``, scenarios/library/dp.py).

Each function maps (results, trajectories) to {file stem: matplotlib Figure}; pyplot is imported
lazily and no backend is chosen here (the CLI sets Agg).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from seqrl.mechanisms.dp_sequential import BinaryCascadeClosedForm

LLR_AXIS_LABEL = "mean public LLR theta * l_n"
PRIVATE_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _figure(ncols: int = 1, width: float = 6.0, height: float = 4.2) -> tuple[Any, np.ndarray]:
    """A figure of ``ncols`` panels side by side, and its axes as a (1, ncols) array."""
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)


def _epsilon_color(epsilon: float, all_epsilons: pd.Series) -> Any:
    """Black without privacy; otherwise a viridis shade by the budget's rank among the private ones."""
    if math.isinf(epsilon):
        return "black"
    from matplotlib import colormaps

    private = np.sort(all_epsilons[np.isfinite(all_epsilons)].unique())
    rank = int(np.searchsorted(private, epsilon))
    return colormaps["viridis"](0.9 * rank / max(len(private) - 1, 1))


def _epsilon_label(epsilon: float) -> str:
    return "no privacy" if math.isinf(epsilon) else f"epsilon = {epsilon:g}"


def plot_binary_cascade(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """P(correct cascade) against epsilon: simulated points beside the closed-form curves."""
    figure, axes = _figure(width=7.5, height=5.2)
    axis = axes[0, 0]
    means = results.groupby(["p", "epsilon"], as_index=False)["correct_cascade_rate"].mean()
    private_eps = means.loc[np.isfinite(means["epsilon"]), "epsilon"]
    top = float(private_eps.max()) if len(private_eps) else 5.0
    fine = np.linspace(0.05, max(top, 1.0), 800)
    for color, p in zip(PRIVATE_COLORS, sorted(means["p"].unique()), strict=False):
        curve = [BinaryCascadeClosedForm(p, eps).probability_correct for eps in fine]
        axis.plot(fine, curve, color=color, lw=1.2, label=f"closed form, p = {p:g}")
        axis.axhline(
            BinaryCascadeClosedForm(p, math.inf).probability_correct,
            color=color,
            ls="--",
            lw=1,
            label=f"no privacy, p = {p:g}",
        )
        rows = means[(means["p"] == p) & np.isfinite(means["epsilon"])]
        axis.plot(
            rows["epsilon"],
            rows["correct_cascade_rate"],
            "o",
            color=color,
            ms=4,
            label=f"simulation, p = {p:g}",
        )
    axis.set_xlabel("privacy budget epsilon (randomized response)")
    axis.set_ylabel("P(cascade is correct)")
    axis.set_title("Binary signals: the correct-cascade probability is not monotone in epsilon")
    figure.legend(*axis.get_legend_handles_labels(), fontsize=7, ncol=3, loc="lower center")
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    return {"dp_binary_cascade": figure}


def plot_continuous(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Mean public LLR against log n and sqrt(log n), and the mean wrong actions, per budget."""
    figure, axes = _figure(ncols=2)
    wrong_figure, wrong_axes = _figure()
    if trajectories is None or trajectories.empty:
        return {"dp_continuous_learning": figure, "dp_wrong_actions": wrong_figure}
    means = trajectories.groupby(["epsilon", "sigma", "step"], as_index=False)[
        ["mean_public_llr", "mean_wrong_actions"]
    ].mean()
    for (epsilon, sigma), rows in means.groupby(["epsilon", "sigma"]):
        color = _epsilon_color(epsilon, means["epsilon"])
        label = _epsilon_label(epsilon) + (
            f", sigma = {sigma:g}" if means["sigma"].nunique() > 1 else ""
        )
        log_n = np.log(rows["step"])
        axes[0, 0].plot(rows["step"], rows["mean_public_llr"], color=color, label=label)
        axes[0, 1].plot(np.sqrt(log_n), rows["mean_public_llr"], color=color, label=label)
        wrong_axes[0, 0].plot(rows["step"], rows["mean_wrong_actions"], color=color, label=label)
    axes[0, 0].set_xscale("log")
    axes[0, 0].set_xlabel("agent n (log scale)")
    axes[0, 0].set_title("private: l_n linear in log n")
    axes[0, 1].set_xlabel("sqrt(log n)")
    axes[0, 1].set_title("no privacy: l_n linear in sqrt(log n)")
    for axis in axes[0]:
        axis.set_ylabel(LLR_AXIS_LABEL)
        axis.legend(fontsize=8)
    wrong_axes[0, 0].set_xscale("log")
    wrong_axes[0, 0].set_xlabel("agent n (log scale)")
    wrong_axes[0, 0].set_ylabel("mean wrong actions among agents < n")
    wrong_axes[0, 0].set_title("Mean number of wrong actions among the first n agents")
    wrong_axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    wrong_figure.tight_layout()
    return {"dp_continuous_learning": figure, "dp_wrong_actions": wrong_figure}


def _plot_first_correct(trajectories: pd.DataFrame | None) -> Any:
    """Survival of the times to the first correct action and report, on log-log axes."""
    figure, axes = _figure(ncols=2, width=5.5)
    if trajectories is None or trajectories.empty:
        return figure
    means = trajectories.groupby(["epsilon", "step"], as_index=False)[
        ["survival_first_correct_action", "survival_first_correct_report"]
    ].mean()
    for epsilon, rows in means.groupby("epsilon"):
        color = _epsilon_color(epsilon, means["epsilon"])
        for axis, column in zip(
            axes[0], ("survival_first_correct_action", "survival_first_correct_report"), strict=True
        ):
            positive = rows[rows[column] > 0]
            axis.plot(
                positive["step"], positive[column], color=color, label=_epsilon_label(epsilon)
            )
    steps = np.geomspace(1, means["step"].max(), 50)
    for axis, what in zip(axes[0], ("action", "report"), strict=True):
        axis.plot(steps, 0.1 / steps, color="grey", ls=":", label="slope -1 (infinite mean)")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("n")
        axis.set_ylabel(f"P(first correct {what} after agent n)")
        axis.set_title(f"Time to the first correct {what}")
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_hitting(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """E[tau_B] against epsilon (Monte Carlo beside Bellman), and the first-correct-time tails."""
    figure, axes = _figure(width=6.5)
    axis = axes[0, 0]
    for index, (bound, rows) in enumerate(results.groupby("bound")):
        color = PRIVATE_COLORS[index % len(PRIVATE_COLORS)]
        means = rows.groupby("epsilon", as_index=False)[["tau_mc", "tau_bellman"]].mean()
        finite = means[np.isfinite(means["epsilon"])]
        axis.plot(
            finite["epsilon"],
            finite["tau_bellman"],
            "-",
            color=color,
            label=f"Bellman, B = {bound:g}",
        )
        axis.plot(
            finite["epsilon"],
            finite["tau_mc"],
            "o",
            color=color,
            label=f"Monte Carlo, B = {bound:g}",
        )
        for _, row in means[~np.isfinite(means["epsilon"])].iterrows():
            axis.axhline(
                row["tau_bellman"],
                color=color,
                ls="--",
                label=f"no privacy (Bellman), B = {bound:g}",
            )
    axis.set_yscale("log")
    axis.set_xlabel("privacy budget epsilon (smoothed randomized response)")
    axis.set_ylabel("E[tau_B]: reports until |l| >= B")
    axis.set_title("Expected hitting time of the public LLR")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return {"dp_hitting_time": figure, "dp_first_correct": _plot_first_correct(trajectories)}


def plot_heterogeneous(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Mean public LLR against n, one line per budget distribution and observer knowledge."""
    figure, axes = _figure(width=7.0)
    if trajectories is None or trajectories.empty:
        return {"dp_heterogeneous": figure}
    keys = ["mechanism", "budget_distribution", "budget_low", "budget_high", "budgets_observed"]
    means = trajectories.groupby([*keys, "step"], as_index=False)["mean_public_llr"].mean()
    for index, (key, rows) in enumerate(means.groupby(keys)):
        mechanism, distribution, low, high, observed = key
        label = (
            f"{mechanism}, {distribution}[{low:g}, {high:g}], "
            f"{'budgets seen' if observed else 'budgets marginalised'}"
        )
        axes[0, 0].plot(
            rows["step"],
            rows["mean_public_llr"],
            color=PRIVATE_COLORS[index % len(PRIVATE_COLORS)],
            label=label,
        )
    axes[0, 0].set(
        xscale="log",
        xlabel="agent n (log scale)",
        ylabel=LLR_AXIS_LABEL,
        title="Heterogeneous privacy budgets",
    )
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    return {"dp_heterogeneous": figure}


def plot_rl(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Mean public LLR per step under PPO and the Bayesian policy, and their accuracies."""
    figure, axes = _figure(ncols=2, width=5.5)
    if trajectories is not None and not trajectories.empty:
        means = trajectories.groupby(["policy", "step"], as_index=False)["mean_public_llr"].mean()
        for color, (policy, rows) in zip(
            ("tab:blue", "tab:orange"), means.groupby("policy"), strict=False
        ):
            axes[0, 0].plot(rows["step"], rows["mean_public_llr"], color=color, label=policy)
    axes[0, 0].set(xlabel="agent n", ylabel=LLR_AXIS_LABEL, title="Public belief under each policy")
    axes[0, 0].legend(fontsize=8)
    accuracy = results[["ppo_accuracy", "bayesian_accuracy"]].mean()
    axes[0, 1].bar(["PPO", "Bayesian"], accuracy.to_numpy(), color=("tab:orange", "tab:blue"))
    axes[0, 1].set(
        ylim=(0, 1), ylabel="accuracy (evaluate_policy)", title="Share of correct guesses"
    )
    figure.tight_layout()
    return {"dp_rl_learner": figure}
