"""LLM learners of the sequential-learning game on a REAL local OpenAI-compatible server, no mock.

The server is the ``server_url`` fixture of conftest.py (llama-cpp-python's server of SmolLM2).
"""

import json

import numpy as np
import pytest

from seqrl.agents.dp_llm_learner import LLMLearner, parse_guess
from seqrl.agents.vad_llm_backends import OpenAIBackend
from seqrl.envs.dp_sequential_game import SequentialGameEnv, play_sequence
from seqrl.mechanisms.vad_affect import AffectDynamicsParams
from seqrl.scenarios.core import with_artifact_dir
from seqrl.scenarios.library.mixed import llm_cascade


def test_llm_learners_play_a_sequence_on_the_real_server(server_url):
    backend = OpenAIBackend(server_url, "smollm2", max_tokens=6)
    learners = [LLMLearner(backend, AffectDynamicsParams("first-order"), seed=k) for k in range(4)]
    env = SequentialGameEnv(n_agents=4, p=0.7, epsilon=1.0, informed=False)
    record = play_sequence(env, learners, seed=0)
    records = [learner.records[0] for learner in learners]
    np.testing.assert_array_equal(record.action, [r.guess for r in records])
    for r, own in zip(records, record.signal, strict=True):
        assert "backend" not in r.error  # the server answered every call
        assert r.guess == (own if r.failed else parse_guess(r.reply))
    assert backend.generated_tokens > 0


@pytest.mark.slow
def test_llm_cascade_runs_on_the_real_server_and_records_every_decision(server_url, tmp_path):
    params = {
        **llm_cascade.defaults(),
        "backend": "openai",
        "openai_base_url": server_url,
        "n_agents": 4,
        "n_sequences": 2,
        "epsilon": 1.0,
    }
    args = llm_cascade.arguments(params)  # probes the server
    output = with_artifact_dir(tmp_path, lambda: llm_cascade.run(args, np.random.default_rng(0)))
    assert output.metrics["llm_decisions"] == 8
    assert output.metrics["generated_tokens"] > 0
    lines = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert len(lines) == 8
    assert sum(line["failed"] for line in lines) == output.metrics["llm_failures"]
    assert all(line["messages"][-1]["role"] == "user" for line in lines)
