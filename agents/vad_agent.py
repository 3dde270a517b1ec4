"""An LLM agent with an explicit Valence-Arousal-Dominance state (Subaharan 2026, arXiv 2601.16087).

Affective agent = chat backend + fixed memoryless estimator + state dynamics + prompt injection. Each
turn the estimator scores the selected text (the user's turn, the agent's reply, or the mean of
both), the dynamics (:func:`seqrl.mechanisms.vad_affect.affect_step`) integrate it, and the state is injected
as a labelled system block right before the turn the next generation answers (never under ``stateless``, where
the state is only measured). The agent keeps its transcript and state history, and can append each
finished turn to a JSON-lines file as it goes.
"""

from __future__ import annotations

import json
import logging
import time
import typing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from seqrl.agents.vad_llm_backends import BackendError, CallRecord, ChatBackend, Message
from seqrl.mechanisms.vad_affect import (
    AffectDynamicsParams,
    LexiconAffectEstimator,
    affect_step,
    injection_block,
)

logger = logging.getLogger(__name__)

EstimatorSource = Literal["user", "agent", "both"]
"""Which text the estimator scores: the heard turn, the agent's reply, or the mean of both."""
ESTIMATOR_SOURCES: tuple[EstimatorSource, ...] = typing.get_args(EstimatorSource)
DEFAULT_SYSTEM_PROMPT = (
    "You are a thoughtful conversation partner. Answer in one or two short sentences."
)


@dataclass(frozen=True)
class AffectiveAgentConfig:
    """How the agent talks and what its estimator reads.

    Attributes:
        estimator_source: "user" (x_t from the user's turn, before the reply), "agent" (from the
            agent's reply, after it) or "both" (mean of the two). Under "user" the reply sees s_t;
            otherwise it sees s_{t-1}, since the reply's affect is unknown before it exists.
        temperature: Sampling temperature (>= 0).
        history_turns: Past exchanges kept in the prompt (>= 0); bounds the context length. The
            default keeps the whole 25-turn protocol, so the prompt only grows and llama.cpp
            reuses its cache of the common prefix.
        system_prompt: The fixed instruction the state block is appended to.
    """

    estimator_source: EstimatorSource = "user"
    temperature: float = 0.7
    history_turns: int = 25
    system_prompt: str = DEFAULT_SYSTEM_PROMPT

    def __post_init__(self) -> None:
        if self.estimator_source not in ESTIMATOR_SOURCES:
            raise ValueError(
                f"estimator_source must be one of {', '.join(ESTIMATOR_SOURCES)}, "
                f"got {self.estimator_source!r}"
            )
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if self.history_turns < 0:
            raise ValueError(f"history_turns must be >= 0, got {self.history_turns!r}")


@dataclass(frozen=True)
class TurnRecord:
    """One finished turn.

    Attributes:
        turn: 1-based turn number.
        heard: The text the agent answered (a user turn, or another agent's utterance).
        reply: The agent's reply ("" when the turn failed).
        failed: Whether generation failed after every retry.
        error: The failure's message, or "".
        heard_estimate: (V, A, D) of the heard text.
        reply_estimate: (V, A, D) of the reply, or None when there is no reply.
        estimate: x_t (V, A, D) used for the update.
        state: s_t (V, A, D) after the update.
        injected: Whether a state block was in the prompt.
        seconds: Wall time of the turn.
        system_prompt: The fixed instruction the prompt began with.
        injected_block: The VAD state block in the prompt ("" when none was injected).
        call: The generation's provenance (:class:`~seqrl.agents.vad_llm_backends.CallRecord`:
            backend, model id, sampling, token counts, seconds, attempts), or None.
    """

    turn: int
    heard: str
    reply: str
    failed: bool
    error: str
    heard_estimate: tuple[float, float, float]
    reply_estimate: tuple[float, float, float] | None
    estimate: tuple[float, float, float]
    state: tuple[float, float, float]
    injected: bool
    seconds: float
    system_prompt: str = ""
    injected_block: str = ""
    call: CallRecord | None = None


def _triple(values: np.ndarray) -> tuple[float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]))


def _append(path: Path, record: TurnRecord) -> None:
    """Append one finished turn to a JSON-lines transcript."""
    line: dict[str, Any] = asdict(record)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


class AffectiveAgent:
    """An LLM agent whose replies are conditioned on an explicit, dynamically updated VAD state.

    Args:
        backend: Any :class:`seqrl.agents.vad_llm_backends.ChatBackend`.
        dynamics: The state update (stateless, first order or second order).
        config: Estimator source, sampling and prompt settings.
        seed: Base seed; turn t generates with seed + t.
        estimator: The fixed estimator (a shared one saves loading the lexicons again); defaults
            to the VADER-based one.
        transcript_path: If given, each finished turn is appended to it as one JSON line.
        initial_state: s_0 (defaults to the neutral state 0).
    """

    def __init__(
        self,
        backend: ChatBackend,
        dynamics: AffectDynamicsParams,
        config: AffectiveAgentConfig | None = None,
        seed: int = 0,
        estimator: LexiconAffectEstimator | None = None,
        transcript_path: Path | None = None,
        initial_state: np.ndarray | None = None,
    ) -> None:
        self.backend = backend
        self.dynamics = dynamics
        self.config = config or AffectiveAgentConfig()
        self.seed = seed
        self.estimator = estimator or LexiconAffectEstimator()
        self.transcript_path = transcript_path
        start = np.zeros(3) if initial_state is None else initial_state
        self.initial_state = np.array(start, dtype=float)
        self.state = self.initial_state.copy()
        self.velocity = np.zeros(3)
        self.history: list[TurnRecord] = []
        # The successful exchanges as chat messages, built once (user, assistant, user, ...).
        self._exchanges: list[Message] = []

    @property
    def injects(self) -> bool:
        """Whether the state is injected into the prompt (every condition but stateless)."""
        return self.dynamics.condition != "stateless"

    def observe(self, estimate: np.ndarray) -> np.ndarray:
        """Integrate one estimate x_t into the state; returns s_t."""
        self.state, self.velocity = affect_step(self.state, self.velocity, estimate, self.dynamics)
        return self.state

    def messages(self, heard: str) -> list[Message]:
        """The prompt: instruction, recent exchanges, the state block (if any), then ``heard``.

        The state block comes last, just before the turn it should colour, so that the earlier
        part of the prompt is the same from turn to turn and llama.cpp can reuse its cache.
        """
        messages: list[Message] = [{"role": "system", "content": self.config.system_prompt}]
        if self.config.history_turns:
            messages += self._exchanges[-2 * self.config.history_turns :]
        if self.injects:
            messages.append({"role": "system", "content": injection_block(self.state)})
        messages.append({"role": "user", "content": heard})
        return messages

    def speak(self, messages: list[Message]) -> tuple[str, str]:
        """Generate the reply to a prompt of :meth:`messages`; returns (reply, error)."""
        turn = len(self.history) + 1
        try:
            reply = self.backend.generate(
                messages, seed=self.seed + turn, temperature=self.config.temperature
            )
        except BackendError as error:
            logger.warning("turn %d failed: %s", turn, error)
            return "", str(error)
        return reply, ""

    def respond(self, heard: str) -> TurnRecord:
        """Play one turn: estimate, update the state, reply, and record the turn.

        Raises:
            ValueError: ``heard`` is empty or not a string.
        """
        started = time.perf_counter()
        heard_estimate = self.estimator.estimate(heard)
        source = self.config.estimator_source
        injected = self.injects
        if source == "user":
            self.observe(heard_estimate)
        messages = self.messages(heard)
        reply, error = self.speak(messages)
        # The reply is always measured; it drives the state only under "agent" and "both".
        reply_estimate = self.estimator.estimate(reply) if reply.strip() else None
        if source == "user":
            estimate = heard_estimate
        elif reply_estimate is None:
            # Nothing to read from the reply: "both" falls back to the heard text, "agent" feeds
            # back the current state (no new evidence: x_t = s_{t-1}).
            estimate = heard_estimate if source == "both" else self.state.copy()
        else:
            estimate = (
                reply_estimate if source == "agent" else (heard_estimate + reply_estimate) / 2
            )
        if source != "user":
            self.observe(estimate)
        record = TurnRecord(
            turn=len(self.history) + 1,
            heard=heard,
            reply=reply,
            failed=bool(error),
            error=error,
            heard_estimate=_triple(heard_estimate),
            reply_estimate=None if reply_estimate is None else _triple(reply_estimate),
            estimate=_triple(estimate),
            state=_triple(self.state),
            injected=injected,
            seconds=time.perf_counter() - started,
            system_prompt=messages[0]["content"],
            injected_block=messages[-2]["content"] if injected else "",
            call=getattr(self.backend, "last_call", None),
        )
        self.history.append(record)
        if not record.failed:
            self._exchanges += [
                {"role": "user", "content": heard},
                {"role": "assistant", "content": reply},
            ]
        if self.transcript_path is not None:
            _append(self.transcript_path, record)
        return record

    def state_history(self) -> np.ndarray:
        """s_1..s_T, shape (T, 3)."""
        return np.array([r.state for r in self.history]).reshape(-1, 3)

    def estimate_history(self) -> np.ndarray:
        """x_1..x_T, shape (T, 3)."""
        return np.array([r.estimate for r in self.history]).reshape(-1, 3)
