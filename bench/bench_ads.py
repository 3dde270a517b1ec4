"""Benchmark of System 3 (ADS): wall-time overhead of OT relabelling + ADS over plain SAC.

Run: ``python bench/bench_ads.py [--steps N] [--repeats R] [--metaworld]`` (one torch thread).

Baseline: SB3 SAC on the env's own reward with the same settings (one training phase per episode,
one gradient step per environment step). Candidates: the same SAC with OT rewards relabelled at
each episode end; plus the ADS callback (evaluation every ``eval_freq`` steps as in ``ads-toy``,
progress update, discount write) with the evaluation episodes run one after another (1 eval env,
what ``ads-toy`` does) or side by side in a VecEnv (one policy call per step for all). All runs see
the same number of environment steps; runs alternate and the best of ``repeats`` is kept, because
the machine is shared; process CPU time is reported beside wall time because other users' load
inflates wall time at random. Goal: ratio <= 1.10.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stable_baselines3 import SAC  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from agents.imitation_from_observation import (  # noqa: E402
    DiscountScheduleCallback,
    ImitationFromObservationAgent,
    LearnerConfig,
)
from envs.expert_demos import collect_demos  # noqa: E402
from envs.fetch_deliver import FetchDeliverEnv, fetch_deliver_expert  # noqa: E402
from mechanisms.discount_scheduling import ProgressParams  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--metaworld", action="store_true", help="basketball-v3 instead of the toy")
    args = parser.parse_args()
    torch.set_num_threads(1)

    if args.metaworld:
        from envs.metaworld_imitation import MetaWorldImitationEnv, scripted_expert

        def make_env():
            return MetaWorldImitationEnv("basketball-v3")

        expert, net_arch, eval_freq, eval_episodes = (
            scripted_expert("basketball-v3"),
            (256, 256),
            5000,
            5,
        )
    else:

        def make_env():
            return FetchDeliverEnv()

        expert, net_arch, eval_freq, eval_episodes = fetch_deliver_expert, (64, 64), 500, 10
    horizon = make_env().horizon
    demos = collect_demos(make_env(), expert, horizon, 10, np.random.default_rng(0)).observations
    config = LearnerConfig(net_arch=net_arch, learning_starts=500, device="cpu")

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
        model.learn(args.steps)

    extra: dict[str, float] = {}

    def timed(name: str, method):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = method(*args, **kwargs)
            extra[name] += time.perf_counter() - start
            return result

        return wrapper

    def ilfo(schedule: bool, eval_envs: int) -> None:
        agent = ImitationFromObservationAgent(make_env(), demos, config, seed=0)
        key = f"{schedule}-{eval_envs}"
        extra[key] = 0.0
        relabel = agent.relabel_callback
        relabel._on_rollout_end = timed(key, relabel._on_rollout_end)
        callbacks = []
        if schedule:
            evaluation = DummyVecEnv([make_env] * eval_envs)
            evaluation.seed(1)
            callback = DiscountScheduleCallback(
                evaluation,
                agent.rewarder,
                ProgressParams(horizon=horizon),
                eval_freq=eval_freq,
                n_eval_episodes=eval_episodes,
            )
            callback.evaluate = timed(key, callback.evaluate)
            callbacks.append(callback)
        start = time.perf_counter()
        agent.learn(args.steps, callbacks)
        extra[key] /= time.perf_counter() - start

    runs = {
        "plain SAC": plain_sac,
        "SAC + OT relabelling": lambda: ilfo(False, 1),
        "SAC + OT + ADS, 1 eval env": lambda: ilfo(True, 1),
        f"SAC + OT + ADS, {eval_episodes} eval envs": lambda: ilfo(True, eval_episodes),
    }
    plain_sac()  # warm-up: the first SB3 model pays torch's lazy imports (several seconds)
    wall = dict.fromkeys(runs, np.inf)
    cpu = dict.fromkeys(runs, np.inf)
    for _ in range(args.repeats):
        for name, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name] = min(wall[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
    task = "basketball-v3" if args.metaworld else "FetchDeliver"
    print(
        f"ADS overhead on {task}, T={horizon}, {args.steps} steps, evaluation of {eval_episodes}"
        f" episodes every {eval_freq} steps, best of {args.repeats}:"
    )
    print(f"  {'':34s} {'wall s':>8s} {'ratio':>6s} {'CPU s':>8s} {'ratio':>6s}")
    for name in runs:
        print(
            f"  {name:34s} {wall[name]:8.2f} {wall[name] / wall['plain SAC']:6.3f}"
            f" {cpu[name]:8.2f} {cpu[name] / cpu['plain SAC']:6.3f}"
        )
    print(
        "  In-run attribution (robust to other users' load): share of the run spent in OT"
        " relabelling + ADS evaluation/recognizer, and the implied ratio 1 / (1 - share):"
    )
    for label, key in (
        ("SAC + OT relabelling", "False-1"),
        ("SAC + OT + ADS, 1 eval env", "True-1"),
        (f"SAC + OT + ADS, {eval_episodes} eval envs", f"True-{eval_episodes}"),
    ):
        print(f"  {label:34s} share {extra[key]:6.3f}   implied ratio {1 / (1 - extra[key]):.3f}")
    print("  goal: ratio <= 1.10")


if __name__ == "__main__":
    main()
