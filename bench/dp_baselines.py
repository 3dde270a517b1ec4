"""Baselines for bench_dp.py, written the way a user would write them without seqrl.

- :func:`naive_numpy`: a numpy loop over agents, all runs at once, with ``scipy.special.ndtr`` for
  the report likelihoods (the closed form of smoothed randomized response in probability space);
- :class:`PlainMesaModel`: a plain Mesa 3 model of the same game, one Agent per learner, scalar math.

Both simulate the game of ``seqrl.agents.dp_engine`` (theta uniform on {-1, +1}, Bayesian threshold
rule with ties following the signal, reports flipped by the mechanism, observers' update
l += log P(x | l, +1) / P(x | l, -1)), so bench_dp.py can check that they agree with the engine.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
from scipy.special import ndtr


def _smoothed_report_plus(threshold, theta, sigma, epsilon, amplitude, phi):
    """P(x = +1 | l, theta) under smoothed RR with Gaussian signals (threshold t = -sigma^2 l / 2)."""
    half = 0.5 * epsilon**2 * sigma**2
    return (
        phi((theta - threshold) / sigma)
        - amplitude
        * np.exp(epsilon * (threshold - theta) + half)
        * phi((theta - threshold - epsilon * sigma**2) / sigma)
        + amplitude
        * np.exp(epsilon * (theta - threshold) + half)
        * phi((threshold - theta - epsilon * sigma**2) / sigma)
    )


def naive_numpy(
    signal: str,
    n_agents: int,
    n_runs: int,
    rng: np.random.Generator,
    *,
    p: float = 0.7,
    sigma: float = 1.0,
    epsilon: float = 1.0,
    amplitude: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Final public LLRs and the states: binary signals under RR, or Gaussian under smoothed RR."""
    theta = np.where(rng.random(n_runs) < 0.5, 1, -1)
    llr = np.zeros(n_runs)
    if signal == "binary":
        magnitude = math.log(p / (1 - p))
        flip = 1 / (1 + math.exp(epsilon))
        for _ in range(n_agents):
            own = np.where(rng.random(n_runs) < p, theta, -theta)
            action = np.where(llr + own * magnitude * (1 + 1e-9) > 0, 1, -1)
            report = np.where(rng.random(n_runs) < flip, -action, action)
            # P(a = +1 | l, theta): 1 above the cascade bound, 0 below, the signal's law between.
            up = llr > magnitude * (1 + 1e-9)
            down = llr < -magnitude * (1 + 1e-9)
            plus = np.where(up, 1.0, np.where(down, 0.0, p))
            minus = np.where(up, 1.0, np.where(down, 0.0, 1 - p))
            plus = (1 - flip) * plus + flip * (1 - plus)
            minus = (1 - flip) * minus + flip * (1 - minus)
            step = np.where(report > 0, np.log(plus / minus), np.log((1 - plus) / (1 - minus)))
            llr = llr + step
        return llr, theta
    for _ in range(n_agents):
        own = theta + sigma * rng.standard_normal(n_runs)
        threshold = -0.5 * sigma**2 * llr
        action = np.where(own > threshold, 1, -1)
        flip = amplitude * np.exp(-epsilon * np.abs(own - threshold))
        report = np.where(rng.random(n_runs) < flip, -action, action)
        plus = _smoothed_report_plus(threshold, 1, sigma, epsilon, amplitude, ndtr)
        minus = _smoothed_report_plus(threshold, -1, sigma, epsilon, amplitude, ndtr)
        llr = llr + np.where(report > 0, np.log(plus / minus), np.log((1 - plus) / (1 - minus)))
    return llr, theta


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


class PlainLearner(mesa.Agent):
    """One learner of the plain Mesa model: acts once, in arrival order."""

    def step(self) -> None:
        model = self.model
        rng = model.rng
        llr, theta = model.public_llr, model.theta
        if model.signal == "binary":
            magnitude = math.log(model.p / (1 - model.p))
            own = theta if rng.random() < model.p else -theta
            action = 1 if llr + own * magnitude * (1 + 1e-9) > 0 else -1
            flip = 1 / (1 + math.exp(model.epsilon))
            report = -action if rng.random() < flip else action
            if llr > magnitude * (1 + 1e-9) or llr < -magnitude * (1 + 1e-9):
                return  # inside a cascade the report is uninformative
            plus = (1 - flip) * model.p + flip * (1 - model.p)
            minus = 1 - plus
        else:
            sigma, epsilon, amplitude = model.sigma, model.epsilon, model.amplitude
            own = theta + sigma * rng.normal()
            threshold = -0.5 * sigma**2 * llr
            action = 1 if own > threshold else -1
            flip = amplitude * math.exp(-epsilon * abs(own - threshold))
            report = -action if rng.random() < flip else action
            plus = _smoothed_report_plus(threshold, 1, sigma, epsilon, amplitude, _phi)
            minus = _smoothed_report_plus(threshold, -1, sigma, epsilon, amplitude, _phi)
        if report > 0:
            model.public_llr += math.log(plus / minus)
        else:
            model.public_llr += math.log((1 - plus) / (1 - minus))


class PlainMesaModel(mesa.Model):
    """The game as a plain Mesa model: one agent per learner, one learner acting per step."""

    def __init__(
        self,
        n_agents: int = 200,
        signal: str = "gaussian",
        p: float = 0.7,
        sigma: float = 1.0,
        epsilon: float = 1.0,
        amplitude: float = 0.5,
        rng: int | None = None,
    ):
        super().__init__(rng=rng)
        self.signal, self.p, self.sigma = signal, p, sigma
        self.epsilon, self.amplitude = epsilon, amplitude
        self.theta = 1 if self.rng.random() < 0.5 else -1
        self.public_llr = 0.0
        self.learners = [PlainLearner(self) for _ in range(n_agents)]
        self.turn = 0
        self.running = True

    def step(self) -> None:
        self.learners[self.turn].step()
        self.turn += 1
        self.running = self.turn < len(self.learners)
