"""Plots of ``vad-dialogue`` and ``vad-contagion``: valence trajectories, hysteresis against mu."""

from __future__ import annotations

from typing import Any

import pandas as pd

from seqrl.scenarios.plots.style import aggregate_note, legend, n_seeds, plot_line, plot_points


def condition_label(condition: str, mu: float) -> str:
    """Label of a paper condition: second order carries its mu."""
    return f"second-order mu={mu:g}" if condition == "second-order" else condition


def _condition_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Add a ``label`` column and keep one mu for conditions that mu does not enter."""
    frame = frame.assign(
        label=[condition_label(c, m) for c, m in zip(frame["condition"], frame["mu"], strict=True)]
    )
    first_mu = frame["mu"].min()
    return frame[(frame["condition"] == "second-order") | (frame["mu"] == first_mu)]


def plot_dialogue(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """The state and reply valence over the protocol by condition, and hysteresis against mu."""
    import matplotlib.pyplot as plt

    figures: dict[str, Any] = {}
    if trajectories is not None and len(trajectories):
        rows = _condition_rows(trajectories)
        figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        starts = rows.groupby("phase")["turn"].min()
        for axis, column, title in (
            (axes[0], "state_valence", "State valence s_t"),
            (axes[1], "reply_valence", "Estimated valence of the agent's reply"),
        ):
            for phase, color in (("perturbation", "tab:red"), ("reconciliation", "tab:green")):
                if phase in starts:
                    end = rows.loc[rows["phase"] == phase, "turn"].max()
                    axis.axvspan(starts[phase] - 0.5, end + 0.5, color=color, alpha=0.08, lw=0)
            for index, (label, group) in enumerate(rows.groupby("label", sort=False)):
                plot_line(axis, group, "turn", column, index, label)
            axis.axhline(0, color="grey", lw=0.5)
            axis.set(xlabel="turn", title=title, ylim=(-1.05, 1.05))
        estimate = rows.groupby("turn")["estimate_valence"].mean()
        axes[0].plot(estimate.index, estimate, "k:", lw=1, label="estimate x_t (mean)")
        axes[0].set(ylabel="valence")
        legend(axes[0], loc="lower left")
        figure.suptitle(
            f"Valence over the protocol's turns ({aggregate_note(n_seeds(rows))})", fontsize=10
        )
        figure.tight_layout()
        figures["vad_valence_trajectory"] = figure
    second = results[results["condition"] == "second-order"]
    if len(second):
        figure, axis = plt.subplots(figsize=(5.5, 3.8))
        plot_points(axis, second, "mu", "hysteresis", 0, "second order", linestyle="-")
        for condition, style in (("first-order", "--"), ("stateless", ":")):
            values = results.loc[results["condition"] == condition, "hysteresis"]
            if len(values):
                axis.axhline(values.mean(), ls=style, color="grey", label=f"{condition} (mean)")
        axis.set(xlabel="momentum mu", ylabel="hysteresis (mean |s_t - x_t|)")
        axis.set_title(
            f"Hysteresis against momentum ({aggregate_note(n_seeds(second))})", fontsize=9
        )
        legend(axis, fontsize=8)
        figure.tight_layout()
        figures["vad_hysteresis_vs_mu"] = figure
    return figures


def plot_contagion(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """State valence by round of the perturbed agent and of the others, by condition."""
    import matplotlib.pyplot as plt

    if trajectories is None or not len(trajectories):
        return {}
    rows = _condition_rows(trajectories)
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for index, (label, group) in enumerate(rows.groupby("label", sort=False)):
        for axis, seeded in zip(axes, (True, False), strict=True):
            part = group[(group["agent"] == 0) == seeded]
            plot_line(axis, part, "round", "valence", index, label)
    axes[0].set(xlabel="round", ylabel="state valence", title="Perturbed agent")
    axes[1].set(xlabel="round", title="Other agents (mean over agents)")
    for axis in axes:
        axis.axhline(0, color="grey", lw=0.5)
    legend(axes[1])
    figure.suptitle(f"State valence by round ({aggregate_note(n_seeds(rows))})", fontsize=9)
    figure.tight_layout()
    return {"vad_contagion": figure}
