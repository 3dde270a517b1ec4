"""The openai backend against a REAL local OpenAI-compatible server (llama-cpp-python's), no mock.

The server is the ``server_url`` fixture of conftest.py.
"""

import numpy as np
import pytest

from seqrl.agents.vad_llm_backends import OpenAIBackend
from seqrl.scenarios.core import with_artifact_dir
from seqrl.scenarios.library.vad import vad_dialogue


def test_openai_client_talks_to_the_real_server(server_url, monkeypatch):
    monkeypatch.setenv("SEQRL_TEST_OPENAI_KEY", "sk-never-logged")
    backend = OpenAIBackend(
        server_url, "smollm2", api_key_env="SEQRL_TEST_OPENAI_KEY", max_tokens=12
    )
    messages = [{"role": "user", "content": "Say hello."}]
    reply = backend.generate(messages, seed=5, temperature=0.0)
    assert isinstance(reply, str) and reply.strip()
    assert backend.generate(messages, seed=5, temperature=0.0) == reply  # greedy: reproducible
    assert 0 < backend.generated_tokens <= 24
    assert "sk-never-logged" not in repr(backend)


@pytest.mark.slow
def test_vad_dialogue_runs_on_the_server_and_keeps_the_key_out(server_url, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQRL_TEST_OPENAI_KEY", "sk-never-logged")
    params = {
        **vad_dialogue.defaults(),
        "backend": "openai",
        "openai_base_url": server_url,
        "openai_api_key_env": "SEQRL_TEST_OPENAI_KEY",
        "condition": "first-order",
        "max_tokens": 8,
    }
    args = vad_dialogue.arguments(params)  # probes the server
    output = with_artifact_dir(tmp_path, lambda: vad_dialogue.run(args, np.random.default_rng(0)))
    assert output.metrics["failed_turns"] == 0
    assert output.metrics["generated_tokens"] > 0
    assert len(output.trajectories) == 25
    transcript = (tmp_path / "transcript.jsonl").read_text()
    assert len(transcript.splitlines()) == 25
    assert "sk-never-logged" not in transcript
    assert "sk-never-logged" not in repr(output.metrics)
