"""Plots of the IRL scenarios (System 2): STARC distances to the true reward under misspecification.

``irl-misspecification`` gets one figure per kind of error (discount, dynamics, temperature),
``irl-perturbation`` the distance against delta beside the scaling construction, and
``irl-mce-wrong-discount`` the MCE-IRL distance and regret against the assumed discount.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from seqrl.scenarios.plots.style import aggregate_note, legend, n_seeds, plot_line, series_style

_MODEL_PAIR = ["true_model", "assumed_model"]
_KINDS = (
    ("starc_worst", "worst found", {"marker": "o", "linestyle": "-"}),
    ("starc_supremum", "supremum", {"marker": "none", "linestyle": "--"}),
    ("starc_representative", "representative", {"marker": "x", "linestyle": ":"}),
)
"""The three distances of a group: one colour per group, one marker and line style per kind."""


def _plot_against(
    axis: Any, frame: pd.DataFrame, x: pd.Series, label_columns: list[str], xlabel: str
) -> None:
    """Worst-found, supremum and representative STARC distances of each group against ``x``."""
    frame = frame.assign(_x=x)
    groups = frame.groupby(label_columns) if label_columns else [((), frame)]
    for index, (key, group) in enumerate(groups):
        label = " -> ".join(map(str, key if isinstance(key, tuple) else (key,)))
        for column, kind, style in _KINDS:
            plot_line(axis, group, "_x", column, index, f"{kind} {label}".strip(), **style)
    axis.set(xlabel=xlabel, ylabel="STARC distance to the true reward", ylim=(-0.03, 1.03))
    axis.set_xscale("symlog", linthresh=1e-3)
    axis.set_xlim(left=-1e-4)
    legend(axis)


def plot_misspecification(
    results: pd.DataFrame, trajectories: pd.DataFrame | None
) -> dict[str, Any]:
    """One figure per misspecified quantity, each over the rows where the other two are right.

    ``irl_discount``: distance against ``|gamma_true - gamma_assumed|`` (right dynamics);
    ``irl_dynamics``: against ``tau_noise`` (right discount); ``irl_temperature``: worst distance
    and regret against ``temperature_assumed / temperature_true`` (right discount and dynamics).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    figures: dict[str, Any] = {}
    discount_error = (results["gamma_true"] - results["gamma_assumed"]).abs()
    same_dynamics = results[results["tau_noise"] == 0]
    if len(same_dynamics):
        figure, axis = plt.subplots(figsize=(6, 4))
        _plot_against(axis, same_dynamics, discount_error[same_dynamics.index], _MODEL_PAIR,
                      "|gamma_true - gamma_assumed|")  # fmt: skip
        axis.set_title("STARC distance against the discount error (right dynamics)\n"
                       f"({aggregate_note(n_seeds(same_dynamics))})", fontsize=9)  # fmt: skip
        figure.tight_layout()
        figures["irl_discount"] = figure
    same_discount = results[discount_error < 1e-12]
    if len(same_discount):
        figure, axis = plt.subplots(figsize=(6, 4))
        _plot_against(axis, same_discount, same_discount["tau_noise"], _MODEL_PAIR, "tau noise")
        axis.set_title("STARC distance against the dynamics noise (right discount)\n"
                       f"({aggregate_note(n_seeds(same_discount))})", fontsize=9)  # fmt: skip
        figure.tight_layout()
        figures["irl_dynamics"] = figure
    exact = results[(discount_error < 1e-12) & (results["tau_noise"] == 0)]
    if len(exact):
        figure, axis = plt.subplots(figsize=(6, 4))
        ratio = exact["temperature_assumed"] / exact["temperature_true"]
        for index, (key, group) in enumerate(exact.assign(_ratio=ratio).groupby(_MODEL_PAIR)):
            pair = f"{key[0]} -> {key[1]}"
            plot_line(axis, group, "_ratio", "starc_worst", index, f"worst {pair}", linestyle="-")
            plot_line(axis, group, "_ratio", "regret_representative", index, f"regret {pair}",
                      marker="x", linestyle=":")  # fmt: skip
        axis.set(xlabel="temperature_assumed / temperature_true", ylabel="distance / regret",
                 xscale="log", ylim=(-0.03, 1.03))  # fmt: skip
        axis.set_title("Worst STARC distance and regret against the temperature ratio\n"
                       f"(right gamma and tau; {aggregate_note(n_seeds(exact))})", fontsize=9)  # fmt: skip
        axis.xaxis.set_minor_formatter(NullFormatter())
        legend(axis)
        figure.tight_layout()
        figures["irl_temperature"] = figure
    return figures


def plot_perturbation(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Worst STARC distance against delta per (model, reward scale), and the scaling pair's."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    groups = results.groupby(["model", "scale"])
    for index, ((model, scale), group) in enumerate(groups):
        plot_line(axis, group, "delta", "starc_worst", index, f"{model}, reward scale {scale:g}")
    plot_line(axis, results, "delta", "starc_scaling", groups.ngroups,
              "scaling construction d(cR, -cR)", color="black", linestyle="--")  # fmt: skip
    axis.set(
        xlabel="delta (max-state total variation of the data perturbation)",
        ylabel="worst STARC distance to the truth",
        xscale="log",
        ylim=(-0.03, 1.03),
    )
    axis.set_title("Worst STARC distance against the perturbation delta\n"
                   f"({aggregate_note(n_seeds(results))})", fontsize=9)  # fmt: skip
    legend(axis)
    figure.tight_layout()
    return {"irl_perturbation": figure}


def plot_wrong_discount(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """MCE-IRL's STARC distance and regret against gamma_assumed (a grey line at gamma_true)."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    groups = results.groupby(["environment", "state_reward", "gamma_true"])
    for index, (key, group) in enumerate(groups):
        label = f"{key[0]}, {key[1]} reward, gamma_true={key[2]:g}"
        plot_line(axis, group, "gamma_assumed", "starc", index, f"STARC: {label}", linestyle="-")
        plot_line(axis, group, "gamma_assumed", "regret", index, f"regret: {label}", marker="x",
                  linestyle=":")  # fmt: skip
        axis.axvline(key[2], color=series_style(index)["color"], alpha=0.3)
    axis.set(xlabel="gamma_assumed", ylabel="STARC distance / normalised regret")
    axis.set_title("MCE-IRL: STARC distance and regret against the assumed discount\n"
                   f"({aggregate_note(n_seeds(results))})", fontsize=9)  # fmt: skip
    legend(axis)
    figure.tight_layout()
    return {"irl_mce_wrong_discount": figure}
