"""Benchmark of private sequential learning: vectorized engine against the Mesa model.

Prints, for the same scenarios, the agent decisions per second of
- the Mesa model (one Agent object per learner; the baseline, measured in this run),
- the vectorized engine (numpy over runs, one core),
as ratios engine / Mesa (goal >= 200x) and as absolute rates against the goals (binary signals under
randomized response >= 1e7 decisions/s, Gaussian signals under smoothed RR >= 2e6 decisions/s), with
the final public LLR of both hosts to show that they agree within Monte Carlo error.

Run: ``.venv/bin/python bench/bench_dp.py`` (about a minute). Each timing is the best of three.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from seqrl.agents.dp_bayesian_learner import BayesianLearner  # noqa: E402
from seqrl.agents.dp_engine import simulate_sequences  # noqa: E402
from seqrl.envs.dp_sequential_learning_mesa import SequentialLearningModel  # noqa: E402
from seqrl.mechanisms.dp_privacy import make_mechanism  # noqa: E402
from seqrl.mechanisms.dp_signals import BinarySignal, GaussianSignal  # noqa: E402

SCENARIOS = {
    "binary signals, randomized response (p=0.7, eps=1)": (
        {"signal": "binary", "p": 0.7, "mechanism": "randomized_response", "epsilon": 1.0},
        BayesianLearner(BinarySignal(0.7), make_mechanism("randomized_response", 1.0)),
        1e7,
    ),
    "Gaussian signals, smoothed RR (sigma=1, eps=1, c=1/2)": (
        {"signal": "gaussian", "sigma": 1.0, "mechanism": "smoothed", "epsilon": 1.0},
        BayesianLearner(GaussianSignal(1.0), make_mechanism("smoothed", 1.0)),
        2e6,
    ),
}
N_AGENTS = 200
MESA_RUNS = 40
ENGINE_RUNS = 65_536
REPEATS = 3


def _best_time(function) -> tuple[float, object]:
    best, result = math.inf, None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _run_mesa(config: dict) -> np.ndarray:
    finals = []
    for run in range(MESA_RUNS):
        model = SequentialLearningModel(n_agents=N_AGENTS, rng=run, **config)
        while model.running:
            model.step()
        finals.append(model.theta * model.public_llr)
    return np.array(finals)


def main() -> None:
    """Time both hosts on each scenario and print the figures."""
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"numpy {np.__version__}; {N_AGENTS} agents per sequence; best of {REPEATS}"
    )
    for name, (config, learner, goal) in SCENARIOS.items():
        mesa_time, mesa_final = _best_time(lambda config=config: _run_mesa(config))
        mesa_rate = MESA_RUNS * N_AGENTS / mesa_time
        engine_time, summary = _best_time(
            lambda learner=learner: simulate_sequences(
                learner, N_AGENTS, ENGINE_RUNS, np.random.default_rng(0)
            )
        )
        engine_rate = ENGINE_RUNS * N_AGENTS / engine_time
        engine_final = summary.oriented_llr[-1]
        difference = engine_final.mean() - mesa_final.mean()
        standard_error = math.sqrt(
            engine_final.var() / engine_final.size + mesa_final.var() / mesa_final.size
        )
        print(f"\n{name}")
        print(f"  Mesa model (baseline):  {mesa_rate:12.4g} decisions/s")
        print(f"  vectorized engine:      {engine_rate:12.4g} decisions/s")
        print(f"  engine / Mesa:          {engine_rate / mesa_rate:12.1f}x   (goal >= 200x)")
        print(f"  engine / goal {goal:.0e}/s: {engine_rate / goal:10.2f}x   (goal >= 1x)")
        print(
            f"  final theta*l_N: engine {engine_final.mean():.3f}, Mesa {mesa_final.mean():.3f}, "
            f"difference {difference / standard_error:+.2f} standard errors"
        )


if __name__ == "__main__":
    main()
