"""Compiled (numba) kernel of one decision of private sequential learning, shared by every host.

Liu & Rahimian, "Differentially Private Sequential Learning" (arXiv 2502.19525, 2025). One decision,
given the public LLR l and the state theta: a signal s, the threshold action a = sign(l + lambda(s))
(ties follow the signal, as :func:`seqrl.mechanisms.dp_signals.prefers_plus`), the report x (a flipped
with probability u) and the observers' increment D(x, l) = log P(x | l, +1) / P(x | l, -1).

The increment depends on l alone. The symmetry (s, theta, t, x) -> -(s, theta, t, x) gives
P(x | l, theta) = P(-x | -l, -theta), hence D(-1, l) = -D(+1, -l): one function of l, D+(l) = D(+1, l),
serves both reports, which halves the work of a table or of the closed form.

- Binary signals: D depends on l through the regime only (0, 1 or 2 signals lead to +1), so it is the
  6-entry table of :mod:`seqrl.mechanisms.dp_privacy` (exact).
- Gaussian signals: D+ is tabulated as a cubic spline on a uniform grid built from the numpy closed
  form (:meth:`PrivacyMechanism.llr_increment`), with a checked bound |spline - D+| <= 1e-9 on the
  table's range (:func:`increment_table`); outside the range the closed form is evaluated in log space
  (:func:`exact_increment_plus`, whose ``log_ndtr`` matches scipy's).

The report flips with probability u. Binary signals compare a uniform U < u; Gaussian signals
compare a standard exponential E > -log u (the same event for U = e^{-E}), which under smoothed RR
is E > epsilon |s - t(l)| - log c: no exp per decision (:func:`flips`).

Random numbers come from an inlined SFC64 generator (the same recurrence and output as numpy's
``np.random.SFC64``, tested bit for bit), uniforms as numpy's ``random()`` (53 bits), normals and
exponentials by 256-layer ziggurats whose tables are solved at import so that every layer has the
same area (exact samplers up to rounding). The generator state is a tuple of 4 uint64 words passed in and returned
(never an array: compiled loops then keep it in registers, since no store can alias it), owned by
each caller, so results depend on how the caller seeds blocks, never on threads.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numba
import numpy as np
from scipy.optimize import brentq
from scipy.special import erfc

from seqrl.mechanisms.dp_privacy import (
    NoPrivacy,
    PrivacyMechanism,
    RandomizedResponse,
    SmoothedRandomizedResponse,
    _binary_increment_table,
    randomized_response_flip_probability,
)
from seqrl.mechanisms.dp_signals import TIE_TOLERANCE, BinarySignal, GaussianSignal, SignalModel

#: Absolute error bound of the tabulated increment against the closed form, on the table's range.
TABLE_ERROR_BOUND = 1e-9
#: The table is accepted when its error at the check points is below this (a 4x margin; see
#: :func:`increment_table` for why the error between check points cannot use up the margin).
_TABLE_CHECK_BOUND = TABLE_ERROR_BOUND / 4
#: Largest table (intervals): 2^18 x 4 coefficients x 8 bytes = 8 MiB.
_MAX_INTERVALS = 1 << 18

_Function = TypeVar("_Function", bound=Callable[..., Any])


def _jit(function: _Function) -> _Function:
    """Compile in nopython mode, cached on disk, releasing the GIL (typed as the function itself)."""
    return cast(_Function, numba.njit(cache=True, nogil=True)(function))


def _inline(function: _Function) -> _Function:
    """:func:`_jit`, inlined into its callers (numba IR inlining).

    The per-decision functions are inlined: called out of line, each costs several times its work.
    The cold closed form outside the table stays a call.
    """
    return cast(_Function, numba.njit(cache=True, nogil=True, inline="always")(function))


# --------------------------------------------------------------------------------------------------
# Random numbers: SFC64 (numpy's recurrence) and a 256-layer ziggurat.

_U64 = np.uint64
State = tuple[np.uint64, np.uint64, np.uint64, np.uint64]
"""SFC64 state (a, b, c, counter)."""
Params = tuple[float, ...]
"""A kernel's float parameters: a tuple, so compiled loops hold them in registers (an array could
alias the arrays the loop writes, which keeps the compiler from hoisting and vectorizing)."""


@_inline
def next_uint64(state: State) -> tuple[np.uint64, State]:
    """One SFC64 output (Chris Doty-Humphrey's small fast counting generator, as numpy's SFC64).

    ``state`` is (a, b, c, counter); returns the output and the next state.
    """
    a, b, c, counter = state
    out = a + b + counter
    rotated = ((c << _U64(24)) | (c >> _U64(40))) + out
    return out, (b ^ (b >> _U64(11)), c + (c << _U64(3)), rotated, counter + _U64(1))


@_inline
def next_double(state: State) -> tuple[float, State]:
    """A uniform on [0, 1) with 53 random bits (numpy's ``Generator.random``), and the next state."""
    bits, state = next_uint64(state)
    # Through int64 (the value has 53 bits): x86 converts signed integers in one instruction.
    return float(np.int64(bits >> _U64(11))) * (1.0 / 9007199254740992.0), state


def _ziggurat_tables(
    density: Callable[[float], float],
    inverse: Callable[[float], float],
    tail_area: Callable[[float], float],
    bracket: tuple[float, float],
    layers: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Tables of a ziggurat for a decreasing density f on [0, inf) with ``layers`` layers of equal area.

    f is unnormalised with f(0) = 1, ``inverse`` is f^-1 and ``tail_area(r)`` = int_r^inf f. Layer 0
    is [0, x_0] x [0, f(r)] with x_0 = v / f(r): the rectangle [0, r] x [0, f(r)] and the tail
    beyond r, of total area v = r f(r) + tail_area(r). Layer i >= 1 is [0, x_i] x [f(x_i), f(x_{i+1})]
    with x_1 = r and f(x_{i+1}) = f(x_i) + v / x_i, and x_layers = 0. r is solved (Brent, inside
    ``bracket``) so that the top layer closes exactly, f(x_layers) = 1; then a uniform layer index and
    a uniform point of the layer, accepted under f, give a draw of the density exactly.

    Returns:
        (k, w, f, r): quick-accept thresholds k_i = floor(2^52 x_{i+1} / x_i), widths
        w_i = x_i / 2^52, f_i = f(x_i) for i = 0 .. layers (f_layers = 1), and r.
    """

    def area(r: float) -> float:
        return r * density(r) + tail_area(r)

    def points(r: float) -> np.ndarray | None:
        v = area(r)
        x = np.empty(layers + 1)
        x[0], x[1] = v / density(r), r
        for i in range(1, layers - 1):
            level = density(x[i]) + v / x[i]
            if level >= 1.0:
                return None
            x[i + 1] = inverse(level)
        x[layers] = 0.0
        return x

    def closure(r: float) -> float:
        x = points(r)
        # Top-layer overshoot: > 0 when r is too small (the layers reach f = 1 too early).
        return 1.0 if x is None else density(x[layers - 1]) + area(r) / x[layers - 1] - 1

    r = brentq(closure, *bracket, xtol=1e-15, rtol=1e-15, maxiter=200)
    x = points(r)
    assert x is not None
    scale = float(1 << 52)
    k = np.floor(scale * x[1:] / x[:-1]).astype(np.uint64)
    return k, x[:-1] / scale, np.array([density(point) for point in x]), r


# |N(0, 1)|: f(x) = exp(-x^2 / 2).
_ZIG_K, _ZIG_W, _ZIG_F, _ZIG_R = _ziggurat_tables(
    lambda x: math.exp(-0.5 * x * x),
    lambda level: math.sqrt(-2.0 * math.log(level)),
    lambda r: math.sqrt(math.pi / 2) * erfc(r / math.sqrt(2)),
    (3.0, 4.5),
)
# Exp(1): f(x) = exp(-x).
_EXP_K, _EXP_W, _EXP_F, _EXP_R = _ziggurat_tables(
    lambda x: math.exp(-x), lambda level: -math.log(level), lambda r: math.exp(-r), (6.0, 9.0)
)


@_inline
def next_normal(state: State) -> tuple[float, State]:
    """A standard normal draw (ziggurat: one 64-bit word for 99% of draws), and the next state."""
    while True:
        bits, state = next_uint64(state)
        layer = np.intp(bits & _U64(0xFF))
        negative = (bits >> _U64(8)) & _U64(1)
        mantissa = (bits >> _U64(9)) & _U64(0xFFFFFFFFFFFFF)
        x = float(np.int64(mantissa)) * _ZIG_W[layer]
        if mantissa < _ZIG_K[layer]:
            return (-x if negative else x), state
        if layer == 0:  # the tail beyond r (Marsaglia 1964)
            while True:
                first, state = next_double(state)
                second, state = next_double(state)
                tail = -math.log1p(-first) / _ZIG_R
                height = -math.log1p(-second)
                if height + height > tail * tail:
                    x = _ZIG_R + tail
                    return (-x if negative else x), state
        uniform, state = next_double(state)
        level = _ZIG_F[layer] + uniform * (_ZIG_F[layer + 1] - _ZIG_F[layer])
        if level < math.exp(-0.5 * x * x):
            return (-x if negative else x), state


@_inline
def next_exponential(state: State) -> tuple[float, State]:
    """A standard exponential draw (ziggurat, one 64-bit word for 99% of draws), and the next state.

    The tail beyond r is r plus a fresh draw (Exp(1) is memoryless).
    """
    offset = 0.0
    while True:
        bits, state = next_uint64(state)
        layer = np.intp(bits & _U64(0xFF))
        mantissa = (bits >> _U64(8)) & _U64(0xFFFFFFFFFFFFF)
        x = float(np.int64(mantissa)) * _EXP_W[layer]
        if mantissa < _EXP_K[layer]:
            return offset + x, state
        if layer == 0:
            offset += _EXP_R
            continue
        uniform, state = next_double(state)
        level = _EXP_F[layer] + uniform * (_EXP_F[layer + 1] - _EXP_F[layer])
        if level < math.exp(-x):
            return offset + x, state


def seed_state(rng: np.random.Generator) -> State:
    """A fresh SFC64 state drawn from ``rng`` (seeded by numpy's SFC64 from a SeedSequence)."""
    seed = np.random.SeedSequence(rng.integers(0, 2**63, size=4).tolist())
    return state_of(np.random.SFC64(seed))


def state_of(bit_generator: np.random.SFC64) -> State:
    """The state tuple of a numpy SFC64 bit generator (the kernels then continue its stream)."""
    a, b, c, counter = (np.uint64(word) for word in bit_generator.state["state"]["state"])
    return a, b, c, counter


# --------------------------------------------------------------------------------------------------
# Closed forms in log space (scalar).

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@_jit
def log_ndtr(z: float) -> float:
    """log Phi(z), accurate in both tails (scipy's ``log_ndtr``: asymptotic series below -20)."""
    if z > 6.0:
        return math.log1p(-0.5 * math.erfc(z * _SQRT_HALF))
    if z > -20.0:
        return math.log(0.5 * math.erfc(-z * _SQRT_HALF))
    # log Phi(z) = -z^2/2 - log(-z) - log sqrt(2 pi) + log(sum_k (-1)^k (2k-1)!! / z^{2k}).
    inverse_square = 1.0 / (z * z)
    term, total, k = 1.0, 1.0, 1
    while abs(term) > 1e-17 and k < 60:
        term *= -(2 * k - 1) * inverse_square
        total += term
        k += 1
    return -0.5 * z * z - math.log(-z) - _LOG_SQRT_2PI + math.log(total)


@_jit
def _log_add_exp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    return a + math.log1p(math.exp(b - a))


@_jit
def _smoothed_log_m(z: float, scaled: float, log_amplitude: float) -> float:
    """log m(z), m = Phi(z) - c e^{-e z + e^2/2} Phi(z - e) + c e^{e z + e^2/2} Phi(-z - e), e = scaled.

    The scalar twin of :func:`seqrl.mechanisms.dp_privacy.smoothed_rr_log_likelihood`'s log m.
    """
    offset = log_amplitude + 0.5 * scaled * scaled
    first = log_ndtr(z)
    second = offset - scaled * z + log_ndtr(z - scaled)
    third = offset + scaled * z + log_ndtr(-z - scaled)
    return _log_add_exp(first + math.log1p(-math.exp(second - first)), third)


#: Which closed form :func:`exact_increment_plus` evaluates (Gaussian signals).
EXACT_NONE, EXACT_RR, EXACT_SMOOTHED = 0, 1, 2


@_jit
def exact_increment_plus(public_llr: float, params: Params) -> float:
    """D+(l) = log P(+1 | l, +1) - log P(+1 | l, -1) for Gaussian signals, in closed form.

    With z_theta = (theta - t(l)) / sigma, t(l) = -sigma^2 l / 2:
    no privacy log Phi(z_theta); RR log[(1 - u) Phi(z_theta) + u Phi(-z_theta)]; smoothed RR
    log m(z_theta) (see :func:`seqrl.mechanisms.dp_privacy.smoothed_rr_log_likelihood`).
    """
    sigma = params[_SIGMA]
    centre = 0.5 * sigma * public_llr  # -t / sigma
    plus, minus = centre + 1.0 / sigma, centre - 1.0 / sigma
    kind = int(params[_EXACT_KIND])
    if kind == EXACT_NONE:
        return log_ndtr(plus) - log_ndtr(minus)
    if kind == EXACT_RR:
        keep, flip = params[_LOG_KEEP], params[_LOG_FLIP]
        return _log_add_exp(keep + log_ndtr(plus), flip + log_ndtr(-plus)) - _log_add_exp(
            keep + log_ndtr(minus), flip + log_ndtr(-minus)
        )
    scaled, log_amplitude = params[_SCALED], params[_LOG_AMPLITUDE]
    return _smoothed_log_m(plus, scaled, log_amplitude) - _smoothed_log_m(
        minus, scaled, log_amplitude
    )


# --------------------------------------------------------------------------------------------------
# The decision.

# Layout of the float parameter vector of a kernel.
(_SIGMA, _P, _MAGNITUDE, _FLIP_KIND, _FLIP, _EPSILON, _AMPLITUDE, _TABLE_LOW, _TABLE_INV_STEP) = (
    range(9)
)
(_EXACT_KIND, _LOG_KEEP, _LOG_FLIP, _SCALED, _LOG_AMPLITUDE, _INV_P, _INV_Q) = range(9, 16)
_BINARY_TABLE = 16  # 6 entries: increments for (x = -1, regime 0..2) then (x = +1, regime 0..2)
_LLR_PER_SIGNAL = 22  # Gaussian signals: the private LLR is s times 2 / sigma^2
_N_PARAMS = 23
#: How the report is flipped: never, with a constant u, or with u(s) = c exp(-epsilon |s - t(l)|).
FLIP_NONE, FLIP_CONSTANT, FLIP_SMOOTHED = 0, 1, 2
#: Signal kinds.
SIGNAL_BINARY, SIGNAL_GAUSSIAN = 0, 1

_TIE = 1.0 + TIE_TOLERANCE


@_inline
def binary_regime(public_llr: float, params: Params) -> int:
    """How many of the two binary signals lead to +1 at l (0 or 2: inside a cascade)."""
    magnitude = params[_MAGNITUDE]
    return int(public_llr + _TIE * magnitude > 0.0) + int(public_llr - _TIE * magnitude > 0.0)


@_inline
def spline_cell(
    report: int, public_llr: float, params: Params, cells: int
) -> tuple[int, float, bool]:
    """Where x l lies in the Gaussian spline table: (cell, fraction of it in [0, 1], in range).

    Outside the range the cell is an end cell (any serves: the caller repairs such runs).
    """
    oriented = public_llr if report > 0 else -public_llr
    position = (oriented - params[_TABLE_LOW]) * params[_TABLE_INV_STEP]
    in_table = (position >= 0.0) & (position < cells)
    position = min(max(position, 0.0), float(cells))  # outside, any cell serves
    cell = min(int(position), cells - 1)
    return cell, position - cell, in_table


@_inline
def spline_value(report: int, cell: int, offset: float, table: np.ndarray) -> float:
    """x D+(x l) from the cubic of ``cell`` at ``offset`` (see :func:`spline_cell`)."""
    value = ((table[cell, 0] * offset + table[cell, 1]) * offset + table[cell, 2]) * offset + table[
        cell, 3
    ]
    return value if report > 0 else -value


@_inline
def tabulated_increment(
    report: int, public_llr: float, kind: int, params: Params, table: np.ndarray
) -> tuple[float, bool]:
    """D(x, l) = x D+(x l) from the table (regimes for binary signals, spline for Gaussian), and
    whether x l lies in the spline's range (outside, the value is the end cell's, not D).

    Selects rather than branches or calls, so that compiled loops over runs vectorize or overlap.
    """
    if kind == SIGNAL_BINARY:
        # Selects among the six entries (no index into the table): compiled loops over runs then
        # vectorize, which an indexed gather prevents.
        magnitude = params[_MAGNITUDE]
        up = public_llr + _TIE * magnitude > 0.0  # regime >= 1
        down = public_llr - _TIE * magnitude > 0.0  # regime 2
        first = _BINARY_TABLE
        plus = params[first + 5] if down else (params[first + 4] if up else params[first + 3])
        minus = params[first + 2] if down else (params[first + 1] if up else params[first])
        return (plus if report > 0 else minus), True
    cell, offset, in_table = spline_cell(report, public_llr, params, table.shape[0])
    return spline_value(report, cell, offset, table), in_table


@_inline
def exact_increment(report: int, public_llr: float, params: Params) -> float:
    """D(x, l) = x D+(x l) in closed form (Gaussian signals)."""
    value = exact_increment_plus(public_llr if report > 0 else -public_llr, params)
    return value if report > 0 else -value


@_inline
def increment(report: int, public_llr: float, kind: int, params: Params, table: np.ndarray):
    """D(x, l): :func:`tabulated_increment` on the table's range, the closed form outside it."""
    value, in_table = tabulated_increment(report, public_llr, kind, params, table)
    return value if in_table else exact_increment(report, public_llr, params)


@_inline
def _threshold(public_llr: float, params: Params) -> float:
    """t(l) = -sigma^2 l / 2 of Gaussian signals: the agent acts +1 iff s > t(l)."""
    return -0.5 * params[_SIGMA] ** 2 * public_llr


@_inline
def flip_probability(signal: float, public_llr: float, flip_kind: int, params: Params) -> float:
    """u: 0, the constant of randomized response, or c exp(-epsilon |s - t(l)|) (smoothed RR)."""
    if flip_kind == FLIP_NONE:
        return 0.0
    if flip_kind == FLIP_CONSTANT:
        return params[_FLIP]
    return params[_AMPLITUDE] * math.exp(
        -params[_EPSILON] * abs(signal - _threshold(public_llr, params))
    )


@_inline
def flips(
    signal: float, public_llr: float, flip_draw: float, kind: int, flip_kind: int, params: Params
) -> bool:
    """Whether the report flips the action, with probability u (see :func:`flip_probability`).

    Binary signals: ``flip_draw`` is a uniform U and the report flips iff U < u. Gaussian signals: it
    is a standard exponential E and the report flips iff E > -log u, the same event for U = e^{-E};
    under smoothed RR, -log u = epsilon |s - t(l)| - log c, so no exp is evaluated per decision.
    """
    if flip_kind == FLIP_NONE:
        return False
    if kind == SIGNAL_BINARY:
        return flip_draw < flip_probability(signal, public_llr, flip_kind, params)
    if flip_kind == FLIP_CONSTANT:
        return flip_draw > -params[_LOG_FLIP]
    distance = abs(signal - _threshold(public_llr, params))
    return flip_draw > params[_EPSILON] * distance - params[_LOG_AMPLITUDE]


@_inline
def decide_report(
    public_llr: float,
    theta: int,
    signal_draw: float,
    flip_draw: float,
    kind: int,
    flip_kind: int,
    params: Params,
) -> tuple[float, int, int]:
    """The first half of :func:`decide`, without the increment: (signal, action, report)."""
    if kind == SIGNAL_BINARY:
        signal = float(theta) if signal_draw < params[_P] else -float(theta)
        private_llr = signal * params[_MAGNITUDE]
    else:
        signal = theta + params[_SIGMA] * signal_draw
        private_llr = signal * params[_LLR_PER_SIGNAL]  # a product: a division costs 5x more
    action = 1 if public_llr + private_llr * _TIE > 0.0 else -1
    report = -action if flips(signal, public_llr, flip_draw, kind, flip_kind, params) else action
    return signal, action, report


@_inline
def decide_in_table(
    public_llr: float,
    theta: int,
    signal_draw: float,
    flip_draw: float,
    kind: int,
    flip_kind: int,
    params: Params,
    table: np.ndarray,
) -> tuple[float, int, int, float, bool]:
    """:func:`decide` without the closed form outside the table: (signal, action, report, l_next,
    in_table), where l_next is right iff in_table (always for binary signals).

    Without a call or a branch, the compiled loops over runs stay straight-line code; they repair
    the rare runs outside the table afterwards (:func:`exact_increment`).
    """
    signal, action, report = decide_report(
        public_llr, theta, signal_draw, flip_draw, kind, flip_kind, params
    )
    value, in_table = tabulated_increment(report, public_llr, kind, params, table)
    return signal, action, report, public_llr + value, in_table


@_inline
def decide(
    public_llr: float,
    theta: int,
    signal_draw: float,
    flip_draw: float,
    kind: int,
    flip_kind: int,
    params: Params,
    table: np.ndarray,
) -> tuple[float, int, int, float]:
    """One decision from its two random inputs: (signal, action, report, l_next).

    ``signal_draw`` is a standard normal (Gaussian signals) or a uniform (binary: s = theta iff it is
    below p); ``flip_draw`` decides the flip (:func:`flips`: a uniform for binary signals, a standard
    exponential for Gaussian ones). ``kind`` and ``flip_kind`` are passed apart from ``params`` so
    that compiled loops can fix them as constants.
    """
    signal, action, report, after, in_table = decide_in_table(
        public_llr, theta, signal_draw, flip_draw, kind, flip_kind, params, table
    )
    if not in_table:
        after = public_llr + exact_increment(report, public_llr, params)
    return signal, action, report, after


@_inline
def draw_inputs(
    state: State, kind: int, flip_kind: int, params: Params
) -> tuple[float, float, State]:
    """The two random inputs of :func:`decide` drawn from the SFC64 ``state``, and the next state.

    Binary signals take one uniform U for both inputs: the flip probability of randomized response
    does not depend on the signal, so given U < p (s = theta), U / p is again uniform on [0, 1), and
    given U >= p, (U - p) / (1 - p) is; either serves as the flip uniform, independent of the signal.
    Gaussian signals take a normal and, when reports may flip, a standard exponential.
    """
    if kind == SIGNAL_BINARY:
        signal_draw, state = next_double(state)
        below = signal_draw < params[_P]
        # Selects rather than branches: the outcome is random, a branch would mispredict.
        flip_uniform = (signal_draw - (0.0 if below else params[_P])) * (
            params[_INV_P] if below else params[_INV_Q]
        )
        return signal_draw, flip_uniform, state
    signal_draw, state = next_normal(state)
    flip_draw = 0.0
    if flip_kind != FLIP_NONE:
        flip_draw, state = next_exponential(state)
    return signal_draw, flip_draw, state


@_inline
def draw_decision(
    public_llr: float,
    theta: int,
    state: State,
    kind: int,
    flip_kind: int,
    params: Params,
    table: np.ndarray,
) -> tuple[float, int, int, float, State]:
    """:func:`decide` on inputs from :func:`draw_inputs`; also the next state."""
    signal_draw, flip_draw, state = draw_inputs(state, kind, flip_kind, params)
    signal, action, report, after = decide(
        public_llr, theta, signal_draw, flip_draw, kind, flip_kind, params, table
    )
    return signal, action, report, after, state


@_jit
def decide_many(
    public_llr: np.ndarray,
    theta: np.ndarray,
    signal_draw: np.ndarray,
    flip_draw: np.ndarray,
    kind: int,
    flip_kind: int,
    params: Params,
    table: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`decide` over 1-d arrays of runs (what the step-by-step hosts call)."""
    size = public_llr.size
    signal = np.empty(size)
    action = np.empty(size, dtype=np.int8)
    report = np.empty(size, dtype=np.int8)
    after = np.empty(size)
    for run in range(size):
        signal[run], action[run], report[run], after[run] = decide(
            public_llr[run],
            theta[run],
            signal_draw[run],
            flip_draw[run],
            kind,
            flip_kind,
            params,
            table,
        )
    return signal, action, report, after


@_jit
def increment_many(
    report: np.ndarray, public_llr: np.ndarray, kind: int, params: Params, table: np.ndarray
) -> np.ndarray:
    """:func:`increment` over 1-d arrays."""
    out = np.empty(public_llr.size)
    for index in range(public_llr.size):
        out[index] = increment(report[index], public_llr[index], kind, params, table)
    return out


@_jit
def flip_probability_many(
    signal: np.ndarray, public_llr: np.ndarray, flip_kind: int, params: Params
) -> np.ndarray:
    """:func:`flip_probability` over 1-d arrays."""
    out = np.empty(signal.size)
    for index in range(signal.size):
        out[index] = flip_probability(signal[index], public_llr[index], flip_kind, params)
    return out


@_jit
def exact_increment_many(public_llr: np.ndarray, params: Params) -> np.ndarray:
    """:func:`exact_increment_plus` over a 1-d array."""
    out = np.empty(public_llr.size)
    for index in range(public_llr.size):
        out[index] = exact_increment_plus(public_llr[index], params)
    return out


@_jit
def log_ndtr_many(z: np.ndarray) -> np.ndarray:
    """:func:`log_ndtr` over a 1-d array."""
    out = np.empty(z.size)
    for index in range(z.size):
        out[index] = log_ndtr(z[index])
    return out


# --------------------------------------------------------------------------------------------------
# The engine's compiled loops.

#: Runs stepped together inside a block: all their random inputs for one agent are drawn first
#: (the generator is one serial chain), then all their decisions are made in loops without
#: branches, calls or divisions, which the compiler vectorizes (Gaussian signals: all but the
#: spline's indexed loads, which get a scalar loop of their own); the few runs whose l left the
#: table are repaired after the loop. The group's state stays in L1.
GROUP_RUNS = 64


@functools.cache
def sequence_block(kind: int, flip_kind: int) -> Callable[..., None]:
    """The engine's compiled loop over one block of runs, for a (signal kind, flip kind) fixed at
    compile time: the streamed summaries of ``seqrl.agents.dp_engine`` (checkpointed l_n and wrong
    actions, first correct action and report, wrong counts, cascade start, hitting time, trajectory).

    Here rather than in the engine so that numba's disk cache, which watches only the file of the
    cached function, is rebuilt whenever the inlined decision changes.
    """

    @numba.njit(cache=True, nogil=True)
    def block(
        state, n_agents, theta, order, checkpoints, bound, params, table,
        recorded, recorded_wrong, counters, final, trajectory,
    ):  # fmt: skip
        never = n_agents + 1
        record_runs = trajectory.shape[1]
        truth = np.empty(GROUP_RUNS, dtype=np.int64)
        llr = np.empty(GROUP_RUNS)
        signal_draw = np.empty(GROUP_RUNS)
        flip_draw = np.empty(GROUP_RUNS)
        before = np.empty(GROUP_RUNS)
        actions = np.empty(GROUP_RUNS, dtype=np.int64)
        reports = np.empty(GROUP_RUNS, dtype=np.int64)
        in_table = np.empty(GROUP_RUNS, dtype=np.bool_)
        cells = np.empty(GROUP_RUNS, dtype=np.int64)
        offsets = np.empty(GROUP_RUNS)
        n_cells = table.shape[0]
        first_action = np.empty(GROUP_RUNS, dtype=np.int64)
        first_report = np.empty(GROUP_RUNS, dtype=np.int64)
        wrong_actions = np.empty(GROUP_RUNS, dtype=np.int64)
        wrong_reports = np.empty(GROUP_RUNS, dtype=np.int64)
        cascade_start = np.empty(GROUP_RUNS, dtype=np.int64)
        hitting = np.empty(GROUP_RUNS, dtype=np.int64)
        for first in range(0, theta.size, GROUP_RUNS):
            size = min(GROUP_RUNS, theta.size - first)
            traced = max(0, min(size, record_runs - first))
            for j in range(size):
                truth[j] = theta[first + j]
                llr[j] = 0.0
                first_action[j] = never
                first_report[j] = never
                wrong_actions[j] = 0
                wrong_reports[j] = 0
                cascade_start[j] = -1
                hitting[j] = -1
            slot = 0
            for agent in range(1, never + 1):
                while slot < checkpoints.size and checkpoints[slot] == agent:
                    for j in range(size):
                        recorded[order[slot], first + j] = llr[j]
                        recorded_wrong[order[slot], first + j] = wrong_actions[j]
                    slot += 1
                for j in range(traced):
                    trajectory[agent - 1, first + j] = llr[j]
                if agent == never:
                    break
                for j in range(size):
                    signal_draw[j], flip_draw[j], state = draw_inputs(
                        state, kind, flip_kind, params
                    )
                outside = 0
                if kind == SIGNAL_BINARY:
                    for j in range(size):
                        public_llr = llr[j]
                        starts = (cascade_start[j] < 0) & (binary_regime(public_llr, params) != 1)
                        cascade_start[j] = agent - 1 if starts else cascade_start[j]
                        _, actions[j], reports[j], llr[j], _ = decide_in_table(
                            public_llr, truth[j], signal_draw[j], flip_draw[j], kind, flip_kind,
                            params, table,
                        )  # fmt: skip
                else:
                    # Everything up to the table's cell in one loop, which vectorizes, and the
                    # cubic of that cell in another: its indexed loads (a gather) stay scalar, and
                    # in the first loop they kept the whole decision scalar (1.5x slower).
                    for j in range(size):
                        public_llr = llr[j]
                        _, action, report = decide_report(
                            public_llr, truth[j], signal_draw[j], flip_draw[j], kind, flip_kind,
                            params,
                        )  # fmt: skip
                        cells[j], offsets[j], in_table[j] = spline_cell(
                            report, public_llr, params, n_cells
                        )
                        before[j], actions[j], reports[j] = public_llr, action, report
                        outside += not in_table[j]
                    for j in range(size):
                        llr[j] = before[j] + spline_value(reports[j], cells[j], offsets[j], table)
                if outside:  # runs whose l left the table: the closed form
                    for j in range(size):
                        if not in_table[j]:
                            llr[j] = before[j] + exact_increment(reports[j], before[j], params)
                # Selects, not branches: the outcomes are random, so branches would mispredict.
                for j in range(size):
                    action_right = actions[j] == truth[j]
                    report_right = reports[j] == truth[j]
                    wrong_actions[j] += not action_right
                    wrong_reports[j] += not report_right
                    first_action[j] = min(first_action[j], agent if action_right else never)
                    first_report[j] = min(first_report[j], agent if report_right else never)
                    hit = (hitting[j] < 0) & (abs(llr[j]) >= bound)
                    hitting[j] = agent if hit else hitting[j]
            for j in range(size):
                counters[0, first + j] = first_action[j]
                counters[1, first + j] = first_report[j]
                counters[2, first + j] = wrong_actions[j]
                counters[3, first + j] = wrong_reports[j]
                counters[4, first + j] = cascade_start[j]
                counters[5, first + j] = hitting[j]
                final[first + j] = llr[j]

    return block


#: Stop rules of :func:`first_passage_block`: |l| >= B, a correct action, a correct report.
STOP_BOUND, STOP_ACTION, STOP_REPORT = 0, 1, 2


@functools.cache
def first_passage_block(kind: int, flip_kind: int) -> Callable[..., None]:
    """Compiled first-passage loop for a (signal kind, flip kind)."""

    @numba.njit(cache=True, nogil=True)
    def block(state, max_agents, mode, bound, params, table, stopped_at):
        """Under theta = +1, the first agent of each run at which the rule ``mode`` holds, or -1."""
        for run in range(stopped_at.size):
            stopped_at[run] = -1
            public_llr = 0.0
            for agent in range(1, max_agents + 1):
                _, action, report, public_llr, state = draw_decision(
                    public_llr, 1, state, kind, flip_kind, params, table
                )
                if mode == STOP_BOUND:
                    stop = abs(public_llr) >= bound
                elif mode == STOP_ACTION:
                    stop = action > 0
                else:
                    stop = report > 0
                if stop:
                    stopped_at[run] = agent
                    break

    return block


# --------------------------------------------------------------------------------------------------
# Building a kernel for a (signal model, mechanism) pair.


def flip_draws(kind: int, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """The flip inputs of :func:`decide` drawn by numpy: uniforms for binary signals, standard
    exponentials for Gaussian ones (see :func:`flips`)."""
    if kind == SIGNAL_BINARY:
        return rng.random(shape)
    return rng.standard_exponential(shape)


@dataclass(frozen=True, eq=False)
class DecisionKernel:
    """What the compiled decision needs: the signal kind, a parameter vector and the increment table.

    Attributes:
        kind: ``SIGNAL_BINARY`` or ``SIGNAL_GAUSSIAN``.
        flip_kind: ``FLIP_NONE``, ``FLIP_CONSTANT`` or ``FLIP_SMOOTHED``.
        params: Float parameters (layout of the module's ``_SIGMA`` .. ``_BINARY_TABLE``).
        table: Binary: shape (1, 6), the increments by (report, regime), also held in ``params``
            (the kernels read them there). Gaussian: shape (cells, 4),
            cubic coefficients of D+ on cells of width ``step`` from ``low`` (highest power first).
        low: Left end of the Gaussian table.
        step: Cell width of the Gaussian table.
        checked_error: Largest |table - closed form| found at the check points when it was built.
    """

    kind: int
    flip_kind: int
    params: Params
    table: np.ndarray
    low: float = 0.0
    step: float = 0.0
    checked_error: float = 0.0

    @property
    def high(self) -> float:
        """Right end of the Gaussian table."""
        return self.low + self.step * self.table.shape[0]

    def flip_draws(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """The flip inputs of :func:`decide` for this kernel's signals (:func:`flip_draws`)."""
        return flip_draws(self.kind, shape, rng)

    @property
    def random_inputs(self) -> int:
        """Random numbers per decision (2, or 1 when reports are never flipped)."""
        return 1 if self.flip_kind == FLIP_NONE else 2


def decision_kernel(
    signal_model: SignalModel, mechanism: PrivacyMechanism
) -> DecisionKernel | None:
    """The compiled kernel of this agent type, or None where it has none (heterogeneous budgets).

    Covered: binary or Gaussian signals under no privacy, randomized response or smoothed RR.
    """
    if not isinstance(mechanism, NoPrivacy | RandomizedResponse | SmoothedRandomizedResponse):
        return None
    return _decision_kernel(signal_model, mechanism)


@functools.lru_cache(maxsize=64)
def _decision_kernel(signal_model: SignalModel, mechanism: PrivacyMechanism) -> DecisionKernel:
    params = np.zeros(_N_PARAMS)
    if isinstance(mechanism, RandomizedResponse):
        flip = float(randomized_response_flip_probability(mechanism.epsilon))
        params[_FLIP_KIND], params[_FLIP] = FLIP_CONSTANT, flip
        params[_EXACT_KIND] = EXACT_RR
        params[_LOG_KEEP], params[_LOG_FLIP] = math.log1p(-flip), math.log(flip)
    elif isinstance(mechanism, SmoothedRandomizedResponse):
        if not isinstance(signal_model, GaussianSignal):
            raise ValueError("smoothed randomized response needs Gaussian signals")
        params[_FLIP_KIND], params[_EPSILON] = FLIP_SMOOTHED, mechanism.epsilon
        params[_AMPLITUDE] = mechanism.amplitude
        params[_EXACT_KIND] = EXACT_SMOOTHED
        params[_SCALED] = mechanism.epsilon * signal_model.sigma
        params[_LOG_AMPLITUDE] = math.log(mechanism.amplitude)
    else:
        params[_FLIP_KIND], params[_EXACT_KIND] = FLIP_NONE, EXACT_NONE
    if isinstance(signal_model, BinarySignal):
        params[_P], params[_MAGNITUDE] = signal_model.p, signal_model.private_llr_magnitude
        params[_INV_P], params[_INV_Q] = 1.0 / signal_model.p, 1.0 / (1.0 - signal_model.p)
        flip = params[_FLIP] if isinstance(mechanism, RandomizedResponse) else 0.0
        table = np.array(_binary_increment_table(signal_model, flip))[None, :]
        params[_BINARY_TABLE : _BINARY_TABLE + 6] = table[0]
        table.flags.writeable = False
        return DecisionKernel(SIGNAL_BINARY, int(params[_FLIP_KIND]), _tuple(params), table)
    params[_SIGMA] = signal_model.sigma
    params[_LLR_PER_SIGNAL] = 2.0 / signal_model.sigma**2
    low, step, table, error = increment_table(signal_model, mechanism)
    params[_TABLE_LOW], params[_TABLE_INV_STEP] = low, 1.0 / step
    return DecisionKernel(
        SIGNAL_GAUSSIAN, int(params[_FLIP_KIND]), _tuple(params), table, low, step, error
    )


def _tuple(params: np.ndarray) -> Params:
    return tuple(float(value) for value in params)


def increment_table(
    signal_model: GaussianSignal, mechanism: PrivacyMechanism
) -> tuple[float, float, np.ndarray, float]:
    """A cubic-spline table of D+(l) on [-W, W] with |spline - D+| <= 1e-9 there.

    D+ is the numpy closed form ``mechanism.llr_increment(+1, l, signal_model)``. It depends on l
    through u = sigma l / 2 and has its structure on |u| <~ 40 (beyond, Phi is 1 or its Gaussian tail);
    under smoothed RR it decays like exp(-epsilon sigma u) for u -> +inf, so the range is
    |u| <= 40 + 40 / (epsilon sigma) there (beyond it |D+| < e^-40). The cell width h starts at
    1/8 in u and is halved until the error at 7 interior points of every cell (1/8 .. 7/8) is below
    1e-9 / 4. Why that bounds the error everywhere on the range: in each cell the error e(l) is
    smooth, and between check points 1/8 h apart it exceeds the checked values by at most
    (h/8)^2 / 8 max|e''| with |e''| <= |D+''| + |S''| = O(h^2 max|D+''''|) (the spline's second
    derivative converges at O(h^2)), far below 1e-9 at these h (the test checks 10^6 random points
    and every cell's midpoint again). Above 2^18 cells the range shrinks, never the accuracy.

    Returns:
        (low, step, coefficients (cells, 4), largest checked error).
    """
    sigma = signal_model.sigma
    half_u = 40.0
    if isinstance(mechanism, SmoothedRandomizedResponse):
        half_u += 40.0 / (mechanism.epsilon * sigma)

    def closed_form(public_llr: np.ndarray) -> np.ndarray:
        return mechanism.llr_increment(1, public_llr, signal_model)

    from scipy.interpolate import CubicSpline  # 0.6 s to import: only when a table is built

    step = 0.125 * 2.0 / sigma
    while True:
        cells = math.ceil(2.0 * half_u * 2.0 / sigma / step)
        if cells > _MAX_INTERVALS:
            cells = _MAX_INTERVALS
        low = -0.5 * cells * step
        nodes = low + step * np.arange(cells + 1)
        spline = CubicSpline(nodes, closed_form(nodes))
        fractions = np.arange(1, 8) / 8.0
        checks = (nodes[:-1, None] + step * fractions[None, :]).ravel()
        error = float(np.max(np.abs(spline(checks) - closed_form(checks))))
        if error <= _TABLE_CHECK_BOUND:
            break
        step *= 0.5
    coefficients = np.ascontiguousarray(spline.c.T)
    coefficients *= step ** np.arange(3, -1, -1)  # in the cell's fraction (0 .. 1), not in l
    coefficients.flags.writeable = False
    return float(low), float(step), coefficients, error


__all__ = [
    "TABLE_ERROR_BOUND",
    "DecisionKernel",
    "binary_regime",
    "decide",
    "decide_report",
    "first_passage_block",
    "sequence_block",
    "decide_in_table",
    "decide_many",
    "decision_kernel",
    "draw_decision",
    "draw_inputs",
    "exact_increment",
    "exact_increment_plus",
    "flip_draws",
    "flip_probability",
    "flips",
    "increment",
    "increment_table",
    "log_ndtr",
    "next_double",
    "next_exponential",
    "next_normal",
    "next_uint64",
    "seed_state",
    "spline_cell",
    "spline_value",
    "state_of",
    "tabulated_increment",
]
