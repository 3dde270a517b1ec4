"""PettingZoo AEC game of private sequential learning: learners of any kind act once each, in order.

Liu & Rahimian, "Differentially Private Sequential Learning" (arXiv 2502.19525, 2025). A state theta
in {-1, +1} is drawn at reset; agents ``learner_0 .. learner_{N-1}`` act once each, in that order.
Agent n sees its private signal s_n, the public reports x_1 .. x_{n-1} (as counts or as the
sequence) and, if it is told, the public LLR l_n of the Bayesian observers; it guesses a_n in
{-1, +1}, is rewarded 1{a_n = theta} at its turn, and its report x_n is a_n through the privacy
mechanism. The observers update l_{n+1} = l_n + log P(x_n | l_n, +1) / P(x_n | l_n, -1) *assuming
that every agent is Bayesian*: with non-Bayesian agents in the sequence their behavioural model is
misspecified. Signals, reports and the update all go through
:class:`seqrl.agents.dp_bayesian_learner.BayesianLearner`, the kernel of the vectorized engine, the
Mesa model and the Gymnasium environment.

Who acts is not the environment's business: :func:`play_sequence` runs one sequence with any agents
that have ``act(observation) -> guess`` (:mod:`seqrl.agents.dp_population`), and
:class:`SharedPolicyEnv` is the Gymnasium view of the game in which one policy plays every seat
(parameter sharing), for stable-baselines3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from seqrl.agents.dp_bayesian_learner import BayesianLearner
from seqrl.agents.dp_population import (
    POLICY_FEATURES,
    SequenceAgent,
    action_of_guess,
    guess_of_action,
    policy_features,
)
from seqrl.mechanisms.dp_privacy import HeterogeneousBudget, make_base_mechanism, make_mechanism
from seqrl.mechanisms.dp_signals import BinarySignal, GaussianSignal

#: Bound of the real-valued observation boxes (never reached: l_n grows like log n).
OBSERVATION_LIMIT = 1e6

ReportView = Literal["counts", "sequence"]


def agent_name(position: int) -> str:
    """The PettingZoo name of the agent at 0-based ``position``."""
    return f"learner_{position}"


@dataclass(frozen=True)
class GameRecord:
    """One finished (or partly played) sequence, as arrays over positions n = 0 .. N - 1.

    Attributes:
        theta: The state.
        signal: Private signals s_n.
        private_llr: lambda(s_n) under each agent's own signal model.
        action: Guesses a_n (0 where the agent has not acted).
        report: Reports x_n (0 where the agent has not acted).
        public_llr: l_n before each agent acted, and l_{N+1} last (length N + 1).
        in_cascade: Whether the observers' l_n put agent n in a cascade (binary signals).
        epsilon: Each agent's own budget (heterogeneous budgets), else None.
    """

    theta: int
    signal: np.ndarray
    private_llr: np.ndarray
    action: np.ndarray
    report: np.ndarray
    public_llr: np.ndarray
    in_cascade: np.ndarray
    epsilon: np.ndarray | None


class SequentialGameEnv(AECEnv):
    """The sequential-learning game as a PettingZoo AEC environment.

    ## Description
    See the module docstring. Each agent acts exactly once; after its action it is terminated (and,
    as PettingZoo requires, stepped once more with ``None``, which hands it its reward), so
    ``agent_iter`` yields learner_0, learner_0, learner_1, learner_1, ...

    ## Action Space
    ``Discrete(2)`` for every agent: 0 guesses theta = -1, 1 guesses theta = +1.

    ## Observation Space
    A ``Dict`` per agent: ``signal`` (s_n, shape (1,)), ``private_llr`` (lambda(s_n), shape (1,)),
    ``report_counts`` ((number of +1 reports, number of -1 reports) so far) or ``report_sequence``
    (x_1 .. x_N, 0 for reports not made yet), as ``reports`` chooses, ``position`` (``Discrete(N)``) and, for informed agents
    only, ``public_llr`` (l_n, shape (1,)).

    ## Rewards
    1{a_n = theta} to agent n at its turn; 0 to everyone else.

    ## Starting State
    theta uniform on {-1, +1}; every agent's precision (if mixed), budget (if heterogeneous) and
    signal drawn at reset; l_1 = 0.

    ## Episode End
    Each agent terminates after its action; the episode ends after the N-th.

    Args:
        n_agents: N >= 1.
        signal: ``binary`` or ``gaussian``.
        p: Binary accuracy in (1/2, 1).
        sigma: Gaussian standard deviation.
        precision_values: Mixed precision: each agent's p (binary) or sigma (Gaussian) drawn from
            these at reset (public, as in the Mesa model); empty: everyone has ``p``/``sigma``.
        precision_weights: Probabilities of ``precision_values`` (uniform when empty).
        mechanism: ``randomized_response`` or ``smoothed``.
        epsilon: Common budget (> 0; ``inf`` for no privacy).
        amplitude: Smoothed-RR amplitude c.
        budget_distribution: ``none``, or per-agent budgets ``uniform`` / ``two_point`` on
            [budget_low, budget_high] (``weight_high`` on the high atom).
        budgets_observed: Whether observers see each agent's budget.
        reports: ``counts`` or ``sequence``.
        informed: Whether each agent is told l_n: one bool for all, or one per agent.
    """

    metadata = {"render_modes": [], "name": "seqrl_sequential_game_v0", "is_parallelizable": False}

    def __init__(
        self,
        n_agents: int = 10,
        signal: str = "binary",
        p: float = 0.7,
        sigma: float = 1.0,
        precision_values: Sequence[float] = (),
        precision_weights: Sequence[float] = (),
        mechanism: str = "randomized_response",
        epsilon: float = math.inf,
        amplitude: float = 0.5,
        budget_distribution: str = "none",
        budget_low: float = 0.0,
        budget_high: float = 1.0,
        weight_high: float = 0.5,
        budgets_observed: bool = False,
        reports: ReportView = "counts",
        informed: bool | Sequence[bool] = True,
    ) -> None:
        super().__init__()
        if isinstance(n_agents, bool) or not isinstance(n_agents, int) or n_agents < 1:
            raise ValueError(f"n_agents must be an integer >= 1, got {n_agents!r}")
        if signal not in ("binary", "gaussian"):
            raise ValueError(f"signal must be binary or gaussian, got {signal!r}")
        if reports not in ("counts", "sequence"):
            raise ValueError(f"reports must be counts or sequence, got {reports!r}")
        self.n_agents = n_agents
        self.report_view: ReportView = reports
        if budget_distribution == "none":
            privacy = make_mechanism(mechanism, epsilon, amplitude)  # type: ignore[arg-type]
        else:
            privacy = HeterogeneousBudget(
                base=make_base_mechanism(mechanism, budget_high, amplitude),  # type: ignore[arg-type]
                distribution=budget_distribution,  # type: ignore[arg-type]
                low=budget_low,
                high=budget_high,
                weight_high=weight_high,
                observed=budgets_observed,
            )
        self.mechanism = privacy
        values = [float(v) for v in precision_values] or [p if signal == "binary" else sigma]
        weights = np.asarray(precision_weights if len(precision_weights) else [1.0] * len(values))
        if weights.shape != (len(values),) or (weights < 0).any() or not weights.sum() > 0:
            raise ValueError(
                f"precision_weights must be {len(values)} non-negative numbers, got {weights}"
            )
        self.precision_weights = weights / weights.sum()
        model = BinarySignal if signal == "binary" else GaussianSignal
        self.learner_types = [BayesianLearner(model(v), privacy) for v in values]
        flags = [informed] * n_agents if isinstance(informed, bool) else list(informed)
        if len(flags) != n_agents:
            raise ValueError(f"informed must be one bool or {n_agents} of them, got {len(flags)}")
        self.informed = [bool(flag) for flag in flags]

        self.possible_agents = [agent_name(n) for n in range(n_agents)]
        self._index = {name: n for n, name in enumerate(self.possible_agents)}
        real = spaces.Box(-OBSERVATION_LIMIT, OBSERVATION_LIMIT, shape=(1,), dtype=np.float64)
        if reports == "counts":
            report_space = spaces.Box(0, n_agents, shape=(2,), dtype=np.int64)
        else:
            report_space = spaces.Box(-1, 1, shape=(n_agents,), dtype=np.int64)
        self._observation_spaces = {}
        for name, told in zip(self.possible_agents, self.informed, strict=True):
            fields: dict[str, spaces.Space] = {
                "signal": real,
                "private_llr": real,
                f"report_{reports}": report_space,
                "position": spaces.Discrete(n_agents),
            }
            if told:
                fields["public_llr"] = real
            self._observation_spaces[name] = spaces.Dict(fields)
        self._action_space = spaces.Discrete(2)
        self.np_random, _ = seeding.np_random(None)
        self.agents = []
        self._reset_state()

    def observation_space(self, agent: str) -> spaces.Space:
        """The agent's ``Dict`` observation space (``public_llr`` only for informed agents)."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """``Discrete(2)``: 0 guesses -1, 1 guesses +1."""
        return self._action_space

    def _reset_state(self) -> None:
        n = self.n_agents
        self.theta = 1
        self.types = [self.learner_types[0]] * n
        self.epsilon: np.ndarray | None = None
        self.signals = np.zeros(n)
        self.private_llrs = np.zeros(n)
        self.actions = np.zeros(n, dtype=np.int64)
        self.reports = np.zeros(n, dtype=np.int64)
        self.public_llrs = np.zeros(n + 1)
        self.cascade = np.zeros(n, dtype=bool)
        self.turn = 0

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Draw theta, each agent's precision, budget and signal; l_1 = 0."""
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        rng = self.np_random
        self._reset_state()
        self.theta = 1 if rng.random() < 0.5 else -1
        if len(self.learner_types) > 1:
            chosen = rng.choice(len(self.learner_types), self.n_agents, p=self.precision_weights)
            self.types = [self.learner_types[int(i)] for i in chosen]
        self.epsilon = self.mechanism.sample_epsilon(rng, self.n_agents)
        theta = np.asarray(self.theta)
        for n, learner in enumerate(self.types):
            self.signals[n] = float(learner.draw_signal(theta, rng))
            self.private_llrs[n] = float(learner.signal_model.private_llr(self.signals[n]))
        self.agents = self.possible_agents[:]
        self.rewards = {name: 0.0 for name in self.agents}
        self._cumulative_rewards = {name: 0.0 for name in self.agents}
        self.terminations = {name: False for name in self.agents}
        self.truncations = {name: False for name in self.agents}
        self.infos: dict[str, dict[str, Any]] = {name: {} for name in self.agents}
        self.agent_selection = self.agents[0]

    def position(self, agent: str) -> int:
        """The 0-based position of ``agent`` in the sequence."""
        return self._index[agent]

    def observe(self, agent: str) -> dict[str, Any]:
        """Agent's signal, the reports so far, its position and (if informed) the public LLR."""
        n = self._index[agent]
        if self.report_view == "counts":
            made = self.reports[: self.turn]
            reports = np.array([(made > 0).sum(), (made < 0).sum()], dtype=np.int64)
        else:
            reports = self.reports.copy()
        observation: dict[str, Any] = {
            "signal": np.array([self.signals[n]]),
            "private_llr": np.array([self.private_llrs[n]]),
            f"report_{self.report_view}": reports,
            "position": n,
        }
        if self.informed[n]:
            observation["public_llr"] = np.array([self.public_llrs[self.turn]])
        return observation

    def step(self, action: int | None) -> None:
        """The selected agent guesses; its report is privatised and the observers update l."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        if action is None or not self._action_space.contains(action):
            raise ValueError(f"{agent}: action must be 0 or 1, got {action!r}")
        n = self.turn
        learner = self.types[n]
        guess = guess_of_action(int(action))
        epsilon = None if self.epsilon is None else self.epsilon[n : n + 1]
        public_llr = self.public_llrs[n : n + 1]
        self.cascade[n] = bool(learner.signal_model.in_cascade(public_llr)[0])
        report = int(
            learner.privatize(
                np.array([guess]), self.signals[n : n + 1], public_llr, self.np_random, epsilon
            )[0]
        )
        self.actions[n], self.reports[n] = guess, report
        self.public_llrs[n + 1] = float(learner.observe(public_llr, np.array([report]), epsilon)[0])
        self.turn += 1

        self._cumulative_rewards[agent] = 0.0
        self.rewards = {name: 0.0 for name in self.agents}
        self.rewards[agent] = float(guess == self.theta)
        self.terminations[agent] = True
        self.infos[agent] = {
            "theta": self.theta,
            "guess": guess,
            "report": report,
            "public_llr": self.public_llrs[n + 1],
        }
        if self.turn < self.n_agents:
            self.agent_selection = agent_name(self.turn)
        self._accumulate_rewards()
        self._deads_step_first()

    def record(self) -> GameRecord:
        """The sequence so far."""
        return GameRecord(
            theta=self.theta,
            signal=self.signals.copy(),
            private_llr=self.private_llrs.copy(),
            action=self.actions.copy(),
            report=self.reports.copy(),
            public_llr=self.public_llrs.copy(),
            in_cascade=self.cascade.copy(),
            epsilon=None if self.epsilon is None else self.epsilon.copy(),
        )

    def render(self) -> None:
        """Nothing to render."""

    def close(self) -> None:
        """Nothing to release."""


def play_sequence(
    env: SequentialGameEnv, agents: Sequence[SequenceAgent], seed: int | None = None
) -> GameRecord:
    """Play one sequence: agent n of ``agents`` plays ``learner_n`` through ``act(observation)``.

    The loop is PettingZoo's AEC loop (``agent_iter`` / ``last`` / ``step``); after the sequence
    each agent that has ``observe_outcome`` is told whether it guessed right.
    """
    if len(agents) != env.n_agents:
        raise ValueError(f"{env.n_agents} agents are needed, got {len(agents)}")
    env.reset(seed=seed)
    for name in env.agent_iter():
        observation, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.step(None)
            continue
        env.step(action_of_guess(agents[env.position(name)].act(observation)))
    record = env.record()
    for agent, guess in zip(agents, record.action, strict=True):
        observe_outcome = getattr(agent, "observe_outcome", None)
        if observe_outcome is not None:
            observe_outcome(bool(guess == record.theta))
    return record


class SharedPolicyEnv(gymnasium.Env):
    """The game as a Gymnasium env in which one policy plays every seat (parameter sharing).

    Each step is the decision of the next agent in the sequence; the reward is that agent's own
    1{a_n = theta}. With discount gamma = 0 a learner maximises exactly each agent's own expected
    reward (later agents' rewards are not credited to earlier guesses), which is the game's
    equilibrium objective. This is PettingZoo's documented pattern for training one
    stable-baselines3 policy in an AEC game. Observations are :func:`policy_features` of the agent's
    observation.

    ## Action Space
    ``Discrete(2)``.

    ## Observation Space
    ``Box(4,)``: :func:`seqrl.agents.dp_population.policy_features` of the agent's observation.

    ## Rewards
    1{guess = theta} of the agent that acted.

    ## Episode End
    Terminated after the N-th agent.

    Args:
        **game: Arguments of :class:`SequentialGameEnv` (``informed`` must be one bool).
    """

    metadata = {"render_modes": []}

    def __init__(self, **game: Any) -> None:
        self.game = SequentialGameEnv(**game)
        self.observation_space = spaces.Box(
            -OBSERVATION_LIMIT, OBSERVATION_LIMIT, shape=(POLICY_FEATURES,), dtype=np.float64
        )
        self.action_space = spaces.Discrete(2)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the game; the first observation is learner_0's."""
        super().reset(seed=seed)
        self.game.np_random = self.np_random  # one generator: seeding this env seeds the game
        self.game.reset()
        return self._observation(), {"theta": self.game.theta}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """The current agent acts; its reward is returned with the next agent's observation."""
        agent = self.game.agent_selection
        self.game.step(int(action))
        reward, info = self.game.rewards[agent], dict(self.game.infos[agent])
        while self.game.agents and self.game.terminations[self.game.agent_selection]:
            self.game.step(None)
        terminated = not self.game.agents
        # The final observation is never acted on.
        observation = np.zeros(POLICY_FEATURES) if terminated else self._observation()
        return observation, float(reward), terminated, False, info

    def _observation(self) -> np.ndarray:
        game = self.game
        return policy_features(game.observe(game.agent_selection), game.n_agents)
