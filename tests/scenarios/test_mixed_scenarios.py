"""llm-cascade, mixed-population and marl-sequential: wiring, closed forms, bad input, plots."""

import math
import textwrap

import matplotlib
import numpy as np
import pytest

import seqrl
from seqrl.mechanisms.dp_sequential import BinaryCascadeClosedForm
from seqrl.scenarios.cli import main
from seqrl.scenarios.library.mixed import (
    calibration_error,
    llm_cascade,
    marl_sequential,
    mixed_population,
)

matplotlib.use("Agg")


def _run(scenario, seed=0, **overrides):
    params = {**scenario.defaults(), **overrides}
    return scenario.run(scenario.arguments(params), np.random.default_rng(seed)).metrics


POPULATION_METRICS = (
    "cascade_rate",
    "correct_cascade_rate",
    "mean_cascade_start",
    "wrong_actions",
    "accuracy",
    "against_signal",
    "herding",
)


@pytest.mark.parametrize("epsilon", [math.inf, 1.0])
def test_scripted_majority_llm_reproduces_the_heuristic_exactly(epsilon):
    common = {"epsilon": epsilon, "margin": 2, "n_sequences": 200, "condition": "second-order"}
    llm = _run(llm_cascade, agent="llm", backend="scripted", **common)
    heuristic = _run(llm_cascade, agent="majority", **common)
    for name in POPULATION_METRICS:
        assert llm[name] == heuristic[name], name
    assert llm["llm_decisions"] == 200 * 10 and llm["llm_failures"] == 0


@pytest.mark.slow  # the AEC env's own test checks the closed form; this one the scenario's columns
def test_bayesian_population_is_its_own_paired_benchmark_and_meets_the_closed_form():
    metrics = _run(llm_cascade, agent="bayesian", epsilon=1.0, n_agents=25, n_sequences=1200)
    for name in POPULATION_METRICS:
        assert metrics[name] == metrics[f"bayesian_{name}"]
    assert metrics["same_actions_as_bayesian"] == 1.0
    closed = BinaryCascadeClosedForm(0.7, 1.0).probability_correct
    se = math.sqrt(closed * (1 - closed) / (metrics["cascade_rate"] * 1200))
    assert abs(metrics["correct_cascade_rate"] - closed) < 4 * se
    assert metrics["closed_form_correct"] == closed


def test_own_signal_followers_never_go_against_their_signal():
    metrics = _run(llm_cascade, agent="own-signal", epsilon=1.0, n_sequences=300)
    assert metrics["against_signal"] == 0.0 and metrics["herding"] == 0.0
    assert metrics["bayesian_against_signal"] > 0.05  # Bayesians do, inside cascades


def test_calibration_error_is_zero_for_a_calibrated_forecast_and_the_gap_otherwise():
    probability = np.array([0.2, 0.2, 0.2, 0.2, 0.2, 0.8, 0.8, 0.8, 0.8, 0.8])
    outcome = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0])
    assert calibration_error(probability, outcome, 10) == pytest.approx(0.0)
    assert calibration_error(np.full(4, 0.9), np.array([1, 1, 0, 0]), 10) == pytest.approx(0.4)


def test_own_signal_agents_leave_the_public_belief_unchanged():
    """Before a cascade the Bayesian rule is to follow the own signal, and after it observers
    ignore every report: own-signal agents at any f leave the public LLR path as it was."""
    baseline = _run(mixed_population, other="own-signal", fraction=0.0, n_sequences=300)
    for fraction in (0.5, 1.0):
        mixed = _run(mixed_population, other="own-signal", fraction=fraction, n_sequences=300)
        for name in ("calibration_error", "brier", "log_loss", "final_public_llr", "cascade_rate"):
            assert mixed[name] == baseline[name], name
        assert mixed["other_agents_accuracy"] < mixed["bayesian_agents_accuracy"] or fraction == 1


def test_majority_followers_make_the_public_belief_overconfident_as_predicted():
    """Margin-1 followers copy the first report; observers read report 2 as an independent signal
    and freeze at 2L. So P(truth) of the final belief is p, not q2 = p^2/(p^2+(1-p)^2), and N - 1 of
    the N beliefs l_2..l_{N+1} are off by that gap: calibration error (N - 1) / N (q2 - p)."""
    p, runs, n = 0.7, 4000, 5
    q2 = p**2 / (p**2 + (1 - p) ** 2)
    game = {"other": "majority", "n_sequences": runs, "n_agents": n}
    calibrated = _run(mixed_population, fraction=0.0, **game)
    herd = _run(mixed_population, fraction=1.0, **game)
    se = math.sqrt(p * (1 - p) / runs)
    assert abs(herd["final_belief_correct"] - p) < 4 * se
    assert abs(herd["calibration_error"] - (n - 1) / n * (q2 - p)) < 4 * se
    assert calibrated["calibration_error"] < 4 * se  # observers right about everyone: calibrated
    assert herd["mean_cascade_start"] == 2.0 and herd["cascade_rate"] == 1.0


def test_marl_sequential_scores_ppo_against_the_engine_benchmark():
    metrics = _run(
        marl_sequential,
        epsilon=1.0,
        total_timesteps=2048,
        n_eval_sequences=1000,
        benchmark_runs=40_000,
    )
    # Two estimates of the same Bayesian accuracy (paired AEC loop, vectorized engine); decisions
    # within a sequence are correlated, hence the generous factor 3 on the independent-case error.
    se = math.sqrt(0.25 / (1000 * 10))
    assert abs(metrics["bayesian_accuracy"] - metrics["benchmark_accuracy"]) < 4 * se * 3
    assert 0.0 <= metrics["ppo_agrees_with_bayesian_rule"] <= 1.0
    assert 0.5 < metrics["ppo_accuracy"] <= metrics["bayesian_accuracy"] + 4 * se * 3


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["llm-cascade", "--set", "agent=oracle"], "agent"),
        (["mixed-population", "--set", "fraction=1.5"], "fraction"),
        (["mixed-population", "--set", "other=bayesian"], "other"),
        (["llm-cascade", "--set", "agent=majority", "--set", "margin=11"], "margin"),
        (
            [
                "llm-cascade",
                "--set",
                "backend=openai",
                "--set",
                "openai_base_url=http://127.0.0.1:9/v1",
            ],
            "openai_base_url",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(arguments, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", *arguments, "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not out.exists()


def test_quick_runs_and_plots(tmp_path):
    for name, params in (
        ("llm-cascade", {"backend": "scripted"}),
        ("mixed-population", {}),
    ):
        result = seqrl.run(name, params=params, quick=True, out=tmp_path / name)
        assert result.status == "complete"
        assert result.figures()
        assert (tmp_path / name / "summary.md").exists()
    decisions = list((tmp_path / "llm-cascade" / "artifacts").glob("*/decisions.jsonl"))
    assert len(decisions) == 1 and len(decisions[0].read_text().splitlines()) == 3 * 10


USER_FILE = """
from dataclasses import dataclass

import numpy as np
from stable_baselines3 import PPO

import seqrl
from seqrl.agents.dp_llm_learner import LLMLearner, ScriptedMajority
from seqrl.agents.dp_population import BayesianAgent, MajorityAgent, PolicyAgent
from seqrl.agents.vad_llm_backends import ScriptedBackend
from seqrl.envs.dp_sequential_game import SequentialGameEnv, SharedPolicyEnv, play_sequence
from seqrl.mechanisms.vad_affect import AffectDynamicsParams


@dataclass(frozen=True)
class Args:
    epsilon: float = seqrl.param(1.0, "randomized-response budget", low=0.0, low_inclusive=False)
    n_sequences: int = seqrl.param(20, "sequences", low=1)


@seqrl.scenario(name="three-kinds", description="Bayesian, PPO and LLM agents in one sequence.",
                params=Args, seeds=1)
def three_kinds(args, rng):
    seed = int(rng.integers(2**31))
    ppo = PPO("MlpPolicy", SharedPolicyEnv(n_agents=6, epsilon=args.epsilon), n_steps=256,
              seed=seed, device="cpu").learn(512)
    llm = LLMLearner(ScriptedBackend(ScriptedMajority(2)), AffectDynamicsParams("first-order"))
    agents = [BayesianAgent(), PolicyAgent(ppo, n_agents=6), llm, MajorityAgent(1),
              BayesianAgent(), llm]
    env = SequentialGameEnv(n_agents=6, epsilon=args.epsilon,
                            informed=[True, True, False, False, True, False])
    records = [play_sequence(env, agents, seed=int(s)) for s in rng.integers(2**31, size=args.n_sequences)]
    correct = np.array([r.action == r.theta for r in records])
    return {"accuracy": float(correct.mean()), "llm_decisions": len(llm.records)}
"""


def test_a_user_scenario_file_puts_three_kinds_of_agent_in_one_private_sequence(tmp_path):
    path = tmp_path / "three_kinds.py"
    path.write_text(textwrap.dedent(USER_FILE))
    result = seqrl.run(f"{path}:three-kinds", params={"n_sequences": 10})
    row = result.results.iloc[0]
    assert row["llm_decisions"] == 20 and 0.0 < row["accuracy"] <= 1.0
