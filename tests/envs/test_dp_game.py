"""The PettingZoo AEC game of private sequential learning: API, seeding, and the closed forms."""

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, seed_test
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from seqrl.agents.dp_bayesian_learner import BayesianLearner
from seqrl.agents.dp_engine import simulate_sequences
from seqrl.agents.dp_population import BayesianAgent, MajorityAgent, OwnSignalAgent
from seqrl.envs.dp_sequential_game import SequentialGameEnv, SharedPolicyEnv, play_sequence
from seqrl.mechanisms.dp_privacy import make_mechanism
from seqrl.mechanisms.dp_sequential import BinaryCascadeClosedForm
from seqrl.mechanisms.dp_signals import BinarySignal

CONFIGS = {
    "binary-rr-counts": {"signal": "binary", "p": 0.7, "epsilon": 1.0},
    "gaussian-smoothed-sequence-some-informed": {
        "signal": "gaussian",
        "mechanism": "smoothed",
        "epsilon": 1.0,
        "reports": "sequence",
        "informed": [True, False, True, False, True, False],
    },
    "mixed-precision-heterogeneous-budgets": {
        "signal": "gaussian",
        "precision_values": (0.5, 2.0),
        "mechanism": "smoothed",
        "budget_distribution": "uniform",
        "budget_low": 0.2,
        "budget_high": 2.0,
        "budgets_observed": True,
    },
}


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_game_passes_pettingzoo_api_and_seed_tests(config):
    api_test(SequentialGameEnv(n_agents=6, **config), num_cycles=50)
    seed_test(lambda: SequentialGameEnv(n_agents=6, **config), num_cycles=50)


def test_agents_act_once_in_order_and_are_rewarded_at_their_turn():
    env = SequentialGameEnv(n_agents=4, epsilon=math.inf)
    env.reset(seed=1)
    order, rewards = [], {}
    for name in env.agent_iter():
        _, reward, terminated, _, _ = env.last()
        order.append((name, terminated))
        if terminated:
            rewards[name] = reward
            env.step(None)
        else:
            env.step(1)  # everyone guesses +1
    names = [f"learner_{n}" for n in range(4)]
    assert order == [(name, done) for name in names for done in (False, True)]
    assert rewards == {name: float(env.theta == 1) for name in names}
    assert env.agents == []


def test_observations_follow_the_reports_and_the_observers_update():
    env = SequentialGameEnv(
        n_agents=5, epsilon=1.0, informed=[True, False, True, True, False], reports="counts"
    )
    learner = BayesianLearner(BinarySignal(0.7), make_mechanism("randomized_response", 1.0))
    env.reset(seed=7)
    public_llr = 0.0
    for n in range(5):
        observation = env.observe(f"learner_{n}")
        reports = env.reports[:n]
        assert list(observation["report_counts"]) == [(reports > 0).sum(), (reports < 0).sum()]
        assert ("public_llr" in observation) == env.informed[n]
        assert observation["private_llr"][0] == pytest.approx(
            observation["signal"][0] * math.log(0.7 / 0.3)
        )
        if env.informed[n]:
            assert observation["public_llr"][0] == pytest.approx(public_llr)
        env.step(n % 2)
        env.step(None)  # the dead step of the agent that acted
        public_llr = float(learner.observe(np.array(public_llr), np.array(env.reports[n])))
    assert env.public_llrs[-1] == pytest.approx(public_llr)


def test_sequence_view_lists_the_reports_made_so_far():
    env = SequentialGameEnv(n_agents=3, reports="sequence", epsilon=math.inf)
    env.reset(seed=0)
    env.step(1)
    env.step(None)
    assert list(env.observe("learner_1")["report_sequence"]) == [1, 0, 0]


def _cascade_statistics(records):
    starts = np.array([np.argmax(r.in_cascade) if r.in_cascade.any() else -1 for r in records])
    started = starts >= 0
    correct = np.array([np.sign(r.public_llr[-1]) == r.theta for r in records])
    wrong = np.array([(r.action != r.theta).sum() for r in records])
    return started, correct[started], starts[started], wrong


@pytest.mark.parametrize("epsilon", [1.0, math.inf])
def test_aec_loop_of_bayesian_agents_matches_closed_form_and_engine(epsilon):
    n_agents, n_runs, p = 40, 1500, 0.7
    env = SequentialGameEnv(n_agents=n_agents, p=p, epsilon=epsilon)
    agents = [BayesianAgent()] * n_agents
    rng = np.random.default_rng(11)
    records = [play_sequence(env, agents, seed=int(s)) for s in rng.integers(2**31, size=n_runs)]
    started, correct, starts, wrong = _cascade_statistics(records)

    closed = BinaryCascadeClosedForm(p, epsilon)
    # Given absorption at any time t, the gambler's-ruin odds of +K against -K are e^{KD}, so the
    # closed form holds for the cascades that start within N agents too.
    se = math.sqrt(closed.probability_correct * (1 - closed.probability_correct) / started.sum())
    assert abs(correct.mean() - closed.probability_correct) < 4 * se

    learner = BayesianLearner(BinarySignal(p), make_mechanism("randomized_response", epsilon))
    engine = simulate_sequences(learner, n_agents, 40_000, np.random.default_rng(5))
    engine_started = engine.cascade_start >= 0
    for ours, theirs in (
        (started.astype(float), engine_started.astype(float)),
        (starts.astype(float), engine.cascade_start[engine_started].astype(float)),
        (wrong.astype(float), engine.wrong_actions.astype(float)),
    ):
        se = math.hypot(ours.std() / math.sqrt(ours.size), theirs.std() / math.sqrt(theirs.size))
        assert abs(ours.mean() - theirs.mean()) < 4 * se + 1e-12
    # Truncation at N = 40 barely matters: the mean start is the infinite-sequence closed form.
    assert starts.mean() == pytest.approx(closed.expected_start, rel=0.1)


def test_majority_after_two_is_the_bayesian_rule_without_privacy():
    """With binary signals and no privacy, Bayesian agents follow a lead of two reports and
    otherwise their signal: the MajorityAgent(2) population must play identically, seed by seed."""
    env = SequentialGameEnv(n_agents=12, p=0.7, epsilon=math.inf)
    for seed in range(60):
        bayesian = play_sequence(env, [BayesianAgent()] * 12, seed=seed)
        majority = play_sequence(env, [MajorityAgent(2)] * 12, seed=seed)
        np.testing.assert_array_equal(bayesian.action, majority.action)
        np.testing.assert_array_equal(bayesian.public_llr, majority.public_llr)


def test_signals_do_not_depend_on_who_plays():
    env = SequentialGameEnv(n_agents=8, p=0.6, epsilon=0.5)
    first = play_sequence(env, [OwnSignalAgent()] * 8, seed=3)
    second = play_sequence(env, [MajorityAgent(1)] * 8, seed=3)
    assert first.theta == second.theta
    np.testing.assert_array_equal(first.signal, second.signal)
    np.testing.assert_array_equal(first.action, first.signal)  # own-signal followers


def test_shared_policy_env_passes_gymnasium_and_sb3_checks():
    check_env(SharedPolicyEnv(n_agents=5, epsilon=1.0, informed=False))
    sb3_check_env(SharedPolicyEnv(n_agents=5, signal="gaussian", mechanism="smoothed"))


def test_shared_policy_env_returns_each_agents_own_reward():
    env = SharedPolicyEnv(n_agents=6, epsilon=math.inf)
    env.reset(seed=4)
    total, terminated, steps = 0.0, False, 0
    while not terminated:
        _, reward, terminated, _, info = env.step(1)
        assert reward == float(info["theta"] == 1)
        total, steps = total + reward, steps + 1
    assert steps == 6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_agents": 0}, "n_agents"),
        ({"signal": "poisson"}, "signal"),
        ({"reports": "graph"}, "reports"),
        ({"informed": [True, False]}, "informed"),
        ({"precision_values": (0.6, 0.8), "precision_weights": (1.0,)}, "precision_weights"),
        ({"p": 1.5}, "p must be"),
        ({"epsilon": -1.0}, "epsilon"),
    ],
)
def test_bad_arguments_raise_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SequentialGameEnv(**{"n_agents": 4, **kwargs})
