"""Gymnasium environment: one private sequential learner's decision per step.

Liu & Rahimian, "Differentially Private Sequential Learning" (arXiv 2502.19525, 2025). The policy plays
each agent of a sequence in turn; reports are privatised and the observers update the public LLR as
if the agent were Bayesian (through :class:`seqrl.agents.dp_bayesian_learner.BayesianLearner`, the same kernel
as the vectorized engine and the Mesa model).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from seqrl.agents.dp_bayesian_learner import BayesianLearner, gaussian_or_binary
from seqrl.mechanisms.dp_privacy import make_mechanism

#: Bound of the observation box (public LLR and signal are clipped to it; never reached in practice).
OBSERVATION_LIMIT = 1e6


class SequentialLearningEnv(gym.Env):
    """Guess the state from the public LLR and a private signal; reports are privatised.

    ## Description
    A state theta in {-1, +1} is drawn at reset. Agents n = 1..N arrive one per step; agent n sees the
    public log-likelihood ratio l_n of the earlier reports and its private signal s_n, and guesses.
    Its report is the guess flipped with the mechanism's probability (randomized response, smoothed
    randomized response, or none), and observers update l_{n+1} = l_n + log P(x|l_n,+1)/P(x|l_n,-1),
    assuming the agent followed the Bayesian threshold rule.

    ## Action Space
    ``Discrete(2)``: 0 guesses theta = -1, 1 guesses theta = +1.

    ## Observation Space
    ``Box(-1e6, 1e6, (2,), float64)``: (public LLR l_n, private signal s_n); s_n is +-1 for binary
    signals and real for Gaussian signals. Both are unbounded in principle; the box is clipped at
    1e6, far beyond any value reached (l_n grows like log n).

    ## Rewards
    1 if the guess equals theta, else 0.

    ## Starting State
    theta uniform on {-1, +1}, l_1 = 0, s_1 drawn given theta.

    ## Episode End
    Terminated after the N-th agent's guess.

    ## Arguments
    ``n_agents`` (N), ``signal`` (``gaussian`` or ``binary``), ``p``, ``sigma``, ``mechanism``
    (``smoothed`` or ``randomized_response``), ``epsilon`` (``inf`` for no privacy), ``amplitude``.
    The info dict carries ``theta``, ``report`` and ``public_llr`` (after the update).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        n_agents: int = 100,
        signal: str = "gaussian",
        p: float = 0.7,
        sigma: float = 1.0,
        mechanism: str = "smoothed",
        epsilon: float = 1.0,
        amplitude: float = 0.5,
    ):
        if n_agents < 1:
            raise ValueError(f"n_agents must be >= 1, got {n_agents!r}")
        self.n_agents = n_agents
        self.learner = BayesianLearner(
            gaussian_or_binary(signal, p, sigma), make_mechanism(mechanism, epsilon, amplitude)
        )
        self.observation_space = spaces.Box(
            -OBSERVATION_LIMIT, OBSERVATION_LIMIT, shape=(2,), dtype=np.float64
        )
        self.action_space = spaces.Discrete(2)
        self.theta = 1
        self.public_llr = 0.0
        self.signal = 0.0
        self.agent = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Draw theta and the first agent's signal."""
        super().reset(seed=seed)
        self.theta = int(self.np_random.choice([-1, 1]))
        self.public_llr = 0.0
        self.agent = 0
        self.signal = self._draw_signal()
        return self._observation(), {"theta": self.theta, "public_llr": self.public_llr}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Privatise the guess, update the public LLR, and move to the next agent."""
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 or 1, got {action!r}")
        guess = 1 if int(action) == 1 else -1
        report = int(
            self.learner.privatize(
                np.asarray(guess),
                np.asarray(self.signal),
                np.asarray(self.public_llr),
                self.np_random,
            )
        )
        self.public_llr = float(
            self.learner.observe(np.asarray(self.public_llr), np.asarray(report))
        )
        self.agent += 1
        terminated = self.agent >= self.n_agents
        if not terminated:
            self.signal = self._draw_signal()
        info = {"theta": self.theta, "report": report, "public_llr": self.public_llr}
        return self._observation(), float(guess == self.theta), terminated, False, info

    def _draw_signal(self) -> float:
        return float(self.learner.draw_signal(np.asarray(self.theta), self.np_random))

    def _observation(self) -> np.ndarray:
        observation = np.array([self.public_llr, self.signal], dtype=np.float64)
        return np.clip(observation, -OBSERVATION_LIMIT, OBSERVATION_LIMIT)
