"""Benchmark of System 3 (ADS): how the batched path's agent steps/s grow with the runs trained as
one model, end to end on one core, against SB3 SAC's one run per process.

Run: ``python bench/bench_ads_members.py [--members 1 2 5 10 20] [--widths 64 32] [--budget 4000]``
(about 6 minutes); ``--figure`` also draws docs/figures/ads_members_growth.{png,svg}.

Each point is one ``ads-toy`` task (schedule ADS, ``budget`` steps per run, the scenario's
evaluation and OT relabelling) with ``algorithm=SAC-batched`` and ``runs`` = K members, through
``seqrl.run`` on the serial executor in this process: aggregate agent steps/s = K x budget / wall,
wall including demo collection, learner set-up and evaluation. A 1000-step task of the same shapes
runs first (past the scenario's 500 random steps, so it trains) so that JAX's persistent cache
holds the compiled update (its seconds are printed apart). The reference is SB3 SAC (the
scenario's default algorithm), one run, same budget, in the same process. One torch and one XLA
thread: this is the cost on one of the sweep's cores.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import seqrl  # noqa: E402
from seqrl.scenarios.report import save_figure  # noqa: E402

FIGURE_DIRECTORY = Path(__file__).resolve().parents[1] / "docs" / "figures"
FIGURE_STEM = "ads_members_growth"


def task_seconds(params: dict) -> float:
    """Wall seconds of one serial ``ads-toy`` task with these parameters."""
    start = time.perf_counter()
    seqrl.run("ads-toy", {"schedule": "ads"} | params, seeds=1, executor="serial")
    return time.perf_counter() - start


def plot(rates: dict[int, dict[int, float]], reference: float, budget: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    for width, by_members in rates.items():
        members = sorted(by_members)
        ax.plot(members, [by_members[k] for k in members], "-o",
                label=f"SAC-batched, {width} x {width}, K runs as one model")  # fmt: skip
    ax.axhline(reference, color="grey", linestyle="--", label="SB3 SAC, 64 x 64, one run")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("runs trained as one model (K)")
    ax.set_ylabel("aggregate agent steps/s, one core")
    ax.set_title(f"ADS on FetchDeliver, {budget} steps per run, end to end", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    paths = save_figure(fig, FIGURE_DIRECTORY, FIGURE_STEM)
    print("figure: " + ", ".join(str(path) for path in paths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[1, 2, 5, 10, 20])
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 32])
    parser.add_argument("--budget", type=int, default=4_000)
    parser.add_argument("--figure", action="store_true", help="draw docs/figures/ads_members_*")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.2f}; ads-toy, {args.budget} steps per run")
    reference = args.budget / task_seconds({"budget": args.budget})
    print(f"SB3 SAC, 64 x 64, one run: {reference:.0f} agent steps/s")
    rates: dict[int, dict[int, float]] = {}
    for width in args.widths:
        rates[width] = {}
        for members in args.members:
            params = {"algorithm": "SAC-batched", "runs": members, "width": width}
            warm_up = task_seconds(params | {"budget": 1_000})
            wall = task_seconds(params | {"budget": args.budget})
            rate = members * args.budget / wall
            rates[width][members] = rate
            print(
                f"SAC-batched, {width} x {width}, K = {members:2d}: {wall:6.1f} s (warm-up"
                f" {warm_up:4.1f} s), {rate:6.0f} agent steps/s, {rate / reference:5.2f}x SB3 SAC"
            )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.figure:
        plot(rates, reference, args.budget)


if __name__ == "__main__":
    main()
