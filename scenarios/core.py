"""The scenario API: typed parameters, a ``run(args, rng)`` function, an optional plot.

A scenario is what a user runs from the command line or with :func:`seqrl.run`. Its parameters are
one frozen dataclass (each field a :func:`param` with its help and bounds; a field whose type is
itself a dataclass contributes that dataclass's fields, so a mechanism's own parameter class can be
used as it is), and its ``run`` maps one instance of it and one random generator to a dict of
metrics (and, optionally, a long-format table of time series)::

    from dataclasses import dataclass

    import seqrl

    @dataclass(frozen=True)
    class CoinArgs:
        bias: float = seqrl.param(0.5, "probability of heads", low=0.0, high=1.0)
        n_flips: int = seqrl.param(100, "flips per task", low=1)

    @seqrl.scenario(name="coin-bias", description="Estimate a coin's bias.", params=CoinArgs)
    def coin_bias(args: CoinArgs, rng):
        flips = rng.random(args.n_flips) < args.bias
        return {"estimate": flips.mean(), "error": abs(flips.mean() - args.bias)}

Small scenarios may instead pass a list of :class:`Param` and receive a plain dict.
"""

from __future__ import annotations

import contextvars
import dataclasses
import inspect
import math
import re
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

ParamValue = int | float | str | bool
Axes = dict[str, list[ParamValue]]
"""A grid: each parameter's list of values; the grid is their Cartesian product."""
RunFunction = Callable[[Any, np.random.Generator], "Mapping[str, Any] | TaskOutput"]
"""``run(args, rng)``: args is the scenario's parameter dataclass (or a dict for Param lists)."""
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
        allow_inf: Whether a float parameter may be infinite (e.g. ``epsilon = inf``, no
            privacy); NaN is never allowed.
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
    allow_inf: bool = False

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
        number = "a number (inf allowed)" if self.allow_inf else "a finite number"
        parts = [{int: "an integer", float: number, str: "a string"}[self.type]]
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
                isinstance(value, float)
                and (math.isnan(value) or (math.isinf(value) and not self.allow_inf))
            )
        if ok and self.choices is not None:
            ok = value in self.choices
        if ok and self.low is not None:
            ok = value >= self.low if self.low_inclusive else value > self.low
        if ok and self.high is not None:
            ok = value <= self.high if self.high_inclusive else value < self.high
        if not ok:
            raise BadInput(f"{self.name}={value!r}: expected {self.allowed()}")


_PARAM_METADATA = "seqrl.param"
_SCALAR_TYPES = (int, float, str, bool)


def param(
    default: ParamValue,
    help: str = "",
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    choices: Sequence[ParamValue] | None = None,
    allow_inf: bool = False,
) -> Any:
    """A dataclass field that is a scenario parameter: its default, one-line help and bounds.

    Use it in a scenario's parameter dataclass (``epsilon: float = param(1.0, "budget", low=0)``);
    the field's annotation gives the type (``Literal[...]`` gives the choices).
    """
    spec = {
        "help": help,
        "low": low,
        "high": high,
        "low_inclusive": low_inclusive,
        "high_inclusive": high_inclusive,
        "choices": None if choices is None else tuple(choices),
        "allow_inf": allow_inf,
    }
    return field(default=default, metadata={_PARAM_METADATA: spec})


def _attribute_docs(cls: type) -> dict[str, str]:
    """The one-line descriptions of a Google-style docstring's ``Attributes:`` section."""
    text = inspect.getdoc(cls) or ""
    section = re.search(r"^Attributes:\n((?:[ \t]+.*\n?|\n)*)", text, re.M)
    if section is None:
        return {}
    docs: dict[str, str] = {}
    for match in re.finditer(
        r"^[ \t]+(\w+)(?: \(.*?\))?: (.*(?:\n[ \t]{5,}.*)*)", section.group(1), re.M
    ):
        docs[match.group(1)] = " ".join(match.group(2).split())
    return docs


def _param_of_field(owner: type, item: dataclasses.Field, annotation: Any) -> Param:
    """The :class:`Param` of one dataclass field (type from its annotation, help from its metadata
    or from the owner's docstring)."""
    spec = dict(item.metadata.get(_PARAM_METADATA) or {})
    if typing.get_origin(annotation) is Literal:
        choices = typing.get_args(annotation)
        if spec.get("choices") is None:
            spec["choices"] = choices
        annotation = type(choices[0])
    if annotation not in _SCALAR_TYPES:
        raise TypeError(
            f"{owner.__name__}.{item.name}: a parameter must be int, float, str, bool or a "
            f"Literal of them, got {annotation!r}"
        )
    if item.default is dataclasses.MISSING:
        raise TypeError(f"{owner.__name__}.{item.name}: a parameter needs a default")
    if not spec.get("help"):
        spec["help"] = _attribute_docs(owner).get(item.name, "")
    return Param(item.name, annotation, item.default, **spec)


def dataclass_params(cls: type) -> tuple[Param, ...]:
    """The parameters of a parameter dataclass, flattened: a field whose type is a dataclass
    contributes that dataclass's own fields (built from its default instance).

    Raises:
        TypeError: a field is of an unsupported type, or has no default.
        ValueError: two fields flatten to the same name.
    """
    found: list[Param] = []
    hints = typing.get_type_hints(cls)
    for item in dataclasses.fields(cls):
        if not item.init:
            continue
        annotation = hints[item.name]
        if dataclasses.is_dataclass(annotation):
            found.extend(dataclass_params(annotation))  # type: ignore[arg-type]
        else:
            found.append(_param_of_field(cls, item, annotation))
    names = [p.name for p in found]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"{cls.__name__}: parameter names {duplicates} appear twice")
    return tuple(found)


def build_arguments(cls: type, values: Mapping[str, Any]) -> Any:
    """An instance of the parameter dataclass ``cls`` from flat parameter values.

    Nested dataclass fields are built from the same flat mapping. The dataclasses' own validation
    (``__post_init__``) runs; its ValueError becomes :class:`BadInput`.
    """
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if not item.init:
            continue
        annotation = hints[item.name]
        if dataclasses.is_dataclass(annotation):
            kwargs[item.name] = build_arguments(annotation, values)  # type: ignore[arg-type]
        elif item.name in values:
            kwargs[item.name] = values[item.name]
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as error:
        if isinstance(error, BadInput):
            raise
        raise BadInput(str(error)) from None


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
        params: The typed parameters (derived from ``arguments_type`` when that is given).
        run: ``run(args, rng)`` -> dict of metrics or a TaskOutput. Must be deterministic given rng.
            ``args`` is an instance of ``arguments_type``, or a dict when there is none.
        plot: Optional ``plot(results, trajectories)`` -> {file stem: matplotlib Figure}.
        grid: Default grid axes {name: [values]} run when the user sets nothing for that name; or a
            list of such mappings, whose grids are joined (for axes that only matter together, e.g.
            ``[{"model": ["a"]}, {"model": ["b"], "b_only": [1, 2]}]``).
        quick: Overrides (single values or lists) applied by ``--quick`` for a smoke-sized run.
        seeds: Default number of seeds.
        quick_seeds: Number of seeds under ``--quick`` unless ``--seeds`` is given.
        check: Optional cross-parameter validation of one combination (a dict); raises ValueError.
            With ``arguments_type``, the dataclass's ``__post_init__`` plays this part.
        arguments_type: The frozen parameter dataclass, or None for a plain ``Param`` list.
        requires: Extras of pyproject.toml the scenario needs (``"rl"``, ``"ads"``, ...).
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
    arguments_type: type | None = None
    requires: tuple[str, ...] = ()

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

    def defaults(self) -> dict[str, ParamValue]:
        """Every parameter at its default value."""
        return {p.name: p.default for p in self.params}

    def arguments(self, values: Mapping[str, Any]) -> Any:
        """What ``run`` receives for one combination of flat parameter values.

        Raises:
            BadInput: the combination fails the scenario's validation.
        """
        if self.arguments_type is not None:
            return build_arguments(self.arguments_type, values)
        combo = dict(values)
        if self.check is not None:
            try:
                self.check(dict(combo))
            except ValueError as error:
                if isinstance(error, BadInput):
                    raise
                raise BadInput(str(error)) from None
        return combo

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
            BadInput: a combination fails the scenario's validation.
        """
        seen: list[dict[str, Any]] = []
        for axes in grids:
            names = list(axes)
            for index in np.ndindex(*(len(axes[n]) for n in names)):
                combo = {n: axes[n][i] for n, i in zip(names, index, strict=True)}
                if combo in seen:
                    continue
                seen.append(combo)
                self.arguments(combo)
                yield combo


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def scenario(
    *,
    name: str,
    description: str,
    params: Sequence[Param] | type,
    plot: PlotFunction | None = None,
    grid: Mapping[str, Sequence[ParamValue]]
    | Sequence[Mapping[str, Sequence[ParamValue]]]
    | None = None,
    quick: Mapping[str, Any] | None = None,
    seeds: int = 5,
    quick_seeds: int = 2,
    check: Callable[[dict[str, Any]], None] | None = None,
    requires: Sequence[str] = (),
) -> Callable[[RunFunction], Scenario]:
    """Decorator that turns ``run(args, rng)`` into a :class:`Scenario`.

    Args:
        params: A frozen parameter dataclass (``run`` receives an instance), or a list of
            :class:`Param` (``run`` receives a dict).
        requires: Extras the scenario needs; a run without them stops before writing anything.
        (The other arguments are the :class:`Scenario` attributes of the same names.)
    """
    is_dataclass = isinstance(params, type) and dataclasses.is_dataclass(params)
    if isinstance(params, type) and not is_dataclass:
        raise TypeError(f"scenario {name}: params must be a dataclass or a list of Param")

    def wrap(run: RunFunction) -> Scenario:
        return Scenario(
            name=name,
            description=description,
            params=dataclass_params(params) if is_dataclass else tuple(params),  # type: ignore[arg-type]
            run=run,
            plot=plot,
            grid=grid or {},
            quick=dict(quick or {}),
            seeds=seeds,
            quick_seeds=quick_seeds,
            check=check,
            arguments_type=params if is_dataclass else None,  # type: ignore[arg-type]
            requires=tuple(requires),
        )

    return wrap


_artifact_dir: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "artifact_dir", default=None
)
TaskProgressSink = Callable[[int, int, str], None]
"""Receives a running task's (done, total, unit) reports."""
_task_progress: contextvars.ContextVar[TaskProgressSink | None] = contextvars.ContextVar(
    "task_progress", default=None
)


def artifact_dir() -> Path | None:
    """Directory for the current task's own files (e.g. transcripts), or None outside a run.

    The runner sets it while a task runs; files written there are kept with the run's output.
    Write incrementally (e.g. JSON lines) so that an interrupted task keeps what it finished.
    """
    return _artifact_dir.get()


def replicate_rngs(rng: np.random.Generator, count: int) -> list[np.random.Generator]:
    """Generators for ``count`` replicates inside one task, numbered like seeds.

    The runner seeds task ``s`` with child ``s`` of the root ``SeedSequence``; replicate ``k`` of
    that task gets child ``s * count + k``, the generator seed ``s * count + k`` gets in a run
    with one replicate per task. So a task that trains ``count`` runs as one batched model sees,
    run for run, what ``count`` separate tasks would (paired comparisons across the two ways of
    running). With ``count = 1`` it is ``rng`` itself; a generator the runner did not make gets
    ``count`` children spawned from it.
    """
    if count == 1:
        return [rng]
    sequence = rng.bit_generator.seed_seq
    if not isinstance(sequence, np.random.SeedSequence) or len(sequence.spawn_key) != 1:
        return list(rng.spawn(count))
    (task,) = sequence.spawn_key
    return [np.random.default_rng(np.random.SeedSequence(sequence.entropy,
                                                         spawn_key=(task * count + k,)))
            for k in range(count)]  # fmt: skip


def report_progress(done: int, total: int, unit: str = "steps") -> None:
    """Tell the run how far the current task has got (``done`` of ``total`` ``unit``).

    Long tasks (training, dialogues) call it as they go; the run shows it as a nested bar on a
    terminal and as periodic lines elsewhere, under every executor. Reports are throttled on the
    way, so calling it often is cheap; outside a run it does nothing.
    """
    sink = _task_progress.get()
    if sink is not None:
        sink(int(done), int(total), unit)


def with_artifact_dir(
    path: Path | None, function: Callable[[], Any], progress: TaskProgressSink | None = None
) -> Any:
    """Call ``function`` as a task: :func:`artifact_dir` returns ``path`` and
    :func:`report_progress` feeds ``progress``."""
    token = _artifact_dir.set(path)
    progress_token = _task_progress.set(progress)
    try:
        return function()
    finally:
        _task_progress.reset(progress_token)
        _artifact_dir.reset(token)
