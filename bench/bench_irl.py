"""Benchmarks of System 2 (IRL misspecification); each figure is a ratio against a baseline run here.

Run: ``python bench/bench_irl.py`` (single-threaded BLAS, so the figures are per core).

1. L2-minimal canonicalisation: closed-form weighted least squares against gradient descent on the
   potential (what the STARC reference code does with an optimiser); goal >= 100x, same to 1e-6.
2. Soft value iteration for 1000 rewards on a 64x4 MDP: one batched solve against a loop of
   single-reward solves.
3. The ``irl-misspecification`` task over 1000 random 32x4 MDPs: goal < 10 s on one core; against
   the same harness run MDP by MDP (batch_size=1) on a subset, scaled to 1000.
4. How the sweep's cost grows: CPU seconds of ``irl-misspecification`` against n_states (16 .. 256,
   50 MDPs) and against n_mdps (10 .. 3000, 32 states), with the fitted power-law exponents.
   ``--figures DIR`` also draws irl_cost_growth.png (150 dpi) and .svg; ``--quick`` runs smaller
   sizes. (Profiled at 256 states: ~40% of the time is the dense S x S solve of the L2-minimal
   potential, O(S^3) per MDP, ~20% the next-state expectations; no cheap exact speed-up left.)
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from seqrl.agents.irl_harness import evaluate_robustness  # noqa: E402
from seqrl.mechanisms.irl_behaviour import value_iteration  # noqa: E402
from seqrl.mechanisms.irl_mdp import random_transition  # noqa: E402
from seqrl.mechanisms.irl_rewards import canonicalise, minimal_canonicalisation_iterative  # noqa: E402
from seqrl.scenarios.library.irl import irl_misspecification  # noqa: E402


def _timed(function, repeats: int = 1):
    """Best CPU time of this (single-threaded) process over ``repeats`` runs, and the result.

    CPU time rather than wall time: on a shared machine the wall clock counts other jobs' time.
    """
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.process_time()
        result = function()
        best = min(best, time.process_time() - start)
    return best, result


def bench_canonicalisation() -> None:
    rng = np.random.default_rng(0)
    transition = random_transition(rng, 32, 4)
    rewards = rng.normal(size=(100, 32, 4, 32))
    closed_time, closed = _timed(lambda: canonicalise(rewards, transition, 0.9), repeats=5)
    iterative_time, iterative = _timed(
        lambda: minimal_canonicalisation_iterative(rewards, transition, 0.9)
    )
    difference = np.abs(closed - iterative).max()
    print(f"[1] L2-minimal canonicalisation, 100 rewards, 32x4 MDP, gamma 0.9: closed form "
          f"{closed_time * 1e3:.1f} ms, gradient descent {iterative_time * 1e3:.0f} ms -> "
          f"{iterative_time / closed_time:.0f}x faster (goal >= 100x); max |difference| {difference:.1e} "
          f"(goal <= 1e-6)")  # fmt: skip


def bench_soft_value_iteration() -> None:
    rng = np.random.default_rng(1)
    transition = random_transition(rng, 64, 4)
    rewards = rng.normal(size=(1000, 64, 4, 64))
    batched_time, (batched, _) = _timed(
        lambda: value_iteration(transition, rewards, 0.9, temperature=1.0), repeats=2
    )
    loop_time, looped = _timed(
        lambda: np.stack([value_iteration(transition, r, 0.9, temperature=1.0)[0] for r in rewards])
    )
    print(f"[2] soft value iteration, 1000 rewards, 64x4 MDP, gamma 0.9: batched {batched_time:.2f} s, "
          f"loop of single solves {loop_time:.2f} s -> {loop_time / batched_time:.1f}x faster; "
          f"max |difference| {np.abs(batched - looped).max():.1e}")  # fmt: skip


def bench_sweep(subset: int = 50) -> None:
    for label, overrides in (
        ("no misspecification", {}),
        ("gamma 0.9 -> 0.85 and tau_noise 0.05", {"gamma_assumed": 0.85, "tau_noise": 0.05}),
    ):
        args = irl_misspecification.arguments(
            {"n_states": 32, "n_actions": 4, "n_mdps": 1000, **overrides}
        )
        sweep_time, metrics = _timed(
            lambda args=args: irl_misspecification.run(args, np.random.default_rng(0))
        )
        truth, assumed = args.models()
        loop_time, _ = _timed(
            lambda truth=truth, assumed=assumed, args=args, subset=subset: evaluate_robustness(
                truth, assumed, args.mdp_sampler(), subset, 0.05, np.random.default_rng(0),
                transition_noise=args.tau_noise, batch_size=1,
            )
        )  # fmt: skip
        loop_estimate = loop_time * 1000 / subset
        print(f"[3] irl-misspecification, 1000 random 32x4 MDPs, {label}: {sweep_time:.2f} s "
              f"({10.0 / sweep_time:.1f}x under the 10 s goal); MDP-by-MDP loop "
              f"{loop_estimate:.1f} s (measured on {subset}, scaled) -> {loop_estimate / sweep_time:.1f}x; "
              f"starc_worst {metrics['starc_worst']:.3f}")  # fmt: skip


def bench_growth(quick: bool) -> dict:
    """CPU seconds of the sweep against n_states and against n_mdps."""
    grids = {
        "n_states": ([16, 32, 64, 128] + ([] if quick else [256]), {"n_mdps": 50}),
        "n_mdps": ([10, 100, 1000] + ([] if quick else [3000]), {"n_states": 32}),
    }
    growth = {}
    for axis, (grid, fixed) in grids.items():
        seconds = []
        for size in grid:
            args = irl_misspecification.arguments({"n_actions": 4, **fixed, axis: size})
            elapsed, _ = _timed(
                lambda args=args: irl_misspecification.run(args, np.random.default_rng(0)),
                repeats=3 if size <= 100 else 1,
            )
            seconds.append(elapsed)
        exponent = np.polyfit(np.log(grid[1:]), np.log(seconds[1:]), 1)[0]
        growth[axis] = {"grid": grid, "seconds": seconds, "fixed": fixed, "exponent": exponent}
        label = ", ".join(f"{key} {value}" for key, value in fixed.items())
        print(f"[4] irl-misspecification cost against {axis} ({label}, 4 actions): "
              + ", ".join(f"{size}: {value:.2f} s" for size, value in zip(grid, seconds, strict=True))
              + f"; seconds ~ {axis}^{exponent:.2f} (fit over all but the smallest)")  # fmt: skip
    return growth


def draw(growth: dict, folder: str) -> None:
    """Seconds against n_states and n_mdps, log-log, as PNG (150 dpi) and SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (axis, series) in zip(axes, growth.items(), strict=True):
        ax.loglog(series["grid"], series["seconds"], marker="o", label="measured")
        ax.set_xticks(series["grid"], [str(size) for size in series["grid"]])
        ax.minorticks_off()
        label = ", ".join(f"{key} = {value}" for key, value in series["fixed"].items())
        ax.set_xlabel(f"{axis} ({label}, 4 actions)")
        ax.set_ylabel("CPU seconds (one core)")
        ax.set_title(f"irl-misspecification: seconds ~ {axis}^{series['exponent']:.2f}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    figure.suptitle("IRL sweep cost growth (one core, no GPU)", fontsize=10)
    figure.tight_layout()
    for suffix in ("png", "svg"):
        figure.savefig(os.path.join(folder, f"irl_cost_growth.{suffix}"), dpi=150)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Benchmarks of System 2 (IRL misspecification)")
    parser.add_argument("--quick", action="store_true", help="smaller cost-growth sizes")
    parser.add_argument("--figures", help="folder for irl_cost_growth.png/.svg")
    options = parser.parse_args()
    print(f"bench_irl on {os.cpu_count()} CPUs (BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}); "
          f"times are CPU seconds of one core; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    bench_canonicalisation()
    bench_soft_value_iteration()
    bench_sweep()
    growth = bench_growth(options.quick)
    if options.figures:
        draw(growth, options.figures)
