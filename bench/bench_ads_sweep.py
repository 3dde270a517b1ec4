"""Benchmark of System 3 (ADS): a sweep's aggregate agent steps/s on 2 cores, and its learning
quality, for the current path against several runs trained as one batched model.

Run: ``python bench/bench_ads_sweep.py [--runs 10] [--budget 8000] [--workers 2]``.

Both sweeps are the same ``ads-toy`` runs (schedule ADS, ``budget`` steps each, 10 evaluation
episodes every 500 steps, OT relabelling at every episode end), run through ``seqrl.run`` on
``workers`` processes, one after the other in this script:

- baseline: SB3 SAC with the scenario's settings, one run per task, ``runs`` seeds;
- batched: ``algorithm=SAC-batched``, ``runs / workers`` runs per task as one JAX model (vmapped
  updates, one ``lax.scan`` per episode), ``workers`` seeds; with the scenario's settings, and
  with two of the issue's candidates on top: hidden layers of 32 (``width=32``), one gradient
  step per two or per three env steps (``gradient_steps=12`` or ``8`` per 24-step episode), and
  32-unit layers with half the updates. Before each
  batched sweep a 1000-step sweep of the same shapes fills JAX's persistent compilation cache
  (a batched update of a given shape compiles once per machine, ~4-8 s); its seconds are printed
  apart, and the timed sweep loads the compiled programs from the cache. The baseline runs first
  and again last; ratios are against the mean of its two walls.

Run ``k`` of batched seed ``s`` sees exactly the demos and seeds of baseline seed ``s * R + k``
(:func:`seqrl.replicate_rngs`), so the two sweeps are paired run by run. Printed: wall seconds,
aggregate steps/s (runs x budget / wall, JAX compilation included), the ratio, and each run's
final success (the paired learning quality, with a sign test of the pairs).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import seqrl
from seqrl.scenarios.statistics import paired_comparison

VARIANTS: dict[str, dict | None] = {
    "SB3 SAC, one run per task": None,
    "SAC-batched": {},
    "SAC-batched, width 32": {"width": 32},
    "SAC-batched, 1/2 update per step": {"gradient_steps": 12},
    "SAC-batched, 1/3 update per step": {"gradient_steps": 8},
    "SAC-batched, width 32, 1/2 update per step": {"width": 32, "gradient_steps": 12},
}
"""The sweeps: None is the baseline; a dict, the batched path with these settings on top."""


def sweep(
    runs: int, budget: int, workers: int, batched: dict | None
) -> tuple[float, float, np.ndarray]:
    """Seconds of the compilation warm-up (0 for the baseline), wall seconds and per-run final
    success of one sweep (in the baseline's seed order)."""
    params: dict = {"schedule": "ads", "budget": budget}
    seeds = runs
    warm_up = 0.0
    if batched is not None:
        params |= {"algorithm": "SAC-batched", "runs": runs // workers} | batched
        seeds = workers
        start = time.perf_counter()
        seqrl.run("ads-toy", params | {"budget": 1_000}, seeds=seeds, workers=workers)
        warm_up = time.perf_counter() - start
    start = time.perf_counter()
    result = seqrl.run("ads-toy", params, seeds=seeds, workers=workers)
    wall = time.perf_counter() - start
    if batched is not None:
        final = result.trajectories.query("metric == 'success_rate'")
        final = final[final["step"] == final["step"].max()]
        per_run = final.sort_values(["seed_index", "run"])["value"].to_numpy()
    else:
        per_run = result.results.sort_values("seed_index")["success_rate"].to_numpy()
    return warm_up, wall, per_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--budget", type=int, default=8_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.runs % args.workers:
        parser.error(f"--runs must be a multiple of --workers, got {args.runs}, {args.workers}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.runs} runs x {args.budget} "
          f"steps on {args.workers} workers")  # fmt: skip
    rows = {}
    for name, batched in VARIANTS.items():
        warm_up, wall, success = sweep(args.runs, args.budget, args.workers, batched)
        rows[name] = (wall, success)
        rate = args.runs * args.budget / wall
        print(f"{name}: {wall:.1f} s (after a {warm_up:.1f} s compilation warm-up), "
              f"{rate:.0f} agent steps/s aggregate; success per run "
              f"{np.round(success, 2).tolist()}, solved {int((success >= 0.5).sum())}/{args.runs}, "
              f"mean {success.mean():.2f}", flush=True)  # fmt: skip
    # The machine's speed drifts by 15-30% over minutes: the baseline runs again last, and the
    # ratios are against the mean of its two walls (both printed).
    _, again, _ = sweep(args.runs, args.budget, args.workers, None)
    first_wall, base = next(iter(rows.values()))
    base_wall = (first_wall + again) / 2
    print(f"baseline again: {again:.1f} s; ratios against the mean, {base_wall:.1f} s "
          f"(against the first alone x{first_wall / base_wall:.2f}, the second x{again / base_wall:.2f})")  # fmt: skip
    for name, (wall, success) in list(rows.items())[1:]:
        pairs = paired_comparison(success, base)
        print(f"{name}: {base_wall / wall:.2f}x the baseline's aggregate steps/s; paired by run: "
              f"better in {pairs.better}, worse in {pairs.worse}, tied in {pairs.tied}, mean "
              f"difference {pairs.mean_difference:+.2f}, sign test p = {pairs.sign_test_p:.2f}")  # fmt: skip
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
