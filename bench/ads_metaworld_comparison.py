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
over the runs and the first evaluation step at which any run succeeded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

TASKS = ["basketball-v3", "hammer-v3", "assembly-v3"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, required=True, help="agent steps per run")
    parser.add_argument("--runs", type=int, default=3, help="seeds per task and schedule")
    parser.add_argument("--workers", type=int, default=2, help="tasks trained at once")
    parser.add_argument("--eval-freq", type=int, default=5_000)
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
             "eval_freq": args.eval_freq, "async_envs": args.async_envs},
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
    for (task, schedule, gamma), group in curves.groupby(["task", "schedule", "gamma"]):
        label = "ADS" if schedule == "ads" else f"fixed {gamma:g}"
        final = group[group["step"] == group["step"].max()]["value"]
        solved = group[group["value"] > 0]["step"]
        first = f"first success at {solved.min():.0f} steps" if len(solved) else "no success"
        print(f"{task} {label}: final success {final.mean():.2f} (runs: "
              f"{', '.join(f'{v:.2f}' for v in final)}); {first}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
