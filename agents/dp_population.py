"""One agent interface for mixed populations in the sequential-learning game.

An agent in a sequence is anything with ``act(observation) -> guess`` (guess in {-1, +1}), and
optionally ``reset()`` and ``observe_outcome(correct)``. The observation is the dict of the
PettingZoo game (:class:`seqrl.envs.dp_sequential_game.SequentialGameEnv`): ``signal``,
``private_llr``, ``report_counts`` (#(+1), #(-1)) or ``report_sequence`` (x_1 .. x_N, 0 where not
made yet), ``position`` and, for informed agents, ``public_llr``. Implementations here:

- :class:`BayesianAgent`: the threshold rule a = sign(l + lambda(s)), ties following the signal
  (:func:`seqrl.mechanisms.dp_signals.bayesian_action`, the kernel of every host);
- :class:`OwnSignalAgent`: a = sign(lambda(s));
- :class:`MajorityAgent`: the majority of the reports seen once it leads by ``margin``, else the own
  signal;
- :class:`PolicyAgent`: any stable-baselines3 policy (anything with SB3's ``predict``) on
  :func:`policy_features` or on features of the caller's choice;
- the LLM learner, in :mod:`seqrl.agents.dp_llm_learner`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from seqrl.mechanisms.dp_signals import bayesian_action

Observation = Mapping[str, Any]
#: Length of :func:`policy_features`.
POLICY_FEATURES = 4


@runtime_checkable
class SequenceAgent(Protocol):
    """What the game needs of an agent; ``reset`` and ``observe_outcome`` are optional."""

    def act(self, observation: Observation) -> int:
        """The guess, -1 or +1."""
        ...


def guess_of_action(action: int) -> int:
    """The guess of a ``Discrete(2)`` action: 1 -> +1, 0 -> -1."""
    return 1 if int(action) == 1 else -1


def action_of_guess(guess: int) -> int:
    """The ``Discrete(2)`` action of a guess in {-1, +1}.

    Raises:
        ValueError: the guess is not -1 or +1.
    """
    if guess not in (-1, 1):
        raise ValueError(f"a guess must be -1 or +1, got {guess!r}")
    return 1 if guess == 1 else 0


def report_counts(observation: Observation) -> tuple[int, int]:
    """(number of +1 reports, number of -1 reports) seen, from either report view.

    The counts view is ``report_counts`` = (#(+1), #(-1)); the sequence view is
    ``report_sequence`` = x_1 .. x_N with 0 for reports not made yet.
    """
    if "report_counts" in observation:
        plus, minus = np.asarray(observation["report_counts"])
        return int(plus), int(minus)
    sequence = np.asarray(observation["report_sequence"])
    return int((sequence > 0).sum()), int((sequence < 0).sum())


def own_signal_guess(observation: Observation) -> int:
    """sign(lambda(s)); lambda = 0 (a Gaussian s = 0, probability 0) guesses +1."""
    return -1 if float(observation["private_llr"][0]) < 0 else 1


@dataclass(frozen=True)
class BayesianAgent:
    """The Bayesian threshold rule; needs to be told the public LLR (an informed agent)."""

    def act(self, observation: Observation) -> int:
        """a = sign(l + lambda(s)), ties following the signal."""
        if "public_llr" not in observation:
            raise ValueError("a BayesianAgent must be told the public LLR (informed=True)")
        return int(bayesian_action(observation["public_llr"][0], observation["private_llr"][0]))


@dataclass(frozen=True)
class OwnSignalAgent:
    """Follows its own signal, whatever the crowd did."""

    def act(self, observation: Observation) -> int:
        """sign(lambda(s))."""
        return own_signal_guess(observation)


@dataclass(frozen=True)
class MajorityAgent:
    """Follows the majority of the reports seen once it leads by ``margin``, else its own signal.

    Attributes:
        margin: Lead |#(+1) - #(-1)| from which the majority is followed (>= 1). Without privacy,
            ``margin = 2`` is the Bayesian rule with binary signals (a lead of one report ties with
            the own signal, which then decides).
    """

    margin: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.margin, bool) or not isinstance(self.margin, int) or self.margin < 1:
            raise ValueError(f"margin must be an integer >= 1, got {self.margin!r}")

    def act(self, observation: Observation) -> int:
        """The majority of the reports if it leads by ``margin``, else the own signal."""
        plus, minus = report_counts(observation)
        lead = plus - minus
        if abs(lead) >= self.margin:
            return 1 if lead > 0 else -1
        return own_signal_guess(observation)


def policy_features(observation: Observation, n_agents: int) -> np.ndarray:
    """The flat features a shared policy sees: (lambda(s_n), l_n or 0, net reports, n / N).

    The net report count is #(+1 reports) - #(-1 reports); l_n is 0 for agents not told it.
    """
    plus, minus = report_counts(observation)
    public = observation.get("public_llr")
    return np.array(
        [
            float(observation["private_llr"][0]),
            0.0 if public is None else float(public[0]),
            float(plus - minus),
            observation["position"] / n_agents,
        ]
    )


class Predictor(Protocol):
    """stable-baselines3's ``predict`` (a model or a policy)."""

    def predict(self, observation: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """Action indices for the observations, and the recurrent state."""
        ...


@dataclass(frozen=True)
class PolicyAgent:
    """Any stable-baselines3 policy as a sequence agent, through ``predict``.

    Attributes:
        policy: A trained SB3 model or policy (``predict(obs, deterministic=True)``), or any object
            with that method, such as :class:`seqrl.agents.dp_bayesian_learner.BayesianPolicy`.
        features: Maps the game's observation to the policy's input; the default is
            :func:`policy_features` with ``n_agents``.
        n_agents: N, for the default features.
    """

    policy: Predictor
    n_agents: int = 1
    features: Callable[[Observation], np.ndarray] | None = None

    def act(self, observation: Observation) -> int:
        """The policy's deterministic action index, as a guess (1 -> +1, 0 -> -1)."""
        if self.features is None:
            values = policy_features(observation, self.n_agents)
        else:
            values = np.asarray(self.features(observation), dtype=float)
        action, _ = self.policy.predict(values, deterministic=True)
        return guess_of_action(int(np.asarray(action).reshape(-1)[0]))


#: The agent kinds a population can be built from by name (the LLM learner is built apart: it needs
#: a backend).
HEURISTICS: dict[str, Callable[..., SequenceAgent]] = {
    "bayesian": BayesianAgent,
    "own-signal": OwnSignalAgent,
    "majority": MajorityAgent,
}


def make_heuristic(kind: str, margin: int = 1) -> SequenceAgent:
    """A Bayesian or heuristic agent by name.

    Raises:
        ValueError: an unknown kind (the message lists the known ones).
    """
    if kind not in HEURISTICS:
        raise ValueError(f"unknown agent type {kind!r}; known: {', '.join(HEURISTICS)}")
    return MajorityAgent(margin) if kind == "majority" else HEURISTICS[kind]()
