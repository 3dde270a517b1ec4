"""Benchmark of System 3's batched SAC (``SAC-batched``): seconds per gradient step against the
number of members trained as one model, on JAX's default device (the GPU when JAX sees one).

Run: ``python bench/bench_ads_updates.py [--members 1 3 9 27] [--widths 256 64] [--steps 88]``.

One call of :meth:`~seqrl.agents.ads_batched_sac.BatchedSAC.train` runs ``--steps`` updates of
every member in one ``lax.scan`` (an episode's worth: the scenarios call it once per episode), on
buffers of 10,000 random Meta-World-shaped transitions (39-dim observations, 4-dim actions,
SB3's batch of 256). Each figure is the best of ``--repeats`` calls after one that compiles. What
it decides: how many updates the Meta-World comparison's drivers need from one device, e.g. 9 x
300k steps at ``ms per step`` of 3 members (``bench/gpu_kit.sh`` runs it first on a GPU).
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np


def seconds_per_step(members: int, width: int, steps: int, repeats: int) -> float:
    """Best wall time of one ``train(steps)`` call of ``members`` members, divided by ``steps``."""
    from seqrl.agents.ads_batched_sac import BatchedSAC, Replay, SACSettings

    settings = SACSettings(net_arch=(width, width), buffer_size=10_000)
    model = BatchedSAC(members, 39, 4, settings, seed=0)
    rng = np.random.default_rng(0)
    shape = (members, settings.buffer_size)
    model.add(
        Replay(
            rng.standard_normal((*shape, 39)),
            rng.uniform(-1, 1, (*shape, 4)),
            rng.standard_normal(shape),
            rng.standard_normal((*shape, 39)),
            np.zeros(shape),
        )  # fmt: skip
    )
    gammas = np.full(members, 0.99)
    model.train(steps, gammas)  # compiles
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        model.train(steps, gammas)  # returns numpy arrays: the device has finished
        best = min(best, time.perf_counter() - start)
    return best / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[1, 3, 9, 27])
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 64])
    parser.add_argument("--steps", type=int, default=88, help="updates per train call")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import jax

    print(f"JAX {jax.__version__} on {jax.devices()[0]} ({jax.default_backend()}), "
          f"{platform.processor() or platform.machine()}; {args.steps} updates a call, "
          f"best of {args.repeats}")  # fmt: skip
    print(f"  {'width':>6s}{'members':>9s}{'ms / step':>11s}{'ms / member-step':>18s}"
          f"{'9 x 300k steps (device s)':>27s}")  # fmt: skip
    for width in args.widths:
        for members in args.members:
            seconds = seconds_per_step(members, width, args.steps, args.repeats)
            print(f"  {width:>6d}{members:>9d}{seconds * 1e3:>11.3f}"
                  f"{seconds * 1e3 / members:>18.3f}{9 * 300_000 * seconds:>27.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
