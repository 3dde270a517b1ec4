"""Find scenarios: built-ins in ``scenarios/library/`` and users' ``FILE.py:NAME`` references."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from functools import cache
from pathlib import Path

import seqrl.scenarios.library
from seqrl.scenarios.core import BadInput, Scenario


@cache
def builtin_scenarios() -> dict[str, Scenario]:
    """Every Scenario defined at module level in ``scenarios/library/``, by name."""
    found: dict[str, Scenario] = {}
    for module_info in pkgutil.iter_modules(seqrl.scenarios.library.__path__):
        module = importlib.import_module(f"seqrl.scenarios.library.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, Scenario):
                if value.name in found and found[value.name] is not value:
                    raise RuntimeError(f"two built-in scenarios are named {value.name!r}")
                found[value.name] = value
    return dict(sorted(found.items()))


def is_file_reference(reference: str) -> bool:
    """Whether ``reference`` has the form ``path/to/file.py:name``."""
    path, _, name = reference.rpartition(":")
    return path.endswith(".py") and bool(name)


def canonical_reference(reference: str) -> str:
    """A reference that resolves the same from any working directory (absolute file path)."""
    if not is_file_reference(reference):
        return reference
    path, _, name = reference.rpartition(":")
    return f"{Path(path).resolve()}:{name}"


@cache
def resolve(reference: str) -> Scenario:
    """Return the scenario named by a built-in name or a ``FILE.py:NAME`` reference.

    Raises:
        BadInput: unknown name, unreadable file, or no scenario of that name in the file.
    """
    if is_file_reference(reference):
        return _load_from_file(*reference.rsplit(":", 1))
    known = builtin_scenarios()
    if reference not in known:
        raise BadInput(
            f"unknown scenario {reference!r}; built-ins: {', '.join(known)} (or FILE.py:NAME)"
        )
    return known[reference]


def _load_from_file(path_text: str, name: str) -> Scenario:
    path = Path(path_text).resolve()
    if not path.is_file():
        raise BadInput(f"scenario file {path_text!r} does not exist")
    module_name = f"seqrl_user_{abs(hash(str(path))):x}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise BadInput(f"scenario file {path_text!r} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:  # a user's file may fail in any way: one line
        del sys.modules[module_name]
        what = (
            f"called sys.exit({error.code!r})"
            if isinstance(error, SystemExit)
            else f"{type(error).__name__}: {error}"
        )
        raise BadInput(f"scenario file {path_text!r} failed to load: {what}") from None
    value = getattr(module, name, None)
    if isinstance(value, Scenario):
        return value
    by_name = {v.name: v for v in vars(module).values() if isinstance(v, Scenario)}
    if name in by_name:
        return by_name[name]
    known = ", ".join(sorted(by_name)) or "none"
    raise BadInput(f"no scenario {name!r} in {path_text!r}; scenarios there: {known}")
