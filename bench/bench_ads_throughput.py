"""Benchmark of System 3 (ADS): agent steps/s of the ILfO training paths, and how they grow with
envs and with seeds run side by side.

Run: ``python bench/bench_ads_throughput.py [--steps N] [--metaworld-steps N] [--no-plot]``.

Every run is the full ``ads-toy`` / ``ads-metaworld`` training loop (OT relabelling at each
episode end, the ADS callback evaluating 10 / 5 episodes side by side every 500 / 5000 steps), one
torch thread and one XLA thread per process, built through
:class:`~seqrl.agents.ads_ilfo_agent.ImitationFromObservationAgent` exactly as the scenarios do.

1. Paths, one after another in one process: current SB3 SAC (one env, one gradient step per
   env step) against SBX SAC / CrossQ and ``n_envs`` envs (one gradient step per vector step).
   ``end to end``: steps / wall of the whole run, JAX compilation included (paid once per run:
   every new model recompiles); ``steady``: the same without the first gradient phase.
2. Seeds side by side: 2 processes, each training its own seed; aggregate steps/s against the
   current path alone and the current path with 2 processes, in the same run.
3. Steps/s against ``n_envs`` (1 .. 16) and seeds side by side (1, 2), plotted to
   docs/figures/ads_throughput.{png,svg}. Also: where the time of the fastest path goes.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

FIGURE = Path(__file__).resolve().parents[1] / "docs" / "figures" / "ads_throughput"


def one_run(
    task: str, algorithm: str, n_envs: int, steps: int, seed: int = 0, gradient_steps: int = -1
) -> dict:
    """Train once as the scenario does; wall seconds, seconds of the first gradient phase."""
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from seqrl.agents.ads_expert_demos import collect_demos
    from seqrl.agents.ads_ilfo_agent import DiscountScheduleCallback, ImitationFromObservationAgent
    from seqrl.agents.ads_imitation import DiscountSchedule, LearnerConfig
    from seqrl.envs.ads_fetch_deliver import FetchDeliverEnv, fetch_deliver_expert, with_time_limit
    from seqrl.mechanisms.ads_discount_scheduling import ProgressParams

    torch.set_num_threads(1)
    if task == "FetchDeliver":

        def make_env():
            return with_time_limit(FetchDeliverEnv())

        expert, eval_freq, eval_episodes = fetch_deliver_expert, 500, 10
        learner = {"net_arch": (64, 64), "learning_starts": 500, "learning_rate": 1e-3}
    else:
        from seqrl.envs.ads_metaworld import MetaWorldImitationEnv, scripted_expert

        def make_env():
            return with_time_limit(MetaWorldImitationEnv(task))

        expert, eval_freq, eval_episodes = scripted_expert(task), 5000, 5
        learner = {"net_arch": (256, 256), "learning_starts": 500}
    horizon = make_env().get_wrapper_attr("horizon")
    demos = collect_demos(make_env(), expert, horizon, 10, np.random.default_rng(seed)).observations
    if n_envs == 1:
        env = make_env()
        env.reset(seed=seed)
    else:
        env = DummyVecEnv([make_env] * n_envs)
        env.seed(seed)
    evaluation = DummyVecEnv([make_env] * eval_episodes)
    evaluation.seed(seed + 1)
    config = LearnerConfig(
        algorithm=algorithm, device="cpu", gradient_steps=gradient_steps, **learner
    )
    agent = ImitationFromObservationAgent(env, demos, config, seed=seed)
    first: list[float] = []
    train = agent.model.train

    def timed_train(*args, **kwargs):
        start = time.perf_counter()
        result = train(*args, **kwargs)
        if not first:
            first.append(time.perf_counter() - start)
        return result

    agent.model.train = timed_train
    schedule = DiscountScheduleCallback(
        evaluation, DiscountSchedule(agent.rewarder, ProgressParams(horizon=horizon)),
        eval_freq=eval_freq, n_eval_episodes=eval_episodes,
    )  # fmt: skip
    spent = {"train": 0.0, "OT relabelling": 0.0, "ADS evaluation": 0.0}

    def timed(name, method):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = method(*args, **kwargs)
            spent[name] += time.perf_counter() - start
            return result

        return wrapper

    agent.model.train = timed("train", agent.model.train)
    relabel = agent.relabel_callback
    relabel._on_rollout_end = timed("OT relabelling", relabel._on_rollout_end)
    schedule.evaluate = timed("ADS evaluation", schedule.evaluate)
    start = time.perf_counter()
    agent.learn(steps, [schedule])
    wall = time.perf_counter() - start
    first_train = first[0] if first else 0.0
    shares = {name: seconds / wall for name, seconds in spent.items()}
    shares["of which 1st train (JIT)"] = first_train / wall
    shares["rest (env, predict, buffer)"] = 1 - sum(spent.values()) / wall
    return {"steps": agent.model.num_timesteps, "wall": wall, "first_train": first_train,
            "shares": shares}  # fmt: skip


def _worker(arguments: tuple) -> dict:
    return one_run(*arguments)


def side_by_side(task: str, algorithm: str, n_envs: int, steps: int, processes: int) -> float:
    """Aggregate steps/s of ``processes`` runs (seeds 0..P-1) started together: the sum of each
    run's steps / wall of its training (process start, imports and demos left out, as in one run)."""
    context = multiprocessing.get_context("spawn")
    jobs = [(task, algorithm, n_envs, steps, seed) for seed in range(processes)]
    with context.Pool(processes) as pool:
        results = pool.map(_worker, jobs)
    return sum(r["steps"] / r["wall"] for r in results)


def paths(task: str, steps: int, candidates: list[tuple]) -> dict:
    """One run after another in this process (imports paid once; every model compiles anew).
    A candidate is ``(algorithm, n_envs)`` or ``(algorithm, n_envs, gradient_steps)``."""
    rows = {}
    for candidate in candidates:
        algorithm, n_envs, *gradient_steps = candidate
        result = one_run(task, algorithm, n_envs, steps, 0, *gradient_steps)
        result["end_to_end"] = result["steps"] / result["wall"]
        result["steady"] = result["steps"] / (result["wall"] - result["first_train"])
        rows[candidate] = result
    return rows


def label(key: tuple) -> str:
    """``SBX-SAC, n_envs=4`` (``, gs=96`` when the gradient steps per rollout are set)."""
    text = f"{key[0]}, n_envs={key[1]}"
    return text + (f", gs={key[2]}" if len(key) > 2 else "")


def print_paths(task: str, rows: dict) -> None:
    base = rows[("SAC", 1)]
    print(f"{task}: one process per run, {base['steps']} steps (current path: SAC, 1 env)")
    print(f"  {'path':22s} {'steps/s e2e':>11s} {'ratio':>6s} {'steady':>7s} {'ratio':>6s}"
          f" {'1st train s':>11s}")  # fmt: skip
    for key, r in rows.items():
        print(
            f"  {label(key):22s} {r['end_to_end']:11.0f}"
            f" {r['end_to_end'] / base['end_to_end']:6.2f} {r['steady']:7.0f}"
            f" {r['steady'] / base['steady']:6.2f} {r['first_train']:11.2f}"
        )
    fastest = max(rows, key=lambda key: rows[key]["end_to_end"])
    shares = ", ".join(f"{name} {share:.0%}" for name, share in rows[fastest]["shares"].items())
    print(f"  where the time goes, {label(fastest)}: {shares}")
    print("  and for SAC n_envs=1: "
          + ", ".join(f"{n} {v:.0%}" for n, v in base["shares"].items()))  # fmt: skip


def plot(envs: list[int], single: dict, parallel: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    for algorithm, marker in (("SBX-SAC", "o"), ("SAC", "s")):
        xs = [n for n in envs if (algorithm, n) in single]
        ax.plot(xs, [single[(algorithm, n)] for n in xs], f"-{marker}",
                label=f"{algorithm}, 1 run")  # fmt: skip
        xs = [n for n in envs if (algorithm, n) in parallel]
        if xs:
            ax.plot(xs, [parallel[(algorithm, n)] for n in xs], f"--{marker}",
                    label=f"{algorithm}, 2 seeds side by side (2 processes)")  # fmt: skip
    if ("SBX-SAC", 4, 96) in single:
        ax.plot(4, single[("SBX-SAC", 4, 96)], "*", markersize=11,
                label="SBX-SAC, 4 envs, 1 update per env step (gradient_steps=96)")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("training envs per run (n_envs; lines: one gradient step per vector step)")
    ax.set_ylabel("aggregate agent steps/s")
    ax.set_title("ADS training on FetchDeliver, end to end, 2 shared cores", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE.with_suffix(".png"), dpi=150)
    fig.savefig(FIGURE.with_suffix(".svg"))
    print(f"figure: {FIGURE}.png / .svg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="steps per FetchDeliver run")
    parser.add_argument("--metaworld-steps", type=int, default=1000, help="0: skip Meta-World")
    parser.add_argument("--metaworld-task", default="basketball-v3")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    envs = [1, 2, 4, 8, 16]
    # SBX-SAC with 4 envs and 96 = 4 x T gradient steps per rollout: one per env step, as now.
    candidates = [("SAC", 1), ("SBX-SAC", 4, 96), ("SAC", 8), *(("SBX-SAC", n) for n in envs),
                  ("SBX-CrossQ", 8)]  # fmt: skip
    rows = paths("FetchDeliver", args.steps, candidates)
    print_paths("FetchDeliver", rows)
    if args.metaworld_steps:
        mw = paths(args.metaworld_task, args.metaworld_steps,
                   [("SAC", 1), ("SBX-SAC", 1), ("SBX-SAC", 8)])  # fmt: skip
        print_paths(args.metaworld_task, mw)
    single = {key: r["end_to_end"] for key, r in rows.items()}
    parallel = {("SAC", 1): side_by_side("FetchDeliver", "SAC", 1, args.steps, 2)}
    for n in (1, 16):
        parallel[("SBX-SAC", n)] = side_by_side("FetchDeliver", "SBX-SAC", n, args.steps, 2)
    base = single[("SAC", 1)]
    print(f"FetchDeliver, 2 seeds side by side (2 processes), {args.steps} steps each, end to end:")
    for (algorithm, n), rate in parallel.items():
        print(f"  {algorithm + f', n_envs={n}':22s} {rate:7.0f} steps/s: {rate / base:5.1f}x the"
              f" current path (1 run), {rate / parallel[('SAC', 1)]:5.1f}x the current path with"
              f" 2 processes")  # fmt: skip
    print(f"load average at end: {os.getloadavg()}")
    if not args.no_plot:
        plot(envs, single, parallel)


if __name__ == "__main__":
    main()
