"""Benchmark of the PettingZoo game: per-decision overhead of the AEC env over the Gymnasium env.

Bayesian agents play the same scenario (binary signals p = 0.7, randomized response at epsilon = 1,
20 agents per sequence) in
- the Gymnasium env ``seqrl/SequentialLearning-v0`` driven by ``BayesianPolicy.predict`` (the
  baseline, measured in this run),
- the PettingZoo AEC env ``SequentialGameEnv`` through ``play_sequence`` with ``BayesianAgent``s
  (the AEC loop with its dead steps, dict observations, and the per-agent records),
and prints microseconds per decision of both and their ratio, with the mean accuracy of both to show
that they play the same game.

Run: ``.venv/bin/python bench/bench_dp_game.py`` (about half a minute). Each timing is the best of
three.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from seqrl.agents.dp_bayesian_learner import BayesianPolicy  # noqa: E402
from seqrl.agents.dp_population import BayesianAgent  # noqa: E402
from seqrl.envs.dp_sequential_game import SequentialGameEnv, play_sequence  # noqa: E402
from seqrl.envs.dp_sequential_learning import SequentialLearningEnv  # noqa: E402
from seqrl.mechanisms.dp_signals import BinarySignal  # noqa: E402

N_AGENTS = 20
SEQUENCES = 400
REPEATS = 3


def _best_time(function) -> tuple[float, float]:
    best, result = math.inf, math.nan
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _gymnasium() -> float:
    env = SequentialLearningEnv(n_agents=N_AGENTS, signal="binary", p=0.7,
                                mechanism="randomized_response", epsilon=1.0)  # fmt: skip
    policy = BayesianPolicy(BinarySignal(0.7))
    correct = 0.0
    for seed in range(SEQUENCES):
        observation, _ = env.reset(seed=seed)
        terminated = False
        while not terminated:
            action, _ = policy.predict(observation)
            observation, reward, terminated, _, _ = env.step(int(action))
            correct += reward
    return correct / (SEQUENCES * N_AGENTS)


def _aec() -> float:
    env = SequentialGameEnv(n_agents=N_AGENTS, p=0.7, epsilon=1.0)
    agents = [BayesianAgent()] * N_AGENTS
    correct = 0
    for seed in range(SEQUENCES):
        record = play_sequence(env, agents, seed=seed)
        correct += int((record.action == record.theta).sum())
    return correct / (SEQUENCES * N_AGENTS)


def main() -> None:
    """Time both hosts and print the figures."""
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"numpy {np.__version__}; {N_AGENTS} Bayesian agents x {SEQUENCES} sequences; "
        f"best of {REPEATS}"
    )
    decisions = SEQUENCES * N_AGENTS
    gym_time, gym_accuracy = _best_time(_gymnasium)
    aec_time, aec_accuracy = _best_time(_aec)
    print(f"Gymnasium env (baseline): {1e6 * gym_time / decisions:7.1f} us/decision, "
          f"accuracy {gym_accuracy:.3f}")  # fmt: skip
    print(f"PettingZoo AEC env:       {1e6 * aec_time / decisions:7.1f} us/decision, "
          f"accuracy {aec_accuracy:.3f}")  # fmt: skip
    print(f"AEC / Gymnasium: {aec_time / gym_time:.2f}x per decision")


if __name__ == "__main__":
    main()
