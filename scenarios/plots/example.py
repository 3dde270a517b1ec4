"""Plot of ``example-random-walk``: simulated ruin probability against the closed form."""

from __future__ import annotations

from typing import Any

import pandas as pd

from seqrl.scenarios.plots.style import aggregate_note, figure, legend, n_seeds, plot_points


def plot_random_walk(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    """P(ruin) by p: the seeds' mean with its 95% bootstrap interval, and the closed form."""
    fig, axes = figure(width=5.5, height=3.8)
    axis = axes[0, 0]
    closed_form = results.groupby("p")["closed_form_ruin"].first()
    axis.plot(closed_form.index, closed_form, "k-", lw=1, label="closed form")
    plot_points(axis, results, "p", "ruin_rate", 0, "simulated")
    axis.set(xlabel="p (probability of a step up)", ylabel="P(ruin)")
    axis.set_title(f"Gambler's ruin probability against p\n({aggregate_note(n_seeds(results))})",
                   fontsize=9)  # fmt: skip
    legend(axis, fontsize=8)
    fig.tight_layout()
    return {"ruin_probability": fig}
