"""A small built-in example: the gambler's ruin, simulated and checked against its closed forms.

It exercises every part of the engine (grid, seeds, trajectories, plot) in a second, and its closed
forms make it a test of the runner too: the simulated ruin probability must match
``P(ruin) = (r^k - r^N) / (1 - r^N)`` with ``r = (1 - p) / p`` (``1 - k/N`` when ``p = 1/2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqrl.scenarios.core import TaskOutput, param, scenario
from seqrl.scenarios.plots.example import plot_random_walk


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


@dataclass(frozen=True)
class RandomWalkArgs:
    """Parameters of ``example-random-walk``."""

    p: float = param(
        0.5,
        "probability of a step up",
        low=0.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )
    start: int = param(5, "starting capital k", low=1)
    target: int = param(10, "absorbing upper barrier N", low=2)
    n_walks: int = param(2000, "independent walks per task", low=1)

    def __post_init__(self) -> None:
        if not 1 <= self.start < self.target:
            raise ValueError(
                f"start must be in [1, target), got start={self.start}, target={self.target}"
            )


@scenario(
    name="example-random-walk",
    description="Gambler's ruin: simulated ruin probability and duration against closed forms.",
    params=RandomWalkArgs,
    plot=plot_random_walk,
    grid={"p": [0.4, 0.45, 0.5, 0.55, 0.6]},
    quick={"n_walks": 500},
)
def random_walk(args: RandomWalkArgs, rng: np.random.Generator) -> TaskOutput:
    """Simulate ``n_walks`` walks at once until each is absorbed."""
    p, start, target = args.p, args.start, args.target
    position = np.full(args.n_walks, start)
    duration = np.zeros(args.n_walks, dtype=np.int64)
    alive = np.ones(args.n_walks, dtype=bool)
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
