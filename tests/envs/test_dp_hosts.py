"""Private sequential learning: the Gymnasium env, the Mesa model, and agreement of the three hosts."""

import math

import gymnasium
import mesa
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import seqrl.envs  # noqa: F401  (registers the environments)
from seqrl.agents.dp_bayesian_learner import BayesianLearner, BayesianPolicy
from seqrl.agents.dp_engine import simulate_sequences
from seqrl.envs.dp_sequential_learning import SequentialLearningEnv
from seqrl.envs.dp_sequential_learning_mesa import SequentialLearningModel
from seqrl.mechanisms.dp_privacy import (
    HeterogeneousBudget,
    SmoothedRandomizedResponse,
    make_mechanism,
)
from seqrl.mechanisms.dp_signals import BinarySignal, GaussianSignal

CONFIGS = {
    "gaussian-smoothed": {
        "signal": "gaussian",
        "sigma": 1.0,
        "mechanism": "smoothed",
        "epsilon": 1.0,
    },
    "binary-rr": {"signal": "binary", "p": 0.7, "mechanism": "randomized_response", "epsilon": 1.0},
}


def _learner(config):
    signal = (
        GaussianSignal(config["sigma"])
        if config["signal"] == "gaussian"
        else BinarySignal(config["p"])
    )
    return BayesianLearner(signal, make_mechanism(config["mechanism"], config["epsilon"]))


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_env_passes_gymnasium_and_sb3_checks(config):
    check_env(gymnasium.make("seqrl/SequentialLearning-v0", n_agents=8, **config).unwrapped)
    sb3_check_env(SequentialLearningEnv(n_agents=8, **config))


def test_env_episode_rewards_and_reset_determinism():
    env = SequentialLearningEnv(n_agents=5, epsilon=math.inf)
    first, info = env.reset(seed=3)
    again, info_again = env.reset(seed=3)
    np.testing.assert_array_equal(first, again)
    assert info["theta"] == info_again["theta"]
    total, terminated, steps = 0.0, False, 0
    while not terminated:
        _, reward, terminated, truncated, info = env.step(1)
        total += reward
        steps += 1
        assert not truncated
    assert steps == 5 and total == (5.0 if info["theta"] == 1 else 0.0)
    with pytest.raises(ValueError, match="action must be 0 or 1"):
        env.step(2)


def test_mesa_model_collects_one_row_per_agent_and_runs_in_batch():
    model = SequentialLearningModel(n_agents=12, rng=1)
    while model.running:
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 12
    assert set(frame.columns) >= {"public_llr", "action", "report", "theta"}
    assert frame["public_llr"].iloc[-1] == model.public_llr
    results = pd.DataFrame(
        mesa.batch_run(
            SequentialLearningModel,
            {"n_agents": 10, "epsilon": [0.5, math.inf], "rng": [1, 2]},
            max_steps=50,
            display_progress=False,
        )
    )
    assert len(results) == 4
    assert set(results["epsilon"]) == {0.5, math.inf}


def test_mesa_heterogeneous_agents_carry_their_own_types():
    model = SequentialLearningModel(
        n_agents=40,
        sigma_values=(0.5, 2.0),
        budget_distribution="uniform",
        budget_low=0.2,
        budget_high=1.5,
        rng=5,
    )
    sigmas = {agent.sigma for agent in model.arrivals}
    budgets = np.array([agent.epsilon for agent in model.arrivals])
    assert sigmas == {0.5, 2.0}
    assert budgets.min() >= 0.2 and budgets.max() <= 1.5 and np.unique(budgets).size == 40
    while model.running:
        model.step()
    assert all(agent.report in (-1, 1) for agent in model.arrivals)


def _mesa_runs(config, n_agents, runs, seed):
    return pd.DataFrame(
        [
            _run_mesa(SequentialLearningModel(n_agents=n_agents, rng=seed + run, **config))
            for run in range(runs)
        ]
    )


def _run_mesa(model):
    while model.running:
        model.step()
    return model.summary()


def _gym_runs(config, n_agents, runs, seed):
    env = SequentialLearningEnv(n_agents=n_agents, **config)
    policy = BayesianPolicy(env.learner.signal_model)
    rows = []
    for episode in range(runs):
        observation, info = env.reset(seed=seed + episode)
        wrong, terminated = 0, False
        while not terminated:
            action, _ = policy.predict(observation)
            observation, reward, terminated, _, info = env.step(int(action))
            wrong += reward == 0
        rows.append(
            {"oriented_public_llr": info["theta"] * info["public_llr"], "wrong_actions": wrong}
        )
    return pd.DataFrame(rows)


def _assert_same_mean(reference, other, name):
    difference = reference.mean() - other.mean()
    standard_error = math.sqrt(reference.var() / reference.size + other.var() / other.size)
    assert abs(difference) < 4.5 * standard_error, (name, reference.mean(), other.mean())


@pytest.mark.parametrize("name", CONFIGS.keys())
def test_three_hosts_agree_statistically(name):
    config = CONFIGS[name]
    n_agents = 12
    engine = simulate_sequences(_learner(config), n_agents, 20_000, np.random.default_rng(0))
    engine_llr = pd.Series(engine.oriented_llr[-1])
    engine_wrong = pd.Series(engine.wrong_actions)
    mesa_runs = _mesa_runs(config, n_agents, 300, seed=1000)
    gym_runs = _gym_runs(config, n_agents, 300, seed=5000)
    for runs in (mesa_runs, gym_runs):
        _assert_same_mean(engine_llr, runs["oriented_public_llr"], f"{name} public LLR")
        _assert_same_mean(engine_wrong, runs["wrong_actions"], f"{name} wrong actions")
    # Distributions of the final public LLR too (two-sample Kolmogorov-Smirnov).
    from scipy import stats

    assert stats.ks_2samp(engine_llr, mesa_runs["oriented_public_llr"]).pvalue > 1e-3
    assert stats.ks_2samp(engine_llr, gym_runs["oriented_public_llr"]).pvalue > 1e-3


def test_engine_and_mesa_agree_with_hidden_heterogeneous_budgets():
    budget = HeterogeneousBudget(SmoothedRandomizedResponse(1.0), "uniform", 0.0, 1.0)
    engine = simulate_sequences(
        BayesianLearner(GaussianSignal(1.0), budget), 10, 3000, np.random.default_rng(1)
    )
    config = {"budget_distribution": "uniform", "budget_low": 0.0, "budget_high": 1.0}
    mesa_runs = _mesa_runs(config, 10, 200, seed=77)
    _assert_same_mean(
        pd.Series(engine.oriented_llr[-1]), mesa_runs["oriented_public_llr"], "hidden budgets"
    )
