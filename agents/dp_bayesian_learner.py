"""The Bayesian sequential learner with privatised reports, and the observers' public-belief update.

Liu & Rahimian, "Differentially Private Sequential Learning" (arXiv 2502.19525, 2025). One agent's
turn, given the public LLR l_n and the state theta:
    s_n ~ signal model(theta);  a_n = +1 iff l_n + lambda(s_n) > 0 (ties follow s_n);
    x_n = a_n w.p. 1 - u_n, else -a_n;  l_{n+1} = l_n + log P(x_n | l_n, +1) / P(x_n | l_n, -1).
Every method is batched over arrays of independent runs, so the vectorized engine, the Mesa model and
the Gymnasium environment all call these same functions. Where the agent type has a compiled kernel
(:func:`seqrl.mechanisms.dp_kernels.decision_kernel`: homogeneous mechanisms), ``turn``,
``privatize`` and ``observe`` run it, the decision the engine's compiled loop runs too; random inputs
are drawn from the caller's generator in the same order as without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqrl.mechanisms.dp_kernels import (
    SIGNAL_BINARY,
    SIGNAL_GAUSSIAN,
    DecisionKernel,
    decide_many,
    decision_kernel,
    flip_draws,
    flip_probability_many,
    increment_many,
)
from seqrl.mechanisms.dp_privacy import (
    HeterogeneousBudget,
    PrivacyMechanism,
    report_llr_increment,
)
from seqrl.mechanisms.dp_sequential import bellman_hitting_time
from seqrl.mechanisms.dp_signals import BinarySignal, GaussianSignal, SignalModel, bayesian_action


@dataclass(frozen=True)
class Turn:
    """What happened in one agent's turn (arrays over runs).

    Attributes:
        signal: Private signal s_n.
        action: Action a_n in {-1, +1}.
        report: Public report x_n in {-1, +1}.
        epsilon: The agent's own budget (heterogeneous budgets), else None.
        public_llr: l_{n+1}, the public LLR after the report.
    """

    signal: np.ndarray
    action: np.ndarray
    report: np.ndarray
    epsilon: np.ndarray | None
    public_llr: np.ndarray


@dataclass(frozen=True)
class BayesianLearner:
    """A Bayesian agent type: its signal model and the privacy mechanism of its reports.

    Attributes:
        signal_model: Binary or Gaussian signals.
        mechanism: How actions are privatised (common knowledge to observers).
    """

    signal_model: SignalModel
    mechanism: PrivacyMechanism

    @property
    def kernel(self) -> DecisionKernel | None:
        """The compiled decision of this type (None: heterogeneous budgets, computed by numpy)."""
        return decision_kernel(self.signal_model, self.mechanism)

    def _signal_draws(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Uniforms (binary signals) or standard normals (Gaussian) behind the signals."""
        if isinstance(self.signal_model, BinarySignal):
            return rng.random(shape)
        return rng.standard_normal(shape)

    def draw_signal(self, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Private signals s ~ P(. | theta), one per entry of ``theta``."""
        theta = np.asarray(theta)
        return self.signal_model.sample(theta, self._signal_draws(theta.shape, rng))

    def act(self, public_llr: np.ndarray, signal: np.ndarray) -> np.ndarray:
        """The Bayesian action a = sign(l + lambda(s)), ties following the signal."""
        return bayesian_action(public_llr, self.signal_model.private_llr(signal))

    def privatize(
        self,
        action: np.ndarray,
        signal: np.ndarray,
        public_llr: np.ndarray,
        rng: np.random.Generator,
        epsilon: np.ndarray | None = None,
    ) -> np.ndarray:
        """The report x: the action flipped with the mechanism's probability u."""
        kernel = self.kernel
        if kernel is not None and epsilon is None:
            shape = np.broadcast_shapes(np.shape(signal), np.shape(public_llr))
            flip = flip_probability_many(
                np.broadcast_to(np.asarray(signal, dtype=float), shape).ravel(),
                np.broadcast_to(np.asarray(public_llr, dtype=float), shape).ravel(),
                kernel.flip_kind,
                kernel.params,
            ).reshape(shape)
        else:
            flip = self.mechanism.flip_probability(signal, public_llr, self.signal_model, epsilon)
        return np.where(self._flips(flip, rng), -np.asarray(action), action).astype(np.int8)

    def _flips(self, flip_probability: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Which reports flip, drawn as the compiled decision draws them (``dp_kernels.flips``):
        U < u for binary signals, E > -log u with E standard exponential for Gaussian ones."""
        binary = isinstance(self.signal_model, BinarySignal)
        draws = flip_draws(
            SIGNAL_BINARY if binary else SIGNAL_GAUSSIAN, np.shape(flip_probability), rng
        )
        if binary:
            return draws < flip_probability
        with np.errstate(divide="ignore"):  # u = 0: -log u = inf, never flipped
            return draws > -np.log(flip_probability)

    def observe(
        self, public_llr: np.ndarray, report: np.ndarray, epsilon: np.ndarray | None = None
    ) -> np.ndarray:
        """Observers' update l_{n+1} = l_n + log P(x | l_n, +1) / P(x | l_n, -1)."""
        kernel = self.kernel
        if kernel is not None and epsilon is None:
            shape = np.broadcast_shapes(np.shape(public_llr), np.shape(report))
            llr = np.broadcast_to(np.asarray(public_llr, dtype=float), shape).ravel()
            reports = np.broadcast_to(np.asarray(report, dtype=np.int8), shape).ravel()
            step = increment_many(reports, llr, kernel.kind, kernel.params, kernel.table)
            return (llr + step).reshape(shape)
        return public_llr + report_llr_increment(
            self.mechanism, report, public_llr, self.signal_model, epsilon
        )

    def report_probability(
        self,
        report: np.ndarray,
        public_llr: np.ndarray,
        theta: np.ndarray,
        epsilon: np.ndarray | None = None,
    ) -> np.ndarray:
        """P(x | l, theta) as observers compute it."""
        return np.exp(
            self.mechanism.report_log_likelihood(
                report, public_llr, theta, self.signal_model, epsilon
            )
        )

    def turn(
        self,
        public_llr: np.ndarray,
        theta: np.ndarray,
        rng: np.random.Generator,
        epsilon: np.ndarray | None = None,
    ) -> Turn:
        """One full turn: signal, Bayesian action, privatised report, public update.

        Args:
            public_llr: l_n per run.
            theta: The state per run.
            rng: Random generator.
            epsilon: The agent's own budgets; drawn from the mechanism when None and heterogeneous.
        """
        theta = np.broadcast_to(theta, np.shape(public_llr))
        kernel = self.kernel
        if kernel is not None and epsilon is None:
            shape = theta.shape
            draws = self._signal_draws(shape, rng)
            flip_draws = kernel.flip_draws(shape, rng)
            signal, action, report, after = decide_many(
                np.asarray(public_llr, dtype=float).ravel(),
                np.asarray(theta, dtype=np.int8).ravel(),
                draws.ravel(),
                flip_draws.ravel(),
                kernel.kind,
                kernel.flip_kind,
                kernel.params,
                kernel.table,
            )
            return Turn(
                signal.reshape(shape),
                action.reshape(shape),
                report.reshape(shape),
                None,
                after.reshape(shape),
            )
        if epsilon is None:
            epsilon = self.mechanism.sample_epsilon(rng, theta.shape)
        signal = self.draw_signal(theta, rng)
        action = self.act(public_llr, signal)
        report = self.privatize(action, signal, public_llr, rng, epsilon)
        return Turn(signal, action, report, epsilon, self.observe(public_llr, report, epsilon))

    def hitting_time_transition(
        self, public_llr: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(P(x = +1 | l, theta = +1), D+(l), D-(l)) for the Bellman equation of E[tau_B]."""
        if isinstance(self.mechanism, HeterogeneousBudget) and self.mechanism.observed:
            raise ValueError("the Bellman equation needs a report law that depends on l alone")
        prob_plus = self.report_probability(1, public_llr, 1)
        step_plus = report_llr_increment(self.mechanism, 1, public_llr, self.signal_model)
        step_minus = report_llr_increment(self.mechanism, -1, public_llr, self.signal_model)
        return prob_plus, step_plus, step_minus

    def expected_hitting_time(self, bound: float, grid_points: int = 4000) -> float:
        """E[tau_B] from the Bellman equation (Gaussian signals; binary cascades never hit B)."""
        if not isinstance(self.signal_model, GaussianSignal):
            raise ValueError("the Bellman hitting time needs Gaussian signals (cascades freeze l)")
        return bellman_hitting_time(self.hitting_time_transition, bound, grid_points)


@dataclass(frozen=True)
class BayesianPolicy:
    """The Bayesian rule as a stable-baselines3-style policy for ``seqrl/SequentialLearning-v0``.

    Observations are (public LLR, private signal); the action index 1 means guess +1, 0 means -1.

    Attributes:
        signal_model: The signal model that gives the private LLR of the observed signal.
    """

    signal_model: SignalModel

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Return the Bayesian action indices for a batch (or one) of observations.

        The signature is SB3's ``PolicyPredictor`` (so ``evaluate_policy`` accepts the policy), but
        only the Box observations (public LLR, private signal) of the environment are understood.
        """
        if isinstance(observation, dict):
            raise TypeError(
                "BayesianPolicy needs (public LLR, signal) arrays, not dict observations"
            )
        values = np.asarray(observation, dtype=float)
        action = bayesian_action(values[..., 0], self.signal_model.private_llr(values[..., 1]))
        return (action > 0).astype(np.int64), state


def gaussian_or_binary(signal: str, p: float, sigma: float) -> SignalModel:
    """Build the signal model named ``signal`` (``gaussian`` or ``binary``)."""
    if signal == "gaussian":
        return GaussianSignal(sigma)
    if signal == "binary":
        return BinarySignal(p)
    raise ValueError(f"signal must be gaussian or binary, got {signal!r}")
