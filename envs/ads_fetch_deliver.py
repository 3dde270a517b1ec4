"""FetchDeliver: a cheap progress-dependent task for imitation from observation (System 3).

System 3's envs have a fixed horizon: every episode lasts exactly ``horizon`` agent steps (what the
demos, the OT reward and the progress recognizer assume). Gymnasium's ``TimeLimit`` cuts the
episodes, not the envs: ``gymnasium.make`` adds it at the registered ``max_episode_steps``, and
code that builds an env itself wraps it with :func:`with_time_limit`.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit

DEFAULT_SPEED = 0.25
ENV_ID = "seqrl/FetchDeliver-v0"


class FetchDeliverEnv(gymnasium.Env):
    """A point mass must fetch an object before it can deliver it to a fixed goal.

    ## Description
    The task has the progress-dependency property of Liu et al. (ICLR 2024): delivering is only
    possible after fetching, while an observation-matching reward for the late frames (agent at
    the goal) can be collected by driving straight to the goal without the object. The object is
    picked up when the agent comes within ``grasp_radius`` of it, then moves with the agent, and is
    delivered (placed on the goal) when it comes within ``goal_radius`` of the goal ``(-0.5, 0.6)``.

    By default (``observe_object=False``) the object waits at the fixed spot ``(0.5, -0.5)`` and
    the observation is the agent's position and whether it holds the object, so that, as with a
    robot arm whose joint state dominates the features, most of what an imitator compares is the
    agent's own position: under the OT reward the shortcut to the goal then earns much more than
    fetching the object and holding it (a test checks this). With ``observe_object=True`` the
    object starts anywhere in ``[0.3, 0.7] x [-0.7, -0.3]`` and its position is observed.

    ## Action Space
    ``Box(-1, 1, (2,))``: velocity command; the point moves by ``speed * action`` per step inside
    the square ``[-1, 1]^2``.

    ## Observation Space
    ``Box((3,))``: agent x, y; 1 while the object is carried, else 0. With ``observe_object``,
    ``Box((5,))``: agent x, y; object x, y; carried. The goal is fixed and not observed.
    ``info["full_observation"]`` always holds the 5-dim state (what the scripted expert reads).

    ## Rewards
    The task reward is 1 on every step after delivery, else 0 (an imitator ignores it and uses a
    proxy reward).

    ## Starting State
    Agent near ``(-0.7, -0.7)`` (uniform jitter 0.1); object at ``(0.5, -0.5)`` or, with
    ``observe_object``, uniform in ``[0.3, 0.7] x [-0.7, -0.3]``.

    ## Episode End
    Never terminated; truncated after ``horizon`` steps by Gymnasium's ``TimeLimit``, not by the
    env: ``gymnasium.make("seqrl/FetchDeliver-v0")`` adds it at the registered 24 steps (the
    default horizon), and ``with_time_limit(FetchDeliverEnv(horizon=...))`` at any horizon. Every
    episode thus has exactly ``horizon`` steps; a step past the horizon without a reset raises
    RuntimeError. ``info["success"]`` is true once the object has been delivered (it stays
    delivered).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    goal = np.array([-0.5, 0.6])
    object_spot = np.array([0.5, -0.5])

    def __init__(
        self,
        horizon: int = 24,
        speed: float = DEFAULT_SPEED,
        grasp_radius: float = 0.12,
        goal_radius: float = 0.2,
        observe_object: bool = False,
    ) -> None:
        """Create the task.

        Args:
            horizon: Steps per episode (fixed).
            speed: Largest displacement per step along each axis.
            grasp_radius: Distance within which the object is picked up.
            goal_radius: Distance from the goal within which a carried object is delivered.
            observe_object: Randomise the object's start and observe its position.
        """
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        for name, value in (("grasp_radius", grasp_radius), ("goal_radius", goal_radius)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        self.horizon = horizon
        self.speed = speed
        self.grasp_radius = grasp_radius
        self.goal_radius = goal_radius
        self.observe_object = observe_object
        self.action_space: spaces.Box = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        # Observed entries of the state (agent x, y, object x, y, carried).
        self._observed = slice(None) if observe_object else [0, 1, 4]
        low, high = np.array([-1, -1, -1, -1, 0]), np.ones(5)
        self.observation_space: spaces.Box = spaces.Box(
            low=low[self._observed].astype(np.float32),
            high=high[self._observed].astype(np.float32),
            dtype=np.float32,
        )
        self._agent = np.zeros(2)
        self._object = np.zeros(2)
        self._carried = False
        self._delivered = False
        self._steps = 0

    def _observe(self) -> tuple[np.ndarray, dict[str, Any]]:
        observations, infos = observe(self, self._agent[None], self._object[None],
                                      np.array([self._carried]), np.array([self._delivered]))  # fmt: skip
        return observations[0], {name: value[0] for name, value in infos.items()}

    def start_positions(self, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Agent and object positions at a reset, drawn from ``generator`` (see Starting State)."""
        agent = np.array([-0.7, -0.7]) + generator.uniform(-0.1, 0.1, size=2)
        if self.observe_object:
            return agent, generator.uniform([0.3, -0.7], [0.7, -0.3])
        return agent, self.object_spot.copy()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._agent, self._object = self.start_positions(self.np_random)
        self._carried = False
        self._delivered = False
        self._steps = 0
        return self._observe()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._steps >= self.horizon:
            raise RuntimeError(
                f"FetchDeliver stepped past its horizon of {self.horizon} steps without a reset: "
                "wrap it with with_time_limit(env) so that TimeLimit ends the episodes there "
                "(with gymnasium.make, do not override max_episode_steps)"
            )
        agent, obj, carried, delivered = advance(
            self, self._agent[None], self._object[None], np.array([self._carried]),
            np.array([self._delivered]), np.asarray(action)[None],
        )  # fmt: skip
        self._agent, self._object = agent[0], obj[0]
        self._carried, self._delivered = bool(carried[0]), bool(delivered[0])
        self._steps += 1
        reward = float(self._delivered)
        observation, info = self._observe()
        return observation, reward, False, False, info


def observe(
    env: FetchDeliverEnv,
    agent: np.ndarray,
    obj: np.ndarray,
    carried: np.ndarray,
    delivered: np.ndarray,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Observations ``(K, d)`` of ``K`` FetchDeliver states (what ``env`` observes of them), and
    their infos: ``success`` and ``carried`` ``(K,)``, ``full_observation`` ``(K, 5)``."""
    state = np.concatenate([agent, obj, carried[:, None]], axis=1)
    infos = {"success": delivered.copy(), "carried": carried.copy(), "full_observation": state}
    return state[:, env._observed].astype(np.float32), infos


def advance(
    env: FetchDeliverEnv,
    agent: np.ndarray,
    obj: np.ndarray,
    carried: np.ndarray,
    delivered: np.ndarray,
    action: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One step of ``K`` FetchDeliver states under ``env``'s parameters (the dynamics of both
    :class:`FetchDeliverEnv` and :class:`FetchDeliverVectorEnv`).

    Args:
        env: Supplies ``speed``, ``grasp_radius``, ``goal_radius`` and ``goal``.
        agent: ``(K, 2)`` agent positions.
        obj: ``(K, 2)`` object positions.
        carried: ``(K,)`` whether the object is held.
        delivered: ``(K,)`` whether it has been delivered.
        action: ``(K, 2)`` velocity commands (clipped to [-1, 1]).

    Returns:
        The new ``(agent, obj, carried, delivered)``: the agent moves by ``speed * action`` inside
        ``[-1, 1]^2``; an object neither held nor delivered is picked up within ``grasp_radius``;
        a held object moves with the agent and is delivered (placed on the goal, released) within
        ``goal_radius`` of the goal.
    """
    action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    agent = np.clip(agent + env.speed * action, -1.0, 1.0)
    offset = agent - obj
    grabbed = ~carried & ~delivered & (np.hypot(offset[:, 0], offset[:, 1]) <= env.grasp_radius)
    carried = carried | grabbed
    obj = np.where(carried[:, None], agent, obj)
    offset = obj - env.goal
    arrived = carried & (np.hypot(offset[:, 0], offset[:, 1]) <= env.goal_radius)
    obj = np.where(arrived[:, None], env.goal, obj)
    return agent, obj, carried & ~arrived, delivered | arrived


class FetchDeliverVectorEnv(gymnasium.vector.VectorEnv):
    """``K`` FetchDeliver envs stepped as arrays: what ``SyncVectorEnv`` of ``K``
    ``with_time_limit(FetchDeliverEnv(...))`` gives, step for step and seed for seed (a test
    checks), at the cost of one env step.

    Every sub-env keeps its own generator, seeded as the wrapped envs' (``reset(seed=[...])`` or
    ``seed + k``). The envs share one horizon and move in lockstep: after the step that truncates
    them, the next ``step`` resets them all (Gymnasium's next-step autoreset) and returns the
    first observations with reward 0.

    ``infos`` holds ``success``, ``carried`` and ``full_observation`` (each with its ``_name``
    mask, as Gymnasium's vector envs report).
    """

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        """``num_envs`` envs of ``FetchDeliverEnv(**kwargs)``."""
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.env = FetchDeliverEnv(**kwargs)
        self.num_envs = num_envs
        self.single_observation_space = self.env.observation_space
        self.single_action_space = self.env.action_space
        self.observation_space = gymnasium.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gymnasium.vector.utils.batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": gymnasium.vector.AutoresetMode.NEXT_STEP}
        self._generators = [gymnasium.utils.seeding.np_random()[0] for _ in range(num_envs)]
        self._agent = np.zeros((num_envs, 2))
        self._object = np.zeros((num_envs, 2))
        self._carried = np.zeros(num_envs, dtype=bool)
        self._delivered = np.zeros(num_envs, dtype=bool)
        self._steps = 0

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """The sub-envs' attribute ``name`` (the same in all)."""
        return (getattr(self.env, name),) * self.num_envs

    def _observations(self) -> tuple[np.ndarray, dict[str, Any]]:
        observations, infos = observe(
            self.env, self._agent, self._object, self._carried, self._delivered
        )
        infos |= {f"_{name}": np.ones(self.num_envs, dtype=bool) for name in list(infos)}
        return observations, infos

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            seeds = [seed + k for k in range(self.num_envs)] if isinstance(seed, int) else seed
            if len(seeds) != self.num_envs:
                raise ValueError(f"one seed per env: got {len(seeds)} for {self.num_envs} envs")
            self._generators = [
                generator if env_seed is None else gymnasium.utils.seeding.np_random(env_seed)[0]
                for generator, env_seed in zip(self._generators, seeds, strict=True)
            ]
        for k, generator in enumerate(self._generators):
            self._agent[k], self._object[k] = self.env.start_positions(generator)
        self._carried[:] = False
        self._delivered[:] = False
        self._steps = 0
        return self._observations()

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        falses = np.zeros(self.num_envs, dtype=bool)
        if self._steps >= self.env.horizon:
            observations, infos = self.reset()
            return observations, np.zeros(self.num_envs), falses, falses.copy(), infos
        self._agent, self._object, self._carried, self._delivered = advance(
            self.env, self._agent, self._object, self._carried, self._delivered, actions
        )
        self._steps += 1
        observations, infos = self._observations()
        truncated = np.full(self.num_envs, self._steps >= self.env.horizon)
        return observations, self._delivered.astype(np.float64), falses, truncated, infos


def fetch_deliver_expert(
    observation: np.ndarray, goal: np.ndarray = FetchDeliverEnv.goal, speed: float = DEFAULT_SPEED
) -> np.ndarray:
    """Scripted expert: head for the object until it is carried, then for the goal, then stop.

    Args:
        observation: A FetchDeliver state ``(5,)`` (``info["full_observation"]``).
        goal: The task's goal position.
        speed: The env's largest displacement per step.

    Returns:
        Action ``(2,)`` in [-1, 1].
    """
    agent, target, carried = observation[:2], observation[2:4], observation[4] > 0.5
    delivered = not carried and np.linalg.norm(target - goal) < 1e-6
    if delivered:
        return np.zeros(2, dtype=np.float32)
    if carried:
        target = goal
    direction = (target - agent) / speed
    return np.clip(direction, -1.0, 1.0).astype(np.float32)


def with_time_limit(env: gymnasium.Env) -> TimeLimit:
    """Wrap one of System 3's fixed-horizon envs in Gymnasium's ``TimeLimit`` at its own horizon.

    The one way code that builds a FetchDeliverEnv or MetaWorldImitationEnv itself (scenarios,
    demos, tests, benchmarks) gets episodes of exactly ``env.horizon`` steps.
    """
    return TimeLimit(env, max_episode_steps=env.get_wrapper_attr("horizon"))


def make_registered(**kwargs: Any) -> FetchDeliverEnv:
    """Entry point of ``seqrl/FetchDeliver-v0``; ``gymnasium.make`` adds the TimeLimit.

    ``gymnasium.make`` does not tell the env its ``max_episode_steps``, so a ``horizon`` other than
    the registered one would be cut silently at the registered length; it is refused instead.

    Raises:
        ValueError: ``horizon`` disagrees with the id's registered ``max_episode_steps``.
    """
    env = FetchDeliverEnv(**kwargs)
    max_episode_steps = gymnasium.spec(ENV_ID).max_episode_steps
    if max_episode_steps is not None and env.horizon != max_episode_steps:
        raise ValueError(
            f"horizon={env.horizon} disagrees with max_episode_steps={max_episode_steps} of "
            f"{ENV_ID}, whose TimeLimit would cut every episode at {max_episode_steps} steps; "
            f"for another horizon use with_time_limit(FetchDeliverEnv(horizon={env.horizon}))"
        )
    return env
