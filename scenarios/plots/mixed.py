"""Plots of the mixed-population scenarios (``llm-cascade``, ``mixed-population``,
``marl-sequential``; scenarios/library/mixed.py).

Each function maps (results, trajectories) to {file stem: matplotlib Figure}; pyplot is imported
lazily and no backend is chosen here. Points and lines are means over seeds with a 95% bootstrap
interval from three seeds on (:mod:`seqrl.scenarios.plots.style`).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from seqrl.scenarios.plots.style import (
    aggregate_note,
    figure,
    legend,
    n_seeds,
    plot_line,
    plot_points,
    series_style,
)


def _epsilon_label(epsilon: float) -> str:
    return "no privacy" if math.isinf(epsilon) else f"epsilon = {epsilon:g}"


def _population_label(row: pd.Series) -> str:
    if row["agent"] == "llm":
        return f"LLM {row['condition']}"
    return str(row["agent"])


def plot_llm_cascade(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Per population: P(correct cascade) and herding beside the paired Bayesians and the closed
    form; accuracy by position."""
    fig, axes = figure(ncols=2, width=6.2)
    frame = results.assign(population=results.apply(_population_label, axis=1))
    labels = sorted(frame["population"].unique())
    frame = frame.assign(slot=frame["population"].map({label: i for i, label in enumerate(labels)}))
    for index, (epsilon, rows) in enumerate(frame.groupby("epsilon")):
        offset = 0.15 * (index - 0.5)
        shifted = rows.assign(slot=rows["slot"] + offset)
        name = _epsilon_label(epsilon)
        plot_points(axes[0, 0], shifted, "slot", "correct_cascade_rate", index, name)
        plot_points(axes[0, 0], shifted, "slot", "bayesian_correct_cascade_rate", index,
                    f"paired Bayesians, {name}", marker="x")  # fmt: skip
        axes[0, 0].axhline(rows["closed_form_correct"].iloc[0], color=series_style(index)["color"],
                           ls=":", lw=1, label=f"closed form, {name}")  # fmt: skip
        plot_points(axes[0, 1], shifted, "slot", "herding", index, name)
        plot_points(axes[0, 1], shifted, "slot", "bayesian_herding", index,
                    f"paired Bayesians, {name}", marker="x")  # fmt: skip
    for axis, ylabel in ((axes[0, 0], "P(cascade is correct)"),
                         (axes[0, 1], "herding: against own signal, with the majority")):  # fmt: skip
        axis.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
        axis.set_xlim(-0.5, len(labels) - 0.5)
        axis.set_ylabel(ylabel)
        legend(axis)
    note = aggregate_note(n_seeds(results))
    axes[0, 0].set_title(f"Correct cascades (observers' public belief)\n({note})", fontsize=10)
    axes[0, 1].set_title(f"How often a learner herds\n({note})", fontsize=10)
    fig.tight_layout()
    figures = {"llm_cascade": fig}
    if trajectories is not None and not trajectories.empty:
        position_fig, position_axes = figure(width=7.0)
        axis = position_axes[0, 0]
        traj = trajectories.assign(
            label=trajectories.apply(
                lambda r: (
                    (r["population"] if r["population"] != "llm" else f"LLM {r['condition']}")
                    + f", {_epsilon_label(r['epsilon'])}"
                ),
                axis=1,
            )
        )
        for index, (label, rows) in enumerate(traj.groupby("label")):
            plot_line(axis, rows, "position", "accuracy", index, label)
        axis.set(xlabel="position n in the sequence", ylabel="P(guess is right)",
                 title=f"Accuracy by position ({aggregate_note(n_seeds(traj))})")  # fmt: skip
        legend(axis, fontsize=6)
        position_fig.tight_layout()
        figures["llm_cascade_positions"] = position_fig
    return figures


def plot_mixed_population(
    results: pd.DataFrame, trajectories: pd.DataFrame | None
) -> dict[str, Any]:
    """Calibration error of the public belief and the agents' accuracy against the fraction f."""
    fig, axes = figure(ncols=3, width=4.6)
    note = aggregate_note(n_seeds(results))
    for index, ((other, epsilon), rows) in enumerate(results.groupby(["other", "epsilon"])):
        label = f"{other}, {_epsilon_label(epsilon)}"
        plot_line(axes[0, 0], rows, "fraction", "calibration_error", index, label)
        plot_line(axes[0, 1], rows, "fraction", "bayesian_agents_accuracy", index, label)
        plot_line(axes[0, 2], rows, "fraction", "final_belief_correct", index, label)
    axes[0, 0].set(ylabel="calibration error of P(theta = +1 | l_n)",
                   title="Public belief's calibration")  # fmt: skip
    axes[0, 1].set(ylabel="accuracy of the Bayesian agents", title="Bayesians misled")
    axes[0, 2].set(ylabel="P(final public belief favours the truth)", title="Learning")
    for axis in axes[0]:
        axis.set_xlabel("fraction f of non-Bayesian agents")
        legend(axis)
    fig.suptitle(f"Observers assume everyone is Bayesian ({note})", fontsize=10)
    fig.tight_layout()
    return {"mixed_population": fig}


def plot_marl(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Accuracy and herding by position: PPO learners, paired Bayesians and the engine benchmark."""
    if trajectories is None or trajectories.empty:
        fig, _ = figure()
        return {"marl_sequential": fig}
    panels = list(trajectories.groupby(["epsilon", "tell_public_llr"]))
    fig, axes = figure(ncols=len(panels), width=4.8)
    herd_fig, herd_axes = figure(ncols=len(panels), width=4.8)
    for column, ((epsilon, told), rows) in enumerate(panels):
        title = f"{_epsilon_label(epsilon)}, {'told' if told else 'not told'} l_n"
        for index, (population, series) in enumerate(rows.groupby("population")):
            plot_line(axes[0, column], series, "position", "accuracy", index, population)
            if series["against_signal"].notna().any():
                plot_line(herd_axes[0, column], series, "position", "herding", index, population)
        axes[0, column].set(xlabel="position n", ylabel="P(guess is right)", title=title)
        herd_axes[0, column].set(xlabel="position n", ylabel="herding rate", title=title)
        legend(axes[0, column])
        legend(herd_axes[0, column])
    note = aggregate_note(n_seeds(trajectories))
    fig.suptitle(f"Shared-PPO learners against the Bayesian benchmark ({note})", fontsize=10)
    herd_fig.suptitle(f"Against the own signal, with the majority ({note})", fontsize=10)
    fig.tight_layout()
    herd_fig.tight_layout()
    return {"marl_sequential": fig, "marl_herding": herd_fig}
