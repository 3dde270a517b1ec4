"""Plots of the IRL scenarios (System 2): STARC distances to the true reward under misspecification.

``irl-misspecification`` gets one figure per kind of error (discount, dynamics, temperature),
``irl-perturbation`` the distance against delta beside the scaling construction, and
``irl-mce-wrong-discount`` the MCE-IRL distance and regret against the assumed discount.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

_MODEL_PAIR = ["true_model", "assumed_model"]


def _plot_against(
    axis: Any, frame: pd.DataFrame, x: pd.Series, label_columns: list[str], xlabel: str
) -> None:
    """Worst-found, supremum and representative STARC distances of each group against ``x``."""
    frame = frame.assign(_x=x)
    groups = frame.groupby(label_columns) if label_columns else [((), frame)]
    for key, group in groups:
        by_x = group.groupby("_x")
        label = " -> ".join(map(str, key if isinstance(key, tuple) else (key,)))
        line = axis.plot(by_x["starc_worst"].mean(), "o-", label=f"worst found {label}".strip())[0]
        axis.plot(
            by_x["starc_supremum"].mean(),
            "--",
            color=line.get_color(),
            label=f"supremum {label}".strip(),
        )
        axis.plot(by_x["starc_representative"].mean(), ":", color=line.get_color(), marker="x",
                  label=f"representative {label}".strip())  # fmt: skip
    axis.set(xlabel=xlabel, ylabel="STARC distance to the true reward", ylim=(-0.03, 1.03))
    axis.set_xscale("symlog", linthresh=1e-3)
    axis.set_xlim(left=-1e-4)
    axis.legend(fontsize=7)


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
        axis.set_title("Discount misspecification: worst case over the consistent set")
        figure.tight_layout()
        figures["irl_discount"] = figure
    same_discount = results[discount_error < 1e-12]
    if len(same_discount):
        figure, axis = plt.subplots(figsize=(6, 4))
        _plot_against(axis, same_discount, same_discount["tau_noise"], _MODEL_PAIR, "tau noise")
        axis.set_title("Dynamics misspecification: worst case over the consistent set")
        figure.tight_layout()
        figures["irl_dynamics"] = figure
    exact = results[(discount_error < 1e-12) & (results["tau_noise"] == 0)]
    if len(exact):
        figure, axis = plt.subplots(figsize=(6, 4))
        ratio = exact["temperature_assumed"] / exact["temperature_true"]
        for key, group in exact.assign(_ratio=ratio).groupby(_MODEL_PAIR):
            by_ratio = group.groupby("_ratio")
            axis.plot(by_ratio["starc_worst"].mean(), "o-", label=f"worst {key[0]} -> {key[1]}")
            axis.plot(
                by_ratio["regret_representative"].mean(), "x:", label=f"regret {key[0]} -> {key[1]}"
            )
        axis.set(xlabel="temperature_assumed / temperature_true", ylabel="distance / regret",
                 xscale="log", ylim=(-0.03, 1.03),
                 title="Temperature misspecification (right gamma and tau)")  # fmt: skip
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.legend(fontsize=7)
        figure.tight_layout()
        figures["irl_temperature"] = figure
    return figures


def plot_perturbation(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """Worst STARC distance against delta per (model, reward scale), and the scaling pair's."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for (model, scale), group in results.groupby(["model", "scale"]):
        by_delta = group.groupby("delta")
        axis.plot(by_delta["starc_worst"].mean(), "o-", label=f"{model}, reward scale {scale:g}")
    by_delta = results.groupby("delta")
    axis.plot(by_delta["starc_scaling"].mean(), "k--", label="scaling construction d(cR, -cR)")
    axis.set(xlabel="delta (max-state total variation of the data perturbation)",
             ylabel="worst STARC distance to the truth", xscale="log", ylim=(-0.03, 1.03),
             title="Policy perturbation: continuous models are not robust")  # fmt: skip
    axis.legend(fontsize=7)
    figure.tight_layout()
    return {"irl_perturbation": figure}


def plot_wrong_discount(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """MCE-IRL's STARC distance and regret against gamma_assumed (a grey line at gamma_true)."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for key, group in results.groupby(["environment", "state_reward", "gamma_true"]):
        by_gamma = group.groupby("gamma_assumed")
        label = f"{key[0]}, {key[1]} reward, gamma_true={key[2]:g}"
        line = axis.plot(by_gamma["starc"].mean(), "o-", label=f"STARC: {label}")[0]
        axis.plot(by_gamma["regret"].mean(), "x:", color=line.get_color(), label=f"regret: {label}")
        axis.axvline(key[2], color="grey", alpha=0.3)
    axis.set(xlabel="gamma_assumed", ylabel="STARC distance / normalised regret",
             title="MCE-IRL, state-only reward, wrong discount")  # fmt: skip
    axis.legend(fontsize=7)
    figure.tight_layout()
    return {"irl_mce_wrong_discount": figure}
