"""The OpenAI-compatible backend against a misbehaving server on 127.0.0.1 (a real HTTP server
in a thread): HTTP 500, cut-off JSON bodies, replies that hang, garbage at the probe. Failed calls
are retried, then recorded as failed turns; a bad endpoint is one line before anything runs."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

pytest.importorskip("openai")

from seqrl.agents.vad_llm_backends import BackendError, OpenAIBackend, RetryPolicy  # noqa: E402
from seqrl.mechanisms.vad_affect import parse_injection_block  # noqa: E402
from seqrl.scenarios.cli import main  # noqa: E402
from seqrl.scenarios.core import with_artifact_dir  # noqa: E402
from seqrl.scenarios.library.vad import vad_dialogue  # noqa: E402

REPLY = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "fake",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "I see what you mean."}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
}  # fmt: skip
MODELS = {"object": "list", "data": [{"id": "fake", "object": "model", "created": 0,
                                      "owned_by": "me"}]}  # fmt: skip


class FakeServer:
    """Behaviours by path: ``probe`` (ok | 500 | garbage) and a queue of chat behaviours
    (ok | 500 | cut | hang), the last one repeating."""

    def __init__(self) -> None:
        self.probe = "ok"
        self.chat = ["ok"]
        self.chat_calls = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                if server.probe == "500":
                    self._send(500, {"error": {"message": "boom"}})
                elif server.probe == "garbage":
                    self._send(200, b"<html>not an api</html>")
                else:
                    self._send(200, MODELS)

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                behaviour = server.chat[min(server.chat_calls, len(server.chat) - 1)]
                server.chat_calls += 1
                if behaviour == "hang":
                    time.sleep(3)
                    self._send(200, REPLY)
                elif behaviour == "500":
                    self._send(500, {"error": {"message": "overloaded"}})
                elif behaviour == "cut":
                    self._send(200, json.dumps(REPLY).encode()[:40])
                else:
                    self._send(200, REPLY)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.httpd.shutdown()


FAST = RetryPolicy(max_retries=2, backoff_s=0.01, timeout_s=0.5)
MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize("probe", ["500", "garbage"])
def test_bad_probe_is_one_line_naming_the_endpoint(server, probe):
    server.probe = probe
    with pytest.raises(ValueError, match=r"endpoint 'http://127\.0\.0\.1:\d+/v1' failed its probe"):
        OpenAIBackend(server.url, "fake", retry=FAST)


def test_bad_probe_through_the_cli_exits_2_and_writes_nothing(server, tmp_path, capsys):
    server.probe = "500"
    out = tmp_path / "o"
    argv = ["run", "vad-dialogue", "--quick", "--set", "backend=openai",
            "--set", f"openai_base_url={server.url}", "--out", str(out)]  # fmt: skip
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("seqrl: error: openai_base_url=") and "HTTP 500" in line
    assert not out.exists()


@pytest.mark.parametrize("fault", ["500", "cut", "hang"])
def test_transient_fault_is_retried(server, fault):
    server.chat = [fault, "ok"]
    backend = OpenAIBackend(server.url, "fake", retry=FAST)
    assert backend.generate(MESSAGES, seed=1, temperature=0.0) == "I see what you mean."
    assert server.chat_calls == 2


@pytest.mark.parametrize("fault", ["500", "cut", "hang"])
def test_persistent_fault_raises_backend_error_after_the_retries_in_bounded_time(server, fault):
    server.chat = [fault]
    backend = OpenAIBackend(server.url, "fake", retry=FAST)
    started = time.monotonic()
    with pytest.raises(BackendError):
        backend.generate(MESSAGES, seed=1, temperature=0.0)
    assert server.chat_calls == 3
    assert time.monotonic() - started < 3 * FAST.timeout_s + 2


def test_a_dialogue_on_a_failing_server_records_every_failed_turn(server, tmp_path):
    server.chat = ["ok", "cut"]  # the first turn succeeds, every later call is cut off
    params = {**vad_dialogue.defaults(), "backend": "openai", "openai_base_url": server.url,
              "openai_timeout_s": 0.5, "openai_max_retries": 1, "condition": "first-order"}  # fmt: skip
    args = vad_dialogue.arguments(params)
    output = with_artifact_dir(tmp_path, lambda: vad_dialogue.run(args, np.random.default_rng(0)))
    assert output.metrics["failed_turns"] == 24
    assert len(output.trajectories) == 25
    lines = [json.loads(line) for line in (tmp_path / "transcript.jsonl").read_text().splitlines()]
    assert len(lines) == 25 and [line["failed"] for line in lines] == [False] + [True] * 24
    assert all(line["error"] for line in lines[1:])


def test_every_transcript_line_carries_its_provenance(server, tmp_path):
    params = {**vad_dialogue.defaults(), "backend": "openai", "openai_base_url": server.url,
              "condition": "first-order", "temperature": 0.3, "max_tokens": 20}  # fmt: skip
    args = vad_dialogue.arguments(params)
    with_artifact_dir(tmp_path, lambda: vad_dialogue.run(args, np.random.default_rng(0)))
    lines = [json.loads(line) for line in (tmp_path / "transcript.jsonl").read_text().splitlines()]
    assert len(lines) == 25
    for line in lines:
        assert line["system_prompt"] and line["heard"] and line["reply"] == "I see what you mean."
        # The block shows the state after this turn's update (the estimator reads the user).
        injected = parse_injection_block(line["injected_block"])
        assert injected == pytest.approx(line["state"], abs=0.005)
        call = line["call"]
        assert (call["backend"], call["model"], call["temperature"], call["max_tokens"]) == (
            "openai", "smollm2", 0.3, 20,
        )  # fmt: skip
        assert (call["prompt_tokens"], call["completion_tokens"], call["attempts"]) == (3, 5, 1)
        assert call["seconds"] > 0 and isinstance(call["seed"], int)
