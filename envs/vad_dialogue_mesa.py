"""A Mesa model of several affective LLM agents conversing: affect contagion.

Beyond Subaharan (2026), arXiv 2601.16087, which studies one agent facing a scripted user. Here the
agents take turns in a shared conversation. Each round every agent, in random order, answers the
conversation's last utterance: it estimates that utterance, updates its VAD state with its dynamics
(:func:`seqrl.mechanisms.vad_affect.affect_step`, via :class:`seqrl.agents.vad_agent.AffectiveAgent`) and replies
under its injected state; its reply becomes the next last utterance. One agent starts in a
perturbed state (e.g. hostile), and the question is how far and how long the others follow it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import mesa
import numpy as np

from seqrl.agents.vad_agent import AffectiveAgent, AffectiveAgentConfig, TurnRecord
from seqrl.agents.vad_llm_backends import ChatBackend
from seqrl.mechanisms.vad_affect import AffectDynamicsParams, LexiconAffectEstimator

OPENING = "Let us talk about what makes a conversation worthwhile."


class ConversingAgent(mesa.Agent):
    """One affective LLM agent in the group conversation."""

    def __init__(self, model: DialogueGroupModel, affective: AffectiveAgent, index: int) -> None:
        super().__init__(model)
        self.affective = affective
        self.index = index

    @property
    def valence(self) -> float:
        """Current state valence."""
        return float(self.affective.state[0])

    @property
    def arousal(self) -> float:
        """Current state arousal."""
        return float(self.affective.state[1])

    @property
    def dominance(self) -> float:
        """Current state dominance."""
        return float(self.affective.state[2])

    def step(self) -> None:
        """Answer the last utterance and hand the floor on (a failed turn leaves it unchanged)."""
        record = self.affective.respond(self.model.last_utterance)
        self.model.record(self, record)
        if not record.failed and record.reply.strip():
            self.model.last_utterance = record.reply


class DialogueGroupModel(mesa.Model):
    """Several affective agents conversing in random order each round.

    Args:
        n_agents: Number of agents (>= 2).
        dynamics: The state update shared by all agents.
        backend_factory: Makes each agent's chat backend (called with the agent's index).
        seed_valence: Initial valence of agent 0 (the others start neutral, at 0).
        config: Prompt settings; the estimator reads what each agent hears ("user").
        estimator: The estimator all agents share (default: the VADER-based one).
        transcript_path: If given, every utterance is appended to it as one JSON line.
        rng: Seed or generator for the speaking order and the agents' generation seeds.
    """

    def __init__(
        self,
        n_agents: int,
        dynamics: AffectDynamicsParams,
        backend_factory: Callable[[int], ChatBackend],
        seed_valence: float = -0.9,
        config: AffectiveAgentConfig | None = None,
        estimator: LexiconAffectEstimator | None = None,
        transcript_path: Path | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(rng=rng)
        if n_agents < 2:
            raise ValueError(f"n_agents must be >= 2, got {n_agents!r}")
        if not -1.0 <= seed_valence <= 1.0:
            raise ValueError(f"seed_valence must be in [-1, 1], got {seed_valence!r}")
        config = config or AffectiveAgentConfig(estimator_source="user")
        if config.estimator_source != "user":
            raise ValueError("in the group model the estimator reads what each agent hears: 'user'")
        estimator = estimator or LexiconAffectEstimator()
        seeds = self.rng.integers(0, 2**31 - 1, size=n_agents)
        neutral = np.zeros(3)
        perturbed = np.array([seed_valence, 0.0, 0.0])
        affective: Sequence[AffectiveAgent] = [
            AffectiveAgent(
                backend_factory(index),
                dynamics,
                config,
                seed=int(seeds[index]),
                estimator=estimator,
                initial_state=perturbed if index == 0 else neutral,
            )
            for index in range(n_agents)
        ]
        ConversingAgent.create_agents(
            self, n_agents, affective=affective, index=list(range(n_agents))
        )
        self.last_utterance = OPENING
        self.transcript_path = transcript_path
        self.round = 0
        self.datacollector = mesa.DataCollector(
            model_reporters={"mean_valence_others": "mean_valence_others"},
            agent_reporters={
                "agent": "index",
                "valence": "valence",
                "arousal": "arousal",
                "dominance": "dominance",
            },
        )
        self.datacollector.collect(self)

    @property
    def mean_valence_others(self) -> float:
        """Mean state valence of every agent but the perturbed agent 0."""
        return float(np.mean([a.valence for a in self.agents if a.index != 0]))

    def record(self, agent: ConversingAgent, record: TurnRecord) -> None:
        """Append one utterance to the transcript, if any."""
        if self.transcript_path is None:
            return
        line = {"round": self.round, "agent": agent.index, **asdict(record)}
        with open(self.transcript_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def step(self) -> None:
        """One round: every agent speaks once, in random order."""
        self.round += 1
        self.agents.shuffle_do("step")
        self.datacollector.collect(self)
