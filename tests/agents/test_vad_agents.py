"""The affective agent and its backends (scripted, embedded SmolLM2, retries, failures)."""

import json
import socket

import numpy as np
import pytest

from seqrl.agents.vad_agent import AffectiveAgent, AffectiveAgentConfig
from seqrl.agents.vad_llm_backends import (
    MOOD_ECHO_REPLIES,
    BackendError,
    LlamaCppBackend,
    OpenAIBackend,
    RetryPolicy,
    ScriptedBackend,
    call_with_retries,
    mood_echo,
)
from seqrl.mechanisms.vad_affect import (
    AffectDynamicsParams,
    LexiconAffectEstimator,
    injection_block,
    parse_injection_block,
    simulate_dynamics,
)

TURNS = [
    "Hello, how are you today?",
    "You are a stupid, worthless machine and I hate you.",
    "Your answers are awful and pathetic.",
    "Thank you, that was kind and wonderful.",
]


@pytest.fixture(scope="module")
def estimator() -> LexiconAffectEstimator:
    return LexiconAffectEstimator()


class Recorder:
    """A scripted responder that keeps every prompt it was given."""

    def __init__(self, reply: str = "I see.") -> None:
        self.prompts: list[list[dict]] = []
        self.reply = reply

    def __call__(self, messages):
        self.prompts.append([dict(m) for m in messages])
        return self.reply


def test_retries_back_off_exponentially_then_give_up():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("down")
        return "ok"

    policy = RetryPolicy(max_retries=2, backoff_s=0.5)
    assert call_with_retries(flaky, policy, (ConnectionError,), sleep=waits.append) == "ok"
    assert waits == [0.5, 1.0]

    def broken():
        raise ConnectionError("still down")

    with pytest.raises(BackendError, match="after 3 attempts: ConnectionError: still down"):
        call_with_retries(broken, policy, (ConnectionError,), sleep=waits.append)


def test_first_order_agent_state_follows_the_dynamics_on_user_estimates(estimator):
    dynamics = AffectDynamicsParams(alpha=0.4)
    recorder = Recorder()
    agent = AffectiveAgent(
        ScriptedBackend(recorder),
        dynamics,
        AffectiveAgentConfig(estimator_source="user"),
        estimator=estimator,
    )
    for text in TURNS:
        agent.respond(text)
    expected = simulate_dynamics(estimator.estimate_many(TURNS), dynamics)
    np.testing.assert_allclose(agent.state_history(), expected)
    # Under "user" the reply of turn t sees s_t, injected in the system message.
    for prompt, state in zip(recorder.prompts, expected, strict=True):
        assert prompt[-2]["role"] == "system" and prompt[-1]["role"] == "user"
        assert parse_injection_block(prompt[-2]["content"]) == pytest.approx(state, abs=0.005)


def test_agent_source_reply_sees_the_previous_state(estimator):
    dynamics = AffectDynamicsParams(condition="second-order", mu=0.8, eta=0.5)
    recorder = Recorder("I hate this awful talk.")
    agent = AffectiveAgent(
        ScriptedBackend(recorder),
        dynamics,
        AffectiveAgentConfig(estimator_source="agent"),
        estimator=estimator,
    )
    for text in TURNS:
        agent.respond(text)
    reply_estimates = np.tile(estimator.estimate("I hate this awful talk."), (4, 1))
    expected = simulate_dynamics(reply_estimates, dynamics)
    np.testing.assert_allclose(agent.state_history(), expected)
    shown = [parse_injection_block(p[-2]["content"]) for p in recorder.prompts]
    np.testing.assert_allclose(shown[1:], expected[:-1], atol=0.005)


def test_both_source_averages_heard_and_reply(estimator):
    agent = AffectiveAgent(
        ScriptedBackend(["Wonderful, thank you!"]),
        AffectDynamicsParams(condition="stateless"),
        AffectiveAgentConfig(estimator_source="both"),
        estimator=estimator,
    )
    record = agent.respond(TURNS[1])
    expected = (estimator.estimate(TURNS[1]) + estimator.estimate("Wonderful, thank you!")) / 2
    np.testing.assert_allclose(record.estimate, expected)
    np.testing.assert_allclose(record.state, expected)


def test_stateless_agent_injects_nothing(estimator):
    recorder = Recorder()
    agent = AffectiveAgent(
        ScriptedBackend(recorder), AffectDynamicsParams(condition="stateless"), estimator=estimator
    )
    agent.respond(TURNS[0])
    assert all(parse_injection_block(m["content"]) is None for m in recorder.prompts[0])
    assert not agent.history[0].injected


def test_history_window_bounds_the_prompt(estimator):
    recorder = Recorder()
    agent = AffectiveAgent(
        ScriptedBackend(recorder),
        AffectDynamicsParams(),
        AffectiveAgentConfig(history_turns=2),
        estimator=estimator,
    )
    for text in TURNS:
        agent.respond(text)
    assert [len(p) for p in recorder.prompts] == [3, 5, 7, 7]  # system, history, state, user
    assert recorder.prompts[-1][1]["content"] == TURNS[1]


def test_failed_turn_is_recorded_not_dropped_and_transcript_is_incremental(estimator, tmp_path):
    path = tmp_path / "transcript.jsonl"
    backend = ScriptedBackend(["Fine.", RuntimeError("server exploded"), "Good."])
    agent = AffectiveAgent(
        backend,
        AffectDynamicsParams(),
        AffectiveAgentConfig(estimator_source="agent"),
        estimator=estimator,
        transcript_path=path,
    )
    agent.respond(TURNS[0])
    assert len(path.read_text().splitlines()) == 1  # written as soon as the turn ends
    state_before = agent.state.copy()
    failed = agent.respond(TURNS[1])
    agent.respond(TURNS[2])
    assert failed.failed and failed.reply == "" and "server exploded" in failed.error
    np.testing.assert_allclose(failed.state, state_before)  # no evidence: x_t = s_{t-1}
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["turn"] for line in lines] == [1, 2, 3]
    assert [line["failed"] for line in lines] == [False, True, False]


def test_empty_turn_is_rejected(estimator):
    agent = AffectiveAgent(ScriptedBackend(["x"]), AffectDynamicsParams(), estimator=estimator)
    with pytest.raises(ValueError, match="non-empty string"):
        agent.respond("  ")


def test_bad_config_raises():
    with pytest.raises(ValueError, match="estimator_source must be one of user, agent, both"):
        AffectiveAgentConfig(estimator_source="everyone")


def test_mood_echo_speaks_the_injected_valence_bin():
    for valence, expected in ((-0.9, 0), (-0.3, 1), (0.0, 2), (0.4, 3), (0.95, 4)):
        block = injection_block(np.array([valence, 0.0, 0.0]))
        assert mood_echo([{"role": "system", "content": block}]) == MOOD_ECHO_REPLIES[expected]
    assert mood_echo([{"role": "user", "content": "hi"}]) == MOOD_ECHO_REPLIES[2]


def test_unreachable_openai_endpoint_is_a_clear_value_error(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    monkeypatch.setenv("SEQRL_TEST_KEY", "sk-secret-value")
    with pytest.raises(
        ValueError,
        match=rf"127.0.0.1:{port}/v1' failed its probe \(GET /models: APIConnectionError\)",
    ) as info:
        OpenAIBackend(
            f"http://127.0.0.1:{port}/v1",
            "m",
            api_key_env="SEQRL_TEST_KEY",
            retry=RetryPolicy(timeout_s=2.0),
        )
    assert "sk-secret-value" not in str(info.value)


def test_embedded_backend_really_generates_text():
    backend = LlamaCppBackend(max_tokens=12)
    messages = [{"role": "user", "content": "Say hello to me."}]
    first = backend.generate(messages, seed=1, temperature=0.7)
    again = backend.generate(messages, seed=1, temperature=0.7)
    assert isinstance(first, str) and first.strip()
    assert first == again  # a seed fixes the sample
    assert 0 < backend.generated_tokens <= 24
    assert LlamaCppBackend(max_tokens=4)._llama is backend._llama  # loaded once per process
    call = backend.last_call
    assert (call.backend, call.model, call.seed, call.temperature, call.max_tokens) == (
        "embedded", "SmolLM2-135M-Instruct.Q4_1.gguf", 1, 0.7, 12,
    )  # fmt: skip
    assert call.prompt_tokens > 3 and 0 < call.completion_tokens <= 12 and call.attempts == 1
    assert backend.generated_tokens == 2 * call.completion_tokens
