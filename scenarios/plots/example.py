"""Plot of ``example-random-walk``: simulated ruin probability against the closed form."""

from __future__ import annotations

from typing import Any

import pandas as pd


def plot_random_walk(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """P(ruin) by p: the seeds' mean with a 95% normal interval, and the closed form."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5))
    by_p = results.groupby("p")
    axis.errorbar(
        by_p["ruin_rate"].mean().index,
        by_p["ruin_rate"].mean(),
        yerr=1.96 * by_p["ruin_rate"].sem().fillna(0),
        fmt="o",
        label="simulated (95% CI)",
    )
    axis.plot(by_p["closed_form_ruin"].first(), "k-", label="closed form")
    axis.set(xlabel="p (probability of a step up)", ylabel="P(ruin)", title="Gambler's ruin")
    axis.legend()
    figure.tight_layout()
    return {"ruin_probability": figure}
