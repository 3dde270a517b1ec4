"""The scenario API: typed parameters, a ``run(params, rng)`` function, an optional plot.

A scenario is what a user runs from the command line. It names its parameters with their types,
defaults and allowed values, and its ``run`` maps one parameter combination and one random generator
to a dict of metrics (and, optionally, a long-format table of time series)::

    from scenarios import Param, TaskOutput, scenario

    @scenario(
        name="coin-bias",
        description="Estimate a coin's bias from n flips.",
        params=[Param("bias", float, 0.5, "probability of heads", low=0.0, high=1.0),
                Param("n_flips", int, 100, "flips per task", low=1)],
    )
    def coin_bias(params, rng):
        flips = rng.random(params["n_flips"]) < params["bias"]
        return {"estimate": flips.mean(), "error": abs(flips.mean() - params["bias"])}
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

ParamValue = int | float | str | bool
Axes = dict[str, list[ParamValue]]
"""A grid: each parameter's list of values; the grid is their Cartesian product."""
RunFunction = Callable[[dict[str, Any], np.random.Generator], "Mapping[str, Any] | TaskOutput"]
PlotFunction = Callable[["pd.DataFrame", "pd.DataFrame | None"], "Mapping[str, Any]"]

RESERVED_COLUMNS = ("scenario", "task_id", "seed_index", "seed", "elapsed_s")
"""Columns the runner adds to every result row; no parameter or metric may use these names."""

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class BadInput(ValueError):
    """Input a user can fix: the CLI prints it as one line and exits with status 2."""


@dataclass(frozen=True)
class Param:
    """One typed scenario parameter.

    Attributes:
        name: Identifier used with ``--set name=value``.
        type: One of ``int``, ``float``, ``str``, ``bool``; command-line text is parsed by it.
        default: Value used when the user sets nothing.
        help: One line shown by ``seqrl list``.
        low: Smallest allowed value (numeric parameters), or None.
        high: Largest allowed value (numeric parameters), or None.
        low_inclusive: Whether ``low`` itself is allowed.
        high_inclusive: Whether ``high`` itself is allowed.
        choices: The allowed values, or None for any value of the type.
    """

    name: str
    type: type
    default: ParamValue
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    choices: tuple[ParamValue, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in (int, float, str, bool):
            raise TypeError(f"Param {self.name}: type must be int, float, str or bool")
        self.validate(self.default)

    def allowed(self) -> str:
        """Describe the allowed values in words, for error messages."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.type is bool:
            return "true or false"
        parts = [{int: "an integer", float: "a number", str: "a string"}[self.type]]
        if self.low is not None:
            parts.append(f"{'>=' if self.low_inclusive else '>'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<=' if self.high_inclusive else '<'} {self.high:g}")
        return " ".join(parts[:1]) + (" " + " and ".join(parts[1:]) if parts[1:] else "")

    def parse(self, text: str) -> ParamValue:
        """Parse command-line text by the declared type and validate it.

        Raises:
            BadInput: the text is not of the type or the value is not allowed.
        """
        text = text.strip()
        try:
            if self.type is bool:
                if text.lower() not in _TRUE | _FALSE:
                    raise ValueError
                value: ParamValue = text.lower() in _TRUE
            elif self.type is int:
                value = int(text)
            elif self.type is float:
                value = float(text)  # accepts "inf" and "1e-3"
            else:
                value = text
        except ValueError:
            raise BadInput(f"{self.name}={text!r}: expected {self.allowed()}") from None
        self.validate(value)
        return value

    def validate(self, value: Any) -> None:
        """Check a value against the type, range and choices.

        Raises:
            BadInput: naming the parameter, the value and what is allowed.
        """
        ok = isinstance(value, self.type) or (
            self.type is float and isinstance(value, int) and not isinstance(value, bool)
        )
        if ok and self.type in (int, float):
            ok = not isinstance(value, bool) and not (
                isinstance(value, float) and math.isnan(value)
            )
        if ok and self.choices is not None:
            ok = value in self.choices
        if ok and self.low is not None:
            ok = value >= self.low if self.low_inclusive else value > self.low
        if ok and self.high is not None:
            ok = value <= self.high if self.high_inclusive else value < self.high
        if not ok:
            raise BadInput(f"{self.name}={value!r}: expected {self.allowed()}")


@dataclass
class TaskOutput:
    """What ``run`` may return instead of a plain dict.

    Attributes:
        metrics: Scalar metrics of the task; become columns of results.parquet.
        trajectories: Optional long-format table (e.g. columns ``step``, ``value``); rows are tagged
            with the task's parameters and seed and stored in trajectories.parquet.
    """

    metrics: dict[str, Any]
    trajectories: pd.DataFrame | None = None


@dataclass(frozen=True)
class Scenario:
    """A runnable experiment.

    Attributes:
        name: Name used on the command line (``seqrl run NAME``).
        description: One line shown by ``seqrl list``.
        params: The typed parameters.
        run: ``run(params, rng)`` -> dict of metrics or a TaskOutput. Must be deterministic given rng.
        plot: Optional ``plot(results, trajectories)`` -> {file stem: matplotlib Figure}.
        grid: Default grid axes {name: [values]} run when the user sets nothing for that name; or a
            list of such mappings, whose grids are joined (for axes that only matter together, e.g.
            ``[{"model": ["a"]}, {"model": ["b"], "b_only": [1, 2]}]``).
        quick: Overrides (single values or lists) applied by ``--quick`` for a smoke-sized run.
        seeds: Default number of seeds.
        quick_seeds: Number of seeds under ``--quick`` unless ``--seeds`` is given.
        check: Optional cross-parameter validation of one combination; raises ValueError.
    """

    name: str
    description: str
    params: tuple[Param, ...]
    run: RunFunction
    plot: PlotFunction | None = None
    grid: Mapping[str, Sequence[ParamValue]] | Sequence[Mapping[str, Sequence[ParamValue]]] = field(
        default_factory=dict
    )
    quick: Mapping[str, ParamValue | Sequence[ParamValue]] = field(default_factory=dict)
    seeds: int = 5
    quick_seeds: int = 2
    check: Callable[[dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"scenario {self.name}: duplicate parameter names")
        if reserved := set(names) & set(RESERVED_COLUMNS):
            raise ValueError(f"scenario {self.name}: parameter names {reserved} are reserved")
        for subgrid in [*self.subgrids(), self.quick]:
            for key, values in subgrid.items():
                param = self.param(key)
                for value in _as_list(values):
                    param.validate(value)

    def param(self, name: str) -> Param:
        """Return the parameter called ``name``.

        Raises:
            BadInput: no such parameter; the message lists the known ones.
        """
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "none"
        raise BadInput(f"unknown parameter {name!r} for scenario {self.name}; known: {known}")

    def subgrids(self) -> list[Mapping[str, Sequence[ParamValue]]]:
        """The default grid as a list of mappings (one mapping when the grid is a single product)."""
        return [self.grid] if isinstance(self.grid, Mapping) else list(self.grid)

    def axes(
        self, overrides: Mapping[str, Sequence[ParamValue]] | None = None, quick: bool = False
    ) -> list[Axes]:
        """The grids to run: for each default sub-grid, the parameters' defaults, then the
        sub-grid's axes, then the --quick overrides, then the user's --set (applied to every one)."""
        for key in overrides or {}:
            self.param(key)
        grids: list[Axes] = []
        for subgrid in self.subgrids() or [{}]:
            axes: Axes = {p.name: [p.default] for p in self.params}
            axes.update({k: list(v) for k, v in subgrid.items()})
            if quick:
                axes.update({k: _as_list(v) for k, v in self.quick.items()})
            axes.update({k: list(v) for k, v in (overrides or {}).items()})
            if axes not in grids:
                grids.append(axes)
        return grids

    def combinations(
        self, grids: Sequence[Mapping[str, Sequence[ParamValue]]]
    ) -> Iterator[dict[str, Any]]:
        """Every distinct parameter combination of the grids, validated, in a fixed order.

        Raises:
            BadInput: a combination fails the scenario's cross-parameter check.
        """
        seen: list[dict[str, Any]] = []
        for axes in grids:
            names = list(axes)
            for index in np.ndindex(*(len(axes[n]) for n in names)):
                combo = {n: axes[n][i] for n, i in zip(names, index, strict=True)}
                if combo in seen:
                    continue
                seen.append(combo)
                if self.check is not None:
                    try:
                        self.check(dict(combo))
                    except ValueError as error:
                        raise BadInput(str(error)) from None
                yield combo


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def scenario(
    *,
    name: str,
    description: str,
    params: Sequence[Param],
    plot: PlotFunction | None = None,
    grid: Mapping[str, Sequence[ParamValue]]
    | Sequence[Mapping[str, Sequence[ParamValue]]]
    | None = None,
    quick: Mapping[str, Any] | None = None,
    seeds: int = 5,
    quick_seeds: int = 2,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> Callable[[RunFunction], Scenario]:
    """Decorator that turns ``run(params, rng)`` into a :class:`Scenario`."""

    def wrap(run: RunFunction) -> Scenario:
        return Scenario(
            name=name,
            description=description,
            params=tuple(params),
            run=run,
            plot=plot,
            grid=grid or {},
            quick=dict(quick or {}),
            seeds=seeds,
            quick_seeds=quick_seeds,
            check=check,
        )

    return wrap


_artifact_dir: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "artifact_dir", default=None
)


def artifact_dir() -> Path | None:
    """Directory for the current task's own files (e.g. transcripts), or None outside a run.

    The runner sets it while a task runs; files written there are kept with the run's output.
    Write incrementally (e.g. JSON lines) so that an interrupted task keeps what it finished.
    """
    return _artifact_dir.get()


def with_artifact_dir(path: Path | None, function: Callable[[], Any]) -> Any:
    """Call ``function`` with :func:`artifact_dir` returning ``path``."""
    token = _artifact_dir.set(path)
    try:
        return function()
    finally:
        _artifact_dir.reset(token)
