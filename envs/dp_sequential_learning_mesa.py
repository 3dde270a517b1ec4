"""Mesa model of private sequential learning: one Agent per learner, acting in arrival order.

Liu & Rahimian, "Differentially Private Sequential Learning" (arXiv 2502.19525, 2025). Each step one
learner draws a private signal, acts by the Bayesian threshold rule, reports through the privacy
mechanism, and the public LLR is updated by the observers (all through
:class:`seqrl.agents.dp_bayesian_learner.BayesianLearner`, the kernel the vectorized engine uses too).
Agents may be heterogeneous: mixed signal precision (each agent's sigma is public) and mixed privacy
budgets (each agent's epsilon is drawn at creation; observers see it or marginalise over it).

The DataCollector records the model after every step, so row i holds the state after agent i + 1
acted, and ``mesa.batch_run`` (which reads row ``model.steps - 1``) reports the final state. Usable
with ``mesa.batch_run``::

    mesa.batch_run(SequentialLearningModel, {"epsilon": [0.5, 1.0], "n_agents": 200},
                   iterations=10, max_steps=200, data_collection_period=-1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mesa
import numpy as np

from seqrl.agents.dp_bayesian_learner import BayesianLearner, gaussian_or_binary
from seqrl.mechanisms.dp_privacy import (
    HeterogeneousBudget,
    PrivacyMechanism,
    make_base_mechanism,
    make_mechanism,
)
from seqrl.mechanisms.dp_signals import GaussianSignal


class LearnerAgent(mesa.Agent):
    """One learner: acts once, when its turn in the arrival order comes.

    Attributes:
        learner: The agent's type (signal model and privacy mechanism).
        epsilon: The agent's own privacy budget (heterogeneous budgets), else None.
        signal: Private signal, once acted.
        action: Action in {-1, +1}, once acted.
        report: Public report in {-1, +1}, once acted.
    """

    def __init__(
        self, model: SequentialLearningModel, learner: BayesianLearner, epsilon: float | None
    ):
        super().__init__(model)
        self.learner = learner
        self.epsilon = epsilon
        self.signal: float | None = None
        self.action: int | None = None
        self.report: int | None = None

    @property
    def sigma(self) -> float | None:
        """The agent's signal standard deviation (Gaussian signals)."""
        model = self.learner.signal_model
        return model.sigma if isinstance(model, GaussianSignal) else None

    def step(self) -> None:
        """Draw a signal, act, report, and let the observers update the public LLR."""
        model = self.model
        epsilon = None if self.epsilon is None else np.asarray(self.epsilon)
        turn = self.learner.turn(np.asarray(model.public_llr), model.theta, model.rng, epsilon)
        self.signal = float(turn.signal)
        self.action = int(turn.action)
        self.report = int(turn.report)
        model.public_llr = float(turn.public_llr)


class SequentialLearningModel(mesa.Model):
    """Agents arrive one per step, observe the public reports so far and act once.

    Args:
        n_agents: Number of learners, >= 1.
        signal: ``gaussian`` or ``binary``.
        p: Binary-signal accuracy in (1/2, 1).
        sigma: Gaussian-signal standard deviation (used when ``sigma_values`` is empty).
        sigma_values: Mixed precision: each agent's sigma drawn from these values.
        sigma_weights: Probabilities of ``sigma_values`` (uniform when empty).
        mechanism: ``smoothed`` or ``randomized_response``.
        epsilon: Homogeneous privacy budget (> 0; ``inf`` for no privacy).
        amplitude: Smoothed-RR amplitude c in (0, 1/2].
        budget_distribution: ``none`` (homogeneous), ``uniform`` or ``two_point`` budgets.
        budget_low: Smallest budget of the distribution.
        budget_high: Largest budget of the distribution.
        budgets_observed: Whether observers see each agent's budget.
        theta: The state; drawn uniformly from {-1, +1} when None.
        rng: Seed or generator (Mesa's ``rng``).
    """

    def __init__(
        self,
        n_agents: int = 100,
        signal: str = "gaussian",
        p: float = 0.7,
        sigma: float = 1.0,
        sigma_values: Sequence[float] = (),
        sigma_weights: Sequence[float] = (),
        mechanism: str = "smoothed",
        epsilon: float = 1.0,
        amplitude: float = 0.5,
        budget_distribution: str = "none",
        budget_low: float = 0.0,
        budget_high: float = 1.0,
        budgets_observed: bool = False,
        theta: int | None = None,
        rng: int | np.random.Generator | None = None,
    ):
        super().__init__(rng=rng)
        if n_agents < 1:
            raise ValueError(f"n_agents must be >= 1, got {n_agents!r}")
        if theta not in (None, -1, 1):
            raise ValueError(f"theta must be -1, +1 or None, got {theta!r}")
        self.theta = int(theta) if theta is not None else int(self.rng.choice([-1, 1]))
        self.public_llr = 0.0
        self.n_agents = n_agents
        privacy = self._mechanism(
            mechanism,
            epsilon,
            amplitude,
            budget_distribution,
            budget_low,
            budget_high,
            budgets_observed,
        )
        if signal == "gaussian" and len(sigma_values) > 0:
            weights = np.asarray(
                sigma_weights if len(sigma_weights) else np.ones(len(sigma_values))
            )
            sigmas = self.rng.choice(
                np.asarray(sigma_values, float), n_agents, p=weights / weights.sum()
            )
            learners = {
                value: BayesianLearner(GaussianSignal(value), privacy) for value in sigma_values
            }
            agent_learners = [learners[float(value)] for value in sigmas]
        else:
            agent_learners = [
                BayesianLearner(gaussian_or_binary(signal, p, sigma), privacy)
            ] * n_agents
        budgets = privacy.sample_epsilon(self.rng, n_agents)
        agent_budgets = [None] * n_agents if budgets is None else [float(b) for b in budgets]
        self.arrivals: list[LearnerAgent] = list(
            LearnerAgent.create_agents(
                self, n_agents, learner=agent_learners, epsilon=agent_budgets
            )
        )
        self.turn = 0
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "public_llr": "public_llr",
                "action": "last_action",
                "report": "last_report",
                "theta": "theta",
            }
        )

    @staticmethod
    def _mechanism(
        kind: str,
        epsilon: float,
        amplitude: float,
        budget_distribution: str,
        budget_low: float,
        budget_high: float,
        budgets_observed: bool,
    ) -> PrivacyMechanism:
        """``kind`` at budget ``epsilon``, or, with a budget distribution, at each agent's own."""
        if budget_distribution == "none":
            return make_mechanism(kind, epsilon, amplitude)
        return HeterogeneousBudget(
            # Built at budget_high; each agent's own budget replaces it.
            base=make_base_mechanism(kind, budget_high, amplitude),
            distribution=budget_distribution,
            low=budget_low,
            high=budget_high,
            observed=budgets_observed,
        )

    @property
    def last_agent(self) -> LearnerAgent | None:
        """The agent who acted last, or None before the first step."""
        return self.arrivals[self.turn - 1] if self.turn else None

    @property
    def last_action(self) -> float:
        """The last action (NaN before the first step)."""
        agent = self.last_agent
        return math.nan if agent is None else agent.action

    @property
    def last_report(self) -> float:
        """The last public report (NaN before the first step)."""
        agent = self.last_agent
        return math.nan if agent is None else agent.report

    def step(self) -> None:
        """The next learner in arrival order acts; the model stops after the last one."""
        if self.turn >= self.n_agents:
            self.running = False
            return
        self.arrivals[self.turn].step()
        self.turn += 1
        self.datacollector.collect(self)
        if self.turn >= self.n_agents:
            self.running = False

    def summary(self) -> dict[str, float]:
        """Per-run metrics matching the vectorized engine's summaries."""
        actions = np.array([agent.action for agent in self.arrivals[: self.turn]])
        reports = np.array([agent.report for agent in self.arrivals[: self.turn]])
        never = self.n_agents + 1
        right_actions = np.flatnonzero(actions == self.theta)
        right_reports = np.flatnonzero(reports == self.theta)
        return {
            "theta": self.theta,
            "final_public_llr": self.public_llr,
            "oriented_public_llr": self.theta * self.public_llr,
            "wrong_actions": int((actions != self.theta).sum()),
            "wrong_reports": int((reports != self.theta).sum()),
            "first_correct_action": int(right_actions[0] + 1) if right_actions.size else never,
            "first_correct_report": int(right_reports[0] + 1) if right_reports.size else never,
        }
