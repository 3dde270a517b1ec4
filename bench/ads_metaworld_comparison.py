"""The Meta-World comparison of System 3: ADS against fixed gamma 0.99 and 0.9 on basketball-v3,
hammer-v3 and assembly-v3, several seeds each, as one ``seqrl run ads-metaworld``.

On this 2-core machine (the budget that fits in about an hour)::

    python bench/ads_metaworld_comparison.py --budget 30000 --workers 2 --out results/metaworld-cpu

On a GPU machine (16 cores, one H200, JAX with CUDA; >= 300k steps per run)::

    python bench/ads_metaworld_comparison.py --budget 300000 --workers 9 --gpu --async-envs \\
        --out results/metaworld-gpu

Each (task, schedule) is one task of the run training ``--runs`` seeds as one batched model
(``algorithm=SAC-batched``, the paper's 256 x 256 SAC): on a GPU the members' updates run there
in one program per task, and with ``--async-envs`` every run's simulator steps in its own process
(27 MuJoCo processes and 9 drivers on 16 cores). Sizing (not yet measured on a GPU: none was lent
when this was written): a Meta-World step costs 0.5-0.65 ms of one core here, so 27 runs x 300k
steps are ~4,900 core-seconds of simulation, about 5 minutes on 16 cores. The run directory holds
what every run holds (results, trajectories, IQM learning curves with 95% stratified-bootstrap
bands in summary.md, saved policies); this script prints, per task and schedule, the final success
of each run, the IQM over runs of each run's mean success over its evaluations, the first
evaluation step at which any run succeeded, and ADS against each fixed gamma paired by run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import pandas as pd

from seqrl.scenarios.statistics import estimate, iqm, paired_comparison

TASKS = ["basketball-v3", "hammer-v3", "assembly-v3"]


def report_task(task: str, curves: pd.DataFrame) -> None:
    """Per schedule: final success per run, the run's mean success over its evaluations (the
    area under its success curve) as an IQM with a 95% bootstrap interval, and the first success;
    then each fixed schedule against ADS, paired by run (run k shares demos and seed)."""
    areas = {}
    for (schedule, gamma), group in curves.groupby(["schedule", "gamma"]):
        label = "ADS" if schedule == "ads" else f"fixed {gamma:g}"
        by_run = group.pivot_table(index="run", columns="step", values="value")
        areas[label] = by_run.mean(axis=1).to_numpy()
        area = estimate(areas[label], iqm)
        solved = group[group["value"] > 0]["step"]
        first = f"first success at {solved.min():.0f} steps" if len(solved) else "no success"
        print(f"{task} {label}: final success per run "
              f"{' '.join(f'{v:.2f}' for v in by_run.iloc[:, -1])}; mean over evaluations, IQM "
              f"{area.value:.3f} [{area.low:.3f}, {area.high:.3f}]; {first}")  # fmt: skip
    ads = areas.pop("ADS", None)
    for label, area in areas.items() if ads is not None else ():
        pairs = paired_comparison(ads, area)
        print(f"{task} ADS against {label}, paired by run (mean over evaluations): better in "
              f"{pairs.better}, worse in {pairs.worse}, tied in {pairs.tied}, mean difference "
              f"{pairs.mean_difference:+.3f}, sign test p = {pairs.sign_test_p:.2f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, required=True, help="agent steps per run")
    parser.add_argument("--runs", type=int, default=3, help="seeds per task and schedule")
    parser.add_argument("--workers", type=int, default=2, help="tasks trained at once")
    parser.add_argument("--eval-freq", type=int, default=5_000)
    parser.add_argument("--eval-episodes", type=int, default=5, help="episodes per evaluation")
    parser.add_argument("--out", required=True, help="run directory (resumes when it exists)")
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--gpu", action="store_true", help="refuse to run without a JAX GPU")
    parser.add_argument("--async-envs", action="store_true", help="one process per run's env")
    args = parser.parse_args()
    # Several worker processes share one GPU: none may take most of its memory up front.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if args.gpu:
        import jax

        if jax.default_backend() != "gpu":
            print(f"--gpu: JAX runs on {jax.default_backend()}, not a GPU "
                  "(pip install 'jax[cuda12]')", file=sys.stderr)  # fmt: skip
            return 2
    import seqrl

    start = time.perf_counter()
    try:
        result = seqrl.run(
            "ads-metaworld",
            {"algorithm": "SAC-batched", "runs": args.runs, "budget": args.budget,
             "eval_freq": args.eval_freq, "eval_episodes": args.eval_episodes,
             "async_envs": args.async_envs},
            {"task": args.tasks},
            seeds=1, workers=args.workers, out=args.out,
        )  # fmt: skip
    except KeyboardInterrupt:
        print(f"interrupted after {time.perf_counter() - start:.0f} s: the finished tasks and "
              f"every evaluation so far (artifacts/*/logs/progress.csv) are in {args.out}; the "
              "same command resumes", file=sys.stderr)  # fmt: skip
        return 130
    wall = time.perf_counter() - start
    curves = result.trajectories.query("metric == 'success_rate'")
    print(f"{len(result.results)} tasks, {args.runs} runs each, {args.budget} steps per run, "
          f"{wall:.0f} s; summary and curves: {args.out}/summary.md")  # fmt: skip
    for task, task_curves in curves.groupby("task"):
        report_task(task, task_curves)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
