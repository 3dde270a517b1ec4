"""Grid values from text (``--set``, sweep files) and sweep files a user can keep.

A value list is comma-separated; each item is one value or a numeric range:

- ``start:stop:step``: start, start + step, ... up to and including stop (``0.1:0.5:0.1`` gives
  0.1, 0.2, 0.3, 0.4, 0.5; ``2:10:4`` gives 2, 6, 10);
- ``linspace(a, b, n)``: n evenly spaced values from a to b, both included.

A sweep file (TOML, read with the standard library's ``tomllib``) holds one run::

    scenario = "dp-binary-cascade"     # a built-in name or "FILE.py:NAME" (relative to the file)
    seeds = 3                          # optional, like --seeds
    seed = 0                           # optional root seed, like --seed
    executor = "process"               # optional, with workers = 2
    out = "results/eps-sweep"          # optional, relative to the file

    [params]                           # fixed values
    n_agents = 300

    [grid]                             # axes: lists, or range strings as above
    epsilon = "linspace(0.5, 2.0, 4)"
    p = [0.6, 0.7]
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqrl.scenarios.core import BadInput, Param, ParamValue, Scenario

_LINSPACE = re.compile(r"^linspace\(\s*([^,()]+),\s*([^,()]+),\s*([^,()]+)\)$")
_MAX_RANGE_VALUES = 100_000


def split_items(text: str) -> list[str]:
    """Split a value list on the commas that are not inside parentheses."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for character in text:
        if character == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(character, 0)
        current.append(character)
    items.append("".join(current))
    return [item.strip() for item in items]


def _number(param: Param, text: str, label: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{param.name}={label!r}: range bounds must be numbers") from None
    if not math.isfinite(value):
        raise BadInput(f"{param.name}={label!r}: range bounds must be finite")
    return value


def _as_type(param: Param, values: np.ndarray, label: str) -> list[ParamValue]:
    if param.type is int:
        rounded = np.round(values)
        if not np.allclose(values, rounded, rtol=0, atol=1e-9):
            raise BadInput(
                f"{param.name}={label!r}: an integer parameter needs integer range values"
            )
        return [int(v) for v in rounded]
    # Round away the floating-point noise of start + k * step (0.30000000000000004 -> 0.3).
    return [float(f"{v:.12g}") for v in values]


def expand_range(param: Param, text: str) -> list[ParamValue] | None:
    """The values of a range item, or None if ``text`` is not a range (or the parameter is not
    numeric: a string parameter takes ``a:b:c`` as it is).

    Raises:
        BadInput: a malformed range, or values not allowed.
    """
    match = _LINSPACE.match(text)
    if param.type not in (int, float) or (match is None and text.count(":") != 2):
        return None
    if match is not None:
        start, stop = (_number(param, match.group(i), text) for i in (1, 2))
        try:
            count = int(match.group(3))
        except ValueError:
            raise BadInput(f"{param.name}={text!r}: linspace needs an integer count") from None
        if not 1 <= count <= _MAX_RANGE_VALUES:
            raise BadInput(
                f"{param.name}={text!r}: linspace count must be in [1, {_MAX_RANGE_VALUES}]"
            )
        values: np.ndarray = np.linspace(start, stop, count)
    else:
        start, stop, step = (_number(param, part, text) for part in text.split(":"))
        if step <= 0 or stop < start:
            raise BadInput(
                f"{param.name}={text!r}: start:stop:step needs step > 0 and stop >= start"
            )
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > _MAX_RANGE_VALUES:
            raise BadInput(f"{param.name}={text!r}: more than {_MAX_RANGE_VALUES} values")
        values = start + step * np.arange(count)
    expanded = _as_type(param, values, text)
    for value in expanded:
        param.validate(value)
    return expanded


def parse_values(param: Param, text: str) -> list[ParamValue]:
    """Parse ``--set`` text (comma-separated values and ranges) by the parameter's type.

    Raises:
        BadInput: naming the parameter, the value and what is allowed.
    """
    values: list[ParamValue] = []
    for item in split_items(text):
        expanded = expand_range(param, item)
        values.extend(expanded if expanded is not None else [param.parse(item)])
    return values


def coerce_values(param: Param, given: Any) -> list[ParamValue]:
    """Grid values given from Python or a TOML file: one value, a list, a numpy array, or text.

    Text is parsed like ``--set`` for non-string parameters (so ranges work); for a string
    parameter a plain string is one value.
    """
    if isinstance(given, np.ndarray):
        given = given.tolist()
    items = list(given) if isinstance(given, list | tuple | range) else [given]
    values: list[ParamValue] = []
    for item in items:
        if isinstance(item, np.generic):
            item = item.item()
        if isinstance(item, str) and param.type is not str:
            values.extend(parse_values(param, item))
            continue
        if param.type is float and isinstance(item, int) and not isinstance(item, bool):
            item = float(item)
        param.validate(item)
        values.append(item)
    if not values:
        raise BadInput(f"{param.name}: an empty list of values; expected {param.allowed()}")
    return values


def grid_overrides(
    scenario: Scenario,
    params: Mapping[str, Any] | None = None,
    grid: Mapping[str, Any] | None = None,
) -> dict[str, list[ParamValue]]:
    """Fixed values and grid axes from Python, as the axes that :meth:`Scenario.axes` takes.

    Raises:
        BadInput: an unknown parameter, a value not allowed, or a name given as both.
    """
    overrides: dict[str, list[ParamValue]] = {}
    for name, value in (params or {}).items():
        param = scenario.param(name)
        if isinstance(value, list | tuple | np.ndarray):
            raise BadInput(f"params[{name!r}] must be one value; put lists in grid")
        overrides[param.name] = coerce_values(param, value)
    for name, values in (grid or {}).items():
        param = scenario.param(name)
        if name in overrides:
            raise BadInput(f"{name!r} is given in both params and grid; choose one")
        overrides[param.name] = coerce_values(param, values)
    return overrides


@dataclass(frozen=True)
class Sweep:
    """One run described by a TOML file.

    Attributes:
        scenario: Built-in name or ``FILE.py:NAME`` (a relative file is resolved against the file).
        params: Fixed parameter values.
        grid: Grid axes (lists or range strings).
        seeds: Seeds per combination, or None for the scenario's default.
        seed: Root seed.
        executor: serial, process or ray, or None for the default.
        workers: Parallel workers, or None for 1.
        out: Output directory (relative to the file), or None for the default.
        quick: Whether to apply the scenario's smoke-sized overrides.
    """

    scenario: str
    params: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, Any] = field(default_factory=dict)
    seeds: int | None = None
    seed: int | None = None
    executor: str | None = None
    workers: int | None = None
    out: str | None = None
    quick: bool = False


_SWEEP_KEYS = set(Sweep.__dataclass_fields__)
_TOML_KINDS = {dict: "a table", int: "an integer", str: "a string", bool: "true or false"}


def load_sweep(path: Path) -> Sweep:
    """Read a sweep file.

    Raises:
        BadInput: the file is missing, not TOML, or holds unknown keys or values of the wrong type.
    """
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BadInput(f"sweep file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise BadInput(f"sweep file {str(path)!r} is not valid TOML: {error}") from None
    if unknown := sorted(set(data) - _SWEEP_KEYS):
        raise BadInput(
            f"sweep file {str(path)!r}: unknown keys {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_SWEEP_KEYS))}"
        )
    if not isinstance(data.get("scenario"), str):
        raise BadInput(f"sweep file {str(path)!r}: 'scenario' (a name or FILE.py:NAME) is required")
    expected: dict[str, type] = {
        "params": dict, "grid": dict, "seeds": int, "seed": int, "executor": str,
        "workers": int, "out": str, "quick": bool,
    }  # fmt: skip
    for key, kind in expected.items():
        if key not in data:
            continue
        value = data[key]
        # TOML's true/false are Python bools, which are ints too: an int key must not take one.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise BadInput(f"sweep file {str(path)!r}: {key} must be {_TOML_KINDS[kind]}")
    base = Path(path).resolve().parent
    reference = data["scenario"]
    if (
        reference.partition(":")[0].endswith(".py")
        and not Path(reference.rpartition(":")[0]).is_absolute()
    ):
        file_part, _, name = reference.rpartition(":")
        reference = f"{base / file_part}:{name}"
    if "out" in data and not Path(data["out"]).is_absolute():
        data["out"] = str(base / data["out"])
    return Sweep(**{**data, "scenario": reference})


def is_sweep_file(reference: str) -> bool:
    """Whether a ``seqrl run`` argument names a sweep file."""
    return reference.endswith(".toml")


__all__ = [
    "Sweep",
    "coerce_values",
    "expand_range",
    "grid_overrides",
    "is_sweep_file",
    "load_sweep",
    "parse_values",
    "split_items",
]
