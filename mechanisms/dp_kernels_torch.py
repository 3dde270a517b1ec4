"""The decision of :mod:`seqrl.mechanisms.dp_kernels` on torch tensors (CPU or CUDA), batched over runs.

Same rule, same flip probability and the same increment table (cubic spline of D+(l) with
|error| <= 1e-9, exact log-space closed form outside, D(-1, l) = -D+(-l)); random inputs come from
torch's generator, so the torch backend equals the numba one in distribution, not draw by draw.
Needs the ``rl`` extra (torch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqrl.mechanisms.dp_kernels import (
    _EPSILON,
    _EXACT_KIND,
    _FLIP,
    _LLR_PER_SIGNAL,
    _LOG_AMPLITUDE,
    _LOG_FLIP,
    _LOG_KEEP,
    _MAGNITUDE,
    _P,
    _SCALED,
    _SIGMA,
    _TIE,
    EXACT_NONE,
    EXACT_RR,
    FLIP_CONSTANT,
    FLIP_NONE,
    SIGNAL_BINARY,
    DecisionKernel,
)


def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class TorchKernel:
    """A :class:`DecisionKernel` with its tables on a torch device (float64).

    Attributes:
        kernel: The compiled kernel it mirrors.
        table: Its table on ``device``.
        device: Torch device.
    """

    kernel: DecisionKernel
    table: torch.Tensor
    device: torch.device

    @classmethod
    def build(cls, kernel: DecisionKernel, device: str | torch.device) -> TorchKernel:
        """Copy the kernel's table to ``device``."""
        device = torch.device(device)
        table = torch.tensor(np.array(kernel.table), dtype=torch.float64, device=device)
        return cls(kernel, table, device)

    def param(self, index: int) -> float:
        """The kernel parameter at ``index`` (a Python float)."""
        return float(self.kernel.params[index])


def _log_m(z: torch.Tensor, scaled: float, log_amplitude: float) -> torch.Tensor:
    """log m(z) of smoothed RR (see :func:`seqrl.mechanisms.dp_privacy.smoothed_rr_log_likelihood`)."""
    log_ndtr = torch.special.log_ndtr
    offset = log_amplitude + 0.5 * scaled * scaled
    first = log_ndtr(z)
    second = offset - scaled * z + log_ndtr(z - scaled)
    third = offset + scaled * z + log_ndtr(-z - scaled)
    return torch.logaddexp(first + torch.log1p(-torch.exp(second - first)), third)


def exact_increment_plus(public_llr: torch.Tensor, kernel: TorchKernel) -> torch.Tensor:
    """D+(l) in closed form for Gaussian signals (as :func:`dp_kernels.exact_increment_plus`)."""
    sigma = kernel.param(_SIGMA)
    centre = 0.5 * sigma * public_llr
    plus, minus = centre + 1.0 / sigma, centre - 1.0 / sigma
    log_ndtr = torch.special.log_ndtr
    kind = int(kernel.param(_EXACT_KIND))
    if kind == EXACT_NONE:
        return log_ndtr(plus) - log_ndtr(minus)
    if kind == EXACT_RR:
        keep, flip = kernel.param(_LOG_KEEP), kernel.param(_LOG_FLIP)
        return torch.logaddexp(keep + log_ndtr(plus), flip + log_ndtr(-plus)) - torch.logaddexp(
            keep + log_ndtr(minus), flip + log_ndtr(-minus)
        )
    scaled, log_amplitude = kernel.param(_SCALED), kernel.param(_LOG_AMPLITUDE)
    return _log_m(plus, scaled, log_amplitude) - _log_m(minus, scaled, log_amplitude)


def increment(report: torch.Tensor, public_llr: torch.Tensor, kernel: TorchKernel) -> torch.Tensor:
    """D(x, l) = x D+(x l): table lookup, the closed form outside the table."""
    base = kernel.kernel
    if base.kind == SIGNAL_BINARY:
        return kernel.table[0, regime(public_llr, kernel) + 3 * (report > 0).long()]  # 6 entries
    sign = report.to(torch.float64)
    oriented = sign * public_llr
    position = (oriented - base.low) / base.step
    cells = kernel.table.shape[0]
    inside = (position >= 0) & (position < cells)
    cell = position.clamp(0, cells - 1).floor()
    offset = position - cell
    row = kernel.table[cell.long()]
    value = ((row[:, 0] * offset + row[:, 1]) * offset + row[:, 2]) * offset + row[:, 3]
    if not bool(inside.all()):
        outside = ~inside
        value = value.clone()
        value[outside] = exact_increment_plus(oriented[outside], kernel)
    return sign * value


def regime(public_llr: torch.Tensor, kernel: TorchKernel) -> torch.Tensor:
    """Binary signals: how many of the two signals lead to +1 at l."""
    magnitude = kernel.param(_MAGNITUDE)
    return (public_llr + _TIE * magnitude > 0).long() + (public_llr - _TIE * magnitude > 0).long()


def decide(
    public_llr: torch.Tensor,
    theta: torch.Tensor,
    signal_draw: torch.Tensor,
    flip_draw: torch.Tensor,
    kernel: TorchKernel,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(signal, action, report, l_next) over runs, as :func:`dp_kernels.decide`: ``flip_draw`` is
    uniform for binary signals (flip iff U < u) and standard exponential for Gaussian signals (flip
    iff E > -log u)."""
    truth = theta.to(torch.float64)
    binary = kernel.kernel.kind == SIGNAL_BINARY
    if binary:
        signal = torch.where(signal_draw < kernel.param(_P), truth, -truth)
        private_llr = signal * kernel.param(_MAGNITUDE)
    else:
        signal = truth + kernel.param(_SIGMA) * signal_draw
        private_llr = signal * kernel.param(_LLR_PER_SIGNAL)
    action = torch.where(public_llr + private_llr * _TIE > 0, 1, -1).to(torch.int8)
    flip_kind = kernel.kernel.flip_kind
    if flip_kind == FLIP_NONE:
        report = action
    else:
        if binary:
            flipped = flip_draw < kernel.param(_FLIP)
        elif flip_kind == FLIP_CONSTANT:
            flipped = flip_draw > -kernel.param(_LOG_FLIP)
        else:
            threshold = -0.5 * kernel.param(_SIGMA) ** 2 * public_llr
            flipped = flip_draw > kernel.param(_EPSILON) * (
                signal - threshold
            ).abs() - kernel.param(_LOG_AMPLITUDE)
        report = torch.where(flipped, -action, action)
    return signal, action, report, public_llr + increment(report, public_llr, kernel)
