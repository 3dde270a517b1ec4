"""Benchmark of System 3 (ADS): wall-time overhead of OT relabelling + ADS over plain SAC.

Run: ``python bench/bench_ads.py [--steps N] [--repeats R] [--metaworld]`` (one torch thread).

Baseline: SB3 SAC on the env's own reward with the same settings (one training phase per episode,
one gradient step per environment step). Candidates: the same SAC with OT rewards relabelled at
each episode end; plus the ADS callback as ``ads-toy`` runs it (evaluation of ``eval_episodes``
episodes side by side in a VecEnv every ``eval_freq`` steps, progress update, discount write). All
runs see the same number of environment steps. The runs alternate (A B C, A B C, ...) so that a
change of load hits every variant alike; per variant the best of ``repeats`` wall and process CPU
times is kept, with the median over repeats of the ratio to the plain run of the same repeat.
Beside them: the time in SAC's gradient steps, the same work in every variant (its spread
between variants is the machine's drift, not overhead), and the share of the run spent inside
the OT and ADS callbacks, timed within the run and so immune to that drift. Goal: ratio <= 1.10.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from stable_baselines3 import SAC  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from seqrl.agents.ads_expert_demos import collect_demos  # noqa: E402
from seqrl.agents.ads_ilfo_agent import (  # noqa: E402
    DiscountScheduleCallback,
    ImitationFromObservationAgent,
)
from seqrl.agents.ads_imitation import DiscountSchedule, LearnerConfig  # noqa: E402
from seqrl.envs.ads_fetch_deliver import (  # noqa: E402
    FetchDeliverEnv,
    fetch_deliver_expert,
    with_time_limit,
)
from seqrl.mechanisms.ads_discount_scheduling import ProgressParams  # noqa: E402
from seqrl.mechanisms.ads_ot_reward import OTRewardParams, transport_plans  # noqa: E402


def log_domain_sinkhorn(repeats: int = 3) -> None:
    """The log-domain path (Euclidean costs of 36-dim states: exp(-C/reg) underflows) against
    POT's batched log-domain solver on the same 10 x 88 x 88 costs, 100 iterations."""
    from ot.batch import solve_batch

    rng = np.random.default_rng(0)
    costs = np.linalg.norm(
        rng.normal(size=(10, 88, 1, 36)) - rng.normal(size=(10, 1, 88, 36)), axis=-1
    )
    params = OTRewardParams()
    timings = {"seqrl": np.inf, "POT": np.inf}
    for _ in range(repeats):
        start = time.perf_counter()
        ours = transport_plans(costs, params)
        timings["seqrl"] = min(timings["seqrl"], time.perf_counter() - start)
        start = time.perf_counter()
        reference = solve_batch(
            costs,
            params.regularization,
            max_iter=params.iterations,
            tol=0.0,
            method="log_sinkhorn",
            grad="detach",
        ).plan
        timings["POT"] = min(timings["POT"], time.perf_counter() - start)
    print(
        f"Log-domain Sinkhorn, 10 demos x 88 x 88 Euclidean costs (max C / reg = "
        f"{costs.max() / params.regularization:.0f}), 100 iterations, best of {repeats}: seqrl "
        f"{timings['seqrl'] * 1e3:.0f} ms, POT solve_batch(log_sinkhorn) {timings['POT'] * 1e3:.0f}"
        f" ms, {timings['POT'] / timings['seqrl']:.1f}x; largest plan difference "
        f"{np.abs(ours - np.asarray(reference)).max():.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--metaworld", action="store_true", help="basketball-v3 instead of the toy")
    args = parser.parse_args()
    torch.set_num_threads(1)

    if args.metaworld:
        from seqrl.envs.ads_metaworld import MetaWorldImitationEnv, scripted_expert

        def make_env():
            return with_time_limit(MetaWorldImitationEnv("basketball-v3"))

        expert, net_arch, eval_freq, eval_episodes = (
            scripted_expert("basketball-v3"),
            (256, 256),
            5000,
            5,
        )
    else:

        def make_env():
            return with_time_limit(FetchDeliverEnv())

        expert, net_arch, eval_freq, eval_episodes = fetch_deliver_expert, (64, 64), 500, 10
    horizon = make_env().get_wrapper_attr("horizon")
    demos = collect_demos(make_env(), expert, horizon, 10, np.random.default_rng(0)).observations
    config = LearnerConfig(net_arch=net_arch, learning_starts=500, device="cpu")

    # Seconds spent, during the current run, in SAC's gradient steps (the same work in every
    # variant) and in the ILfO callbacks (OT relabelling, ADS evaluation + recognizer).
    spent = {"train": 0.0, "callbacks": 0.0}

    def timed(name: str, method):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = method(*args, **kwargs)
            spent[name] += time.perf_counter() - start
            return result

        return wrapper

    def plain_sac() -> None:
        model = SAC(
            "MlpPolicy",
            make_env(),
            learning_starts=config.learning_starts,
            batch_size=config.batch_size,
            train_freq=(1, "episode"),
            gradient_steps=-1,
            ent_coef=config.ent_coef,
            policy_kwargs={"net_arch": list(net_arch)},
            seed=0,
            device="cpu",
        )
        model.train = timed("train", model.train)
        model.learn(args.steps)

    def ilfo(schedule: bool) -> None:
        agent = ImitationFromObservationAgent(make_env(), demos, config, seed=0)
        agent.model.train = timed("train", agent.model.train)
        relabel = agent.relabel_callback
        relabel._on_rollout_end = timed("callbacks", relabel._on_rollout_end)
        callbacks = []
        if schedule:
            evaluation = DummyVecEnv([make_env] * eval_episodes)
            evaluation.seed(1)
            schedule = DiscountSchedule(agent.rewarder, ProgressParams(horizon=horizon))
            callback = DiscountScheduleCallback(
                evaluation, schedule, eval_freq=eval_freq, n_eval_episodes=eval_episodes
            )
            callback.evaluate = timed("callbacks", callback.evaluate)
            callbacks.append(callback)
        agent.learn(args.steps, callbacks)

    runs = {
        "plain SAC": plain_sac,
        "SAC + OT relabelling": lambda: ilfo(False),
        "SAC + OT relabelling + ADS": lambda: ilfo(True),
    }
    plain_sac()  # warm-up: the first SB3 model pays torch's lazy imports (several seconds)
    transport_plans(np.ones((1, 2, 2)), OTRewardParams())  # and the first OT reward POT's (~5 s)
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    train: dict[str, list[float]] = {name: [] for name in runs}
    share: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            gc.collect()  # the previous run's model graph is freed before, not during, this run
            spent.update(train=0.0, callbacks=0.0)
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            train[name].append(spent["train"])
            share[name].append(spent["callbacks"] / wall[name][-1])
    task = "basketball-v3" if args.metaworld else "FetchDeliver"
    print(
        f"ADS overhead on {task}, T={horizon}, {args.steps} steps, evaluation of {eval_episodes}"
        f" episodes every {eval_freq} steps, {args.repeats} interleaved repeats:"
    )
    print(
        f"  {'':28s} {'best wall s':>11s} {'ratio':>6s} {'best CPU s':>10s} {'ratio':>6s}"
        f" {'paired ratio':>12s} {'train s':>8s} {'callbacks':>9s} {'implied':>7s}"
    )
    baseline = np.array(wall["plain SAC"])
    for name in runs:
        paired = float(np.median(np.array(wall[name]) / baseline))
        callbacks = float(np.median(share[name]))
        print(
            f"  {name:28s} {min(wall[name]):11.2f} {min(wall[name]) / baseline.min():6.3f}"
            f" {min(cpu[name]):10.2f} {min(cpu[name]) / min(cpu['plain SAC']):6.3f}"
            f" {paired:12.3f} {float(np.median(train[name])):8.2f} {callbacks:9.1%}"
            f" {1 / (1 - callbacks):7.3f}"
        )
    print(
        "  paired ratio: median over repeats of wall / plain SAC's wall in the same repeat;"
        " train s: median seconds in SAC's gradient steps (the same work in every variant, so"
        " its spread is the machine's); callbacks: median share of the run in OT relabelling +"
        " ADS evaluation/recognizer, timed inside the run; implied = 1 / (1 - share)."
        " Goal: ratio <= 1.10."
    )
    log_domain_sinkhorn()


if __name__ == "__main__":
    main()
