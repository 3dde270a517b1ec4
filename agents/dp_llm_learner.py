"""An LLM learner in the sequential-learning game, optionally with a Valence-Arousal-Dominance state.

The learner states its private signal and its predecessors' reports in words, asks a chat model for
a guess (UP for theta = +1, DOWN for theta = -1) and parses the reply with :func:`parse_guess`. A
reply that cannot be parsed, or a backend that fails after its retries, is a recorded failure,
never a crash: the learner then follows its own signal (the fallback rule), and the record says so.
Every prompt and reply is kept in :attr:`LLMLearner.records`.

With a VAD state (Subaharan 2026, arXiv 2601.16087; dynamics
:func:`seqrl.mechanisms.vad_affect.affect_step`) the learner appraises two events: the crowd's
agreement with its own signal before it decides, g = (#agreeing - #disagreeing) / #reports seen,
and its outcome after the sequence, g = +1 right / -1 wrong. Each event is the estimate
x = (g, (1 - g) / 2, g) (valence, arousal, dominance: agreement and success please, calm and
embolden; disagreement and error do the opposite), integrated by the dynamics; the state is
injected into the next prompt with the affect system's block
(:func:`seqrl.mechanisms.vad_affect.injection_block`), except under ``stateless``, where it is only
measured. The learner lives across the sequences of a task, so its state carries over.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seqrl.agents.dp_population import MajorityAgent, Observation, own_signal_guess, report_counts
from seqrl.agents.vad_llm_backends import BackendError, CallRecord, ChatBackend, Message
from seqrl.mechanisms.vad_affect import AffectDynamicsParams, affect_step, injection_block

logger = logging.getLogger(__name__)

WORDS = {1: "UP", -1: "DOWN"}
SYSTEM_PROMPT = (
    "You play a guessing game. A hidden state is either UP or DOWN, equally likely. "
    "People guess one after another; each sees a private signal and the earlier public answers. "
    "Reply with exactly one word: UP or DOWN."
)
_GUESS_WORD = re.compile(r"\b(up|down)\b", re.IGNORECASE)
_SIGNAL_LINE = re.compile(r"Your private signal says (UP|DOWN)")
_COUNTS_LINE = re.compile(r"(\d+) answered UP and (\d+) answered DOWN")
_SEQUENCE_LINE = re.compile(r"answered, in order: ([A-Z, ]+)\.")


def parse_guess(reply: str) -> int | None:
    """The guess in a reply: +1 for UP, -1 for DOWN, None when unparseable.

    The reply's first word decides when it is UP or DOWN (any case and punctuation); otherwise
    the words UP/DOWN in it decide if they all agree; a reply with neither, or with both and a
    different first word, is unparseable.
    """
    found = [match.lower() for match in _GUESS_WORD.findall(reply)]
    if not found:
        return None
    first = re.match(r"\W*(\w+)", reply)
    if first is not None and first.group(1).lower() in ("up", "down"):
        return 1 if first.group(1).lower() == "up" else -1
    if len(set(found)) == 1:
        return 1 if found[0] == "up" else -1
    return None


def appraisal_estimate(agreement: float) -> np.ndarray:
    """The affect estimate x = (g, (1 - g) / 2, g) of an event with signed appraisal g in [-1, 1]."""
    if not -1.0 <= agreement <= 1.0:
        raise ValueError(f"the appraisal must be in [-1, 1], got {agreement!r}")
    return np.array([agreement, (1.0 - agreement) / 2.0, agreement])


def crowd_agreement(observation: Observation) -> float:
    """g = (#reports agreeing with the own signal - #disagreeing) / #reports (0 before any)."""
    plus, minus = report_counts(observation)
    seen = plus + minus
    if seen == 0:
        return 0.0
    return own_signal_guess(observation) * (plus - minus) / seen


def describe(observation: Observation, report_flip_probability: float = 0.0) -> str:
    """The user prompt: the learner's position, signal and the earlier public answers, in words.

    Args:
        observation: The game's observation of the learner.
        report_flip_probability: u of randomized response (0: reports are the guesses).
    """
    position = int(observation["position"])
    private_llr = float(observation["private_llr"][0])
    own = WORDS[own_signal_guess(observation)]
    strength = 1.0 / (1.0 + math.exp(-abs(private_llr)))
    lines = [
        f"You are person {position + 1}.",
        f"Your private signal says {own}; on its own it makes {own} {strength:.0%} likely.",
    ]
    if position == 0:
        lines.append("Nobody has answered before you.")
    elif "report_sequence" in observation:
        made = np.asarray(observation["report_sequence"])[:position]
        words = ", ".join(WORDS[int(x)] for x in made)
        lines.append(f"The {position} people before you answered, in order: {words}.")
    else:
        plus, minus = report_counts(observation)
        lines.append(
            f"Of the {position} people before you, {plus} answered UP and {minus} answered DOWN."
        )
    if report_flip_probability > 0 and position > 0:
        lines.append(
            f"For privacy, each public answer was replaced by its opposite with probability "
            f"{report_flip_probability:.0%}."
        )
    if "public_llr" in observation:
        belief = 1.0 / (1.0 + math.exp(-float(observation["public_llr"][0])))
        lines.append(f"From the public answers alone, UP is {belief:.0%} likely.")
    lines.append("Your guess, UP or DOWN?")
    return "\n".join(lines)


def _example(position: int, own: int, plus: int, minus: int) -> list[Message]:
    situation = {"position": position, "private_llr": [own * math.log(7 / 3)],
                 "report_counts": [plus, minus]}  # fmt: skip
    return [
        {"role": "user", "content": describe(situation)},
        {"role": "assistant", "content": WORDS[own]},
    ]


#: Two worked examples of the answer format (a 135M model needs them to answer in one word). In
#: both the signal and the crowd agree, so they show the format without saying how to weigh the
#: crowd against the own signal.
EXAMPLES: tuple[Message, ...] = (*_example(2, 1, 2, 0), *_example(0, -1, 0, 0))


@dataclass(frozen=True)
class DecisionRecord:
    """One decision of an LLM learner.

    Attributes:
        decision: 0-based count of the learner's decisions.
        position: The learner's position in the sequence.
        messages: The prompt (OpenAI chat format).
        reply: The model's reply ("" when the backend failed).
        guess: The guess played (the fallback's on failure).
        failed: Whether the reply was unparseable or the backend failed.
        error: Why it failed ("" otherwise).
        state: (V, A, D) injected into (or, stateless, measured before) this decision.
        injected: Whether the state block was in the prompt.
        seconds: Wall time of the call.
        call: The generation's provenance (backend, model id, sampling, token counts, seconds,
            attempts), or None for a backend that keeps none.
    """

    decision: int
    position: int
    messages: tuple[Message, ...]
    reply: str
    guess: int
    failed: bool
    error: str
    state: tuple[float, float, float]
    injected: bool
    seconds: float
    call: CallRecord | None = None


@dataclass(frozen=True)
class LLMLearnerConfig:
    """How the LLM learner asks.

    Attributes:
        temperature: Sampling temperature (>= 0).
        report_flip_probability: u of randomized response, stated in the prompt (0: not mentioned).
        system_prompt: The fixed instruction.
    """

    temperature: float = 0.7
    report_flip_probability: float = 0.0
    system_prompt: str = SYSTEM_PROMPT

    def __post_init__(self) -> None:
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if not 0.0 <= self.report_flip_probability < 0.5:
            raise ValueError(
                f"report_flip_probability must be in [0, 1/2), got {self.report_flip_probability!r}"
            )


class LLMLearner:
    """A sequence agent that asks a chat model for its guess.

    Args:
        backend: Any :class:`seqrl.agents.vad_llm_backends.ChatBackend` (embedded, OpenAI-compatible,
            scripted).
        dynamics: The VAD dynamics; None or ``stateless`` injects nothing.
        config: Sampling and prompt settings.
        seed: Base seed; decision k generates with seed + k.
    """

    def __init__(
        self,
        backend: ChatBackend,
        dynamics: AffectDynamicsParams | None = None,
        config: LLMLearnerConfig | None = None,
        seed: int = 0,
    ) -> None:
        self.backend = backend
        self.dynamics = dynamics
        self.config = config or LLMLearnerConfig()
        self.seed = seed
        self.state = np.zeros(3)
        self.velocity = np.zeros(3)
        self.records: list[DecisionRecord] = []

    @property
    def injects(self) -> bool:
        """Whether the VAD state is injected into the prompt."""
        return self.dynamics is not None and self.dynamics.condition != "stateless"

    def _appraise(self, agreement: float) -> None:
        if self.dynamics is not None:
            self.state, self.velocity = affect_step(
                self.state, self.velocity, appraisal_estimate(agreement), self.dynamics
            )

    def messages(self, observation: Observation) -> list[Message]:
        """The prompt: instruction, the worked examples, the state block (if injected), then the
        situation. Everything before the state block is the same for every decision, so llama.cpp
        reuses its cache of that prefix."""
        messages: list[Message] = [{"role": "system", "content": self.config.system_prompt}]
        messages += EXAMPLES
        if self.injects:
            messages.append({"role": "system", "content": injection_block(self.state)})
        text = describe(observation, self.config.report_flip_probability)
        messages.append({"role": "user", "content": text})
        return messages

    def act(self, observation: Observation) -> int:
        """Appraise the crowd, ask the model, parse its guess (own signal on failure), record."""
        self._appraise(crowd_agreement(observation))
        messages = self.messages(observation)
        decision = len(self.records)
        started = time.perf_counter()
        error = ""
        try:
            reply = self.backend.generate(
                messages, seed=self.seed + decision, temperature=self.config.temperature
            )
        except BackendError as failure:
            logger.warning("decision %d: backend failed: %s", decision, failure)
            reply, error = "", f"backend: {failure}"
        guess = parse_guess(reply) if not error else None
        if guess is None and not error:
            error = "unparseable reply"
        played = own_signal_guess(observation) if guess is None else guess
        self.records.append(
            DecisionRecord(
                decision=decision,
                position=int(observation["position"]),
                messages=tuple(messages),
                reply=reply,
                guess=played,
                failed=bool(error),
                error=error,
                state=(float(self.state[0]), float(self.state[1]), float(self.state[2])),
                injected=self.injects,
                seconds=time.perf_counter() - started,
                call=getattr(self.backend, "last_call", None),
            )
        )
        return played

    def observe_outcome(self, correct: bool) -> None:
        """Appraise the outcome: +1 if the guess was right, -1 if wrong."""
        self._appraise(1.0 if correct else -1.0)

    @property
    def failures(self) -> int:
        """Decisions whose reply was unparseable or whose backend failed."""
        return sum(record.failed for record in self.records)


@dataclass(frozen=True)
class ScriptedMajority:
    """A scripted "LLM" that follows the majority after a lead of ``margin`` (for wiring tests).

    It reads the situation back from the prompt that :func:`describe` wrote and answers with the
    word of :class:`seqrl.agents.dp_population.MajorityAgent`'s guess, so an LLM population on the
    scripted backend must reproduce the heuristic exactly.
    """

    margin: int = 1

    def __call__(self, messages: Sequence[Message]) -> str:
        """The reply to the last user message."""
        text = messages[-1]["content"]
        signal = _SIGNAL_LINE.search(text)
        if signal is None:
            raise ValueError("not a prompt of the sequential-learning game")
        counts = _COUNTS_LINE.search(text)
        if counts is not None:
            plus, minus = int(counts.group(1)), int(counts.group(2))
        else:
            sequence = _SEQUENCE_LINE.search(text)
            words = sequence.group(1).split(", ") if sequence is not None else []
            plus, minus = words.count("UP"), words.count("DOWN")
        observation = {
            "private_llr": [1.0 if signal.group(1) == "UP" else -1.0],
            "report_counts": [plus, minus],
            "position": plus + minus,
        }
        return WORDS[MajorityAgent(self.margin).act(observation)]
