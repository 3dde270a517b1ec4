"""A small built-in example: the gambler's ruin, simulated and checked against its closed forms.

It exercises every part of the engine (grid, seeds, trajectories, plot) in a second, and its closed
forms make it a test of the runner too: the simulated ruin probability must match
``P(ruin) = (r^k - r^N) / (1 - r^N)`` with ``r = (1 - p) / p`` (``1 - k/N`` when ``p = 1/2``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scenarios.core import Param, TaskOutput, scenario


def ruin_probability(p: float, start: int, target: int) -> float:
    """Probability that a +-1 walk with up-probability p hits 0 before ``target`` from ``start``."""
    if p == 0.5:
        return 1.0 - start / target
    r = (1.0 - p) / p
    return (r**start - r**target) / (1.0 - r**target)


def expected_duration(p: float, start: int, target: int) -> float:
    """Expected number of steps until the walk hits 0 or ``target``."""
    if p == 0.5:
        return float(start * (target - start))
    q, r = 1.0 - p, (1.0 - p) / p
    return start / (q - p) - target / (q - p) * (1.0 - r**start) / (1.0 - r**target)


def _plot(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
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


def _check(params: dict[str, Any]) -> None:
    if not 1 <= params["start"] < params["target"]:
        raise ValueError(
            f"start must be in [1, target), got start={params['start']}, target={params['target']}"
        )


@scenario(
    name="example-random-walk",
    description="Gambler's ruin: simulated ruin probability and duration against closed forms.",
    params=[
        Param(
            "p",
            float,
            0.5,
            "probability of a step up",
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        ),
        Param("start", int, 5, "starting capital k", low=1),
        Param("target", int, 10, "absorbing upper barrier N", low=2),
        Param("n_walks", int, 2000, "independent walks per task", low=1),
    ],  # fmt: skip
    plot=_plot,
    grid={"p": [0.4, 0.45, 0.5, 0.55, 0.6]},
    quick={"n_walks": 500},
    check=_check,
)
def random_walk(params: dict[str, Any], rng: np.random.Generator) -> TaskOutput:
    """Simulate ``n_walks`` walks at once until each is absorbed."""
    p, start, target = params["p"], params["start"], params["target"]
    position = np.full(params["n_walks"], start)
    duration = np.zeros(params["n_walks"], dtype=np.int64)
    alive = np.ones(params["n_walks"], dtype=bool)
    absorbed_by_step = []
    while alive.any():
        index = np.flatnonzero(alive)
        position[index] += np.where(rng.random(index.size) < p, 1, -1)
        duration[index] += 1
        alive[index] = (position[index] > 0) & (position[index] < target)
        absorbed_by_step.append(1.0 - alive.mean())
    ruined = position == 0
    return TaskOutput(
        metrics={
            "ruin_rate": float(ruined.mean()),
            "closed_form_ruin": ruin_probability(p, start, target),
            "mean_duration": float(duration.mean()),
            "closed_form_duration": expected_duration(p, start, target),
        },
        trajectories=pd.DataFrame(
            {"step": np.arange(1, len(absorbed_by_step) + 1), "absorbed": absorbed_by_step}
        ),
    )
