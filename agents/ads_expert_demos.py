"""Observation-only expert demonstrations: collection from scripted experts, storage, validation.

A demo is the sequence of the T observations the imitator would see after each of the T agent
steps of one successful episode (``o_1..o_T``). The expert acts on the full observation
(``info["full_observation"]`` when the env provides it, e.g. with the goal unmasked).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

logger = logging.getLogger(__name__)

ExpertPolicy = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ExpertDemos:
    """A set of equal-length, observation-only demonstrations.

    Attributes:
        observations: ``(N, T, d)`` imitator observations.
        metadata: JSON-serialisable facts (env id, horizon, seeds, success rate of the expert...).
    """

    observations: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_demos(self) -> int:
        """Number of demos N."""
        return int(self.observations.shape[0])

    @property
    def horizon(self) -> int:
        """Demo length T."""
        return int(self.observations.shape[1])


def validate_demos(
    observations: np.ndarray, horizon: int, observation_dim: int, min_demos: int = 2
) -> np.ndarray:
    """Check demo shapes against the env and return them as float32 ``(N, T, d)``.

    Raises:
        ValueError: not a 3-d array, length != horizon, fewer than ``min_demos`` demos, a
            dimension that does not match the env, or non-finite values.
    """
    observations = np.asarray(observations)
    if observations.ndim != 3:
        raise ValueError(
            f"demos must have shape (n_demos, horizon, obs_dim), got shape {observations.shape}"
        )
    n_demos, length, dim = observations.shape
    if length != horizon:
        raise ValueError(f"demo length must equal the horizon {horizon}, got {length}")
    if n_demos < min_demos:
        raise ValueError(f"n_demos must be >= {min_demos}, got {n_demos}")
    if dim != observation_dim:
        raise ValueError(f"demo observation dim must match the env's {observation_dim}, got {dim}")
    if not np.all(np.isfinite(observations)):
        raise ValueError("demos must be finite, got NaN or infinite values")
    return observations.astype(np.float32)


def collect_demos(
    env: gymnasium.Env,
    expert: ExpertPolicy,
    horizon: int,
    n_demos: int,
    rng: np.random.Generator,
    max_episodes: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> ExpertDemos:
    """Roll out a scripted expert and keep successful episodes of exactly the horizon's length.

    Args:
        env: A fixed-horizon env whose episodes end at the horizon (System 3's envs: wrapped in
            Gymnasium's TimeLimit, e.g. by ``with_time_limit``), with ``info["success"]`` (and
            optionally ``info["full_observation"]``, which the expert then sees).
        expert: Maps a full observation to an action.
        horizon: Required episode length in agent steps; other lengths are discarded.
        n_demos: Demos to keep.
        rng: Source of the per-episode reset seeds.
        max_episodes: Give up after this many episodes (default ``20 * n_demos``).
        metadata: Extra facts stored with the demos.

    Raises:
        RuntimeError: fewer than ``n_demos`` successful episodes within ``max_episodes``.
    """
    max_episodes = max_episodes if max_episodes is not None else 20 * n_demos
    kept: list[np.ndarray] = []
    seeds: list[int] = []
    episodes = 0
    lengths: set[int] = set()
    while len(kept) < n_demos and episodes < max_episodes:
        seed = int(rng.integers(2**31 - 1))
        observation, info = env.reset(seed=seed)
        episodes += 1
        frames: list[np.ndarray] = []
        success = False
        done = False
        while not done:
            action = expert(info.get("full_observation", observation))
            observation, _, terminated, truncated, info = env.step(action)
            frames.append(np.asarray(observation, dtype=np.float32))
            success = success or bool(info.get("success", False))
            done = terminated or truncated
        lengths.add(len(frames))
        if success and len(frames) == horizon:
            kept.append(np.stack(frames))
            seeds.append(seed)
    if len(kept) < n_demos:
        raise RuntimeError(
            f"expert succeeded on {len(kept)} of {episodes} episodes; needed {n_demos}"
        )
    logger.info("kept %d successful demos out of %d episodes", len(kept), episodes)
    facts = {
        **(metadata or {}),
        "n_demos": n_demos,
        "horizon": horizon,
        "observation_dim": int(kept[0].shape[1]),
        "reset_seeds": seeds,
        "expert_success_rate": len(kept) / episodes,
        "episode_lengths": sorted(lengths),
    }
    return ExpertDemos(observations=np.stack(kept), metadata=facts)


def save_demos(path: str | Path, demos: ExpertDemos) -> Path:
    """Write demos to a compressed ``.npz`` (``observations`` plus JSON ``metadata``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez_compressed(
            handle, observations=demos.observations, metadata=json.dumps(demos.metadata)
        )
    return path


def load_demos(
    path: str | Path, horizon: int, observation_dim: int, min_demos: int = 2
) -> ExpertDemos:
    """Read demos written by :func:`save_demos` and validate them against the env.

    Raises:
        ValueError: the file is missing or malformed, or :func:`validate_demos` rejects it.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"demos file must exist, got {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            observations = archive["observations"]
            metadata = json.loads(str(archive["metadata"])) if "metadata" in archive else {}
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(
            f"demos file must be an .npz with 'observations', got {path}: {error}"
        ) from None
    observations = validate_demos(observations, horizon, observation_dim, min_demos)
    return ExpertDemos(observations=observations, metadata=metadata)
