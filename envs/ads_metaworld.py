"""Meta-World v3 tasks for imitation from observation (System 3): fixed horizon, goal masked.

Registration: ``seqrl/MetaWorldImitation-v0`` has no registered ``max_episode_steps``, because the
horizon depends on the task (the paper's 175 or 125 simulator steps) and on ``action_repeat``:
one registered length would disagree with most tasks, and ``gymnasium.make`` cannot tell the env
the length it registered. Its entry point, :func:`make_time_limited`, applies Gymnasium's
``TimeLimit`` at the env's own horizon instead, so that ``gymnasium.make(..., task=...)`` ends
every episode after exactly ``horizon`` agent steps whatever the task. (Set the length with
``horizon=``, not with ``gymnasium.make``'s ``max_episode_steps``.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit

from seqrl.envs.ads_fetch_deliver import with_time_limit

if TYPE_CHECKING:
    from metaworld.policies.policy import Policy
    from metaworld.sawyer_xyz_env import SawyerXYZEnv

#: Episode lengths in simulator steps used by the ADS paper (Liu et al., 2024, appendix).
PAPER_ENV_STEPS = {
    "assembly-v3": 175,
    "basketball-v3": 175,
    "pick-place-wall-v3": 175,
    "hammer-v3": 125,
    "lever-pull-v3": 125,
    "stick-push-v3": 125,
    "door-lock-v3": 125,
    "door-unlock-v3": 125,
    "door-open-v3": 125,
}

GOAL_DIMS = 3


def agent_horizon(env_steps: int, action_repeat: int) -> int:
    """Agent steps covering ``env_steps`` simulator steps: ``ceil((env_steps - 1) / k) + 1``."""
    return math.ceil((env_steps - 1) / action_repeat) + 1


class MetaWorldImitationEnv(gymnasium.Env):
    """A Meta-World v3 task seen by an imitator: fixed horizon, action repeat, goal masked.

    ## Description
    Wraps the goal-observable Meta-World v3 class of ``task`` (MuJoCo, state-based). Object and
    goal positions are drawn afresh at every reset (``randomize=True``) from the env's own seeded
    generator.

    ## Action Space
    ``Box(-1, 1, (4,))``: end-effector displacement and gripper effort, repeated
    ``action_repeat`` times.

    ## Observation Space
    The 39-dim Meta-World state without its last 3 entries (the goal): 36 dims. The full
    observation, which scripted experts need, is in ``info["full_observation"]``.

    ## Rewards
    Meta-World's dense task reward summed over the repeated steps (an imitator ignores it).

    ## Starting State
    Meta-World's reset of the task, with positions sampled when ``randomize`` is true.

    ## Episode End
    Never terminated; truncated after ``horizon`` agent steps by Gymnasium's ``TimeLimit``, not by
    the env (``gymnasium.make("seqrl/MetaWorldImitation-v0", task=...)`` or
    ``with_time_limit(MetaWorldImitationEnv(...))``). A step past the horizon without a reset
    raises Meta-World's ValueError. ``info["success"]`` is Meta-World's success flag after the
    agent step (true if any repeated step succeeded).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        task: str = "basketball-v3",
        horizon: int | None = None,
        action_repeat: int = 2,
        randomize: bool = True,
    ) -> None:
        """Build the task.

        Args:
            task: A Meta-World v3 task name, e.g. ``"basketball-v3"``.
            horizon: Episode length in agent steps; default from the paper's simulator steps
                (175 or 125) divided by ``action_repeat``.
            action_repeat: Simulator steps per agent step.
            randomize: Draw object and goal positions at every reset.

        Raises:
            ValueError: unknown task, horizon < 1 or action_repeat < 1.
        """
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

        key = f"{task}-goal-observable"
        if key not in ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE:
            known = sorted(
                name.removesuffix("-goal-observable")
                for name in ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE
            )
            raise ValueError(
                f"task must be a Meta-World v3 task such as {', '.join(known[:5])}..., got {task!r}"
            )
        if action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {action_repeat}")
        if horizon is None:
            horizon = agent_horizon(PAPER_ENV_STEPS.get(task, 125), action_repeat)
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.task = task
        self.horizon = horizon
        self.action_repeat = action_repeat
        self.randomize = randomize
        # The goal-observable classes Meta-World generates take a seed (their declared base
        # class, SawyerXYZEnv, does not).
        env_class: Callable[..., SawyerXYZEnv] = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[key]
        self._env = env_class(seed=0)
        self._env.max_path_length = horizon * action_repeat
        self._env.seeded_rand_vec = True
        self._env._freeze_rand_vec = not randomize
        full_space = self._env.observation_space
        assert isinstance(full_space, spaces.Box)
        self._low = np.asarray(full_space.low, dtype=np.float64)
        self._high = np.asarray(full_space.high, dtype=np.float64)
        self.observation_space: spaces.Box = spaces.Box(
            low=self._low[:-GOAL_DIMS].astype(np.float32),
            high=self._high[:-GOAL_DIMS].astype(np.float32),
            dtype=np.float32,
        )
        self.action_space: spaces.Box = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)

    def _split(self, full: np.ndarray, info: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        info = {**info, "full_observation": np.asarray(full, dtype=np.float64)}
        observation = np.clip(full[:-GOAL_DIMS], self._low[:-GOAL_DIMS], self._high[:-GOAL_DIMS])
        return observation.astype(np.float32), info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._env.seed(int(self.np_random.integers(2**31 - 1)))
        full, info = self._env.reset()
        return self._split(full, {**info, "success": False})

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)
        total_reward = 0.0
        success = False
        for _ in range(self.action_repeat):
            full, reward, _, _, info = self._env.step(action)
            total_reward += float(reward)
            success = success or bool(info.get("success", 0.0))
        observation, info = self._split(full, {**info, "success": success})
        return observation, total_reward, False, False, info

    def close(self) -> None:
        self._env.close()


def make_time_limited(**kwargs: Any) -> TimeLimit:
    """Entry point of ``seqrl/MetaWorldImitation-v0``: the env in a TimeLimit at its own horizon.

    Args:
        **kwargs: Those of :class:`MetaWorldImitationEnv`.
    """
    return with_time_limit(MetaWorldImitationEnv(**kwargs))


def scripted_expert(task: str) -> Any:
    """Meta-World's scripted policy for ``task`` as a function of the full observation.

    Raises:
        ValueError: no scripted policy exists for the task.
    """
    from metaworld.policies import ENV_POLICY_MAP

    if task not in ENV_POLICY_MAP:
        raise ValueError(f"task must have a Meta-World scripted policy, got {task!r}")
    # Each entry is a concrete policy class (the map is typed with their abstract base).
    policy_class: Callable[[], Policy] = ENV_POLICY_MAP[task]
    policy = policy_class()

    def act(full_observation: np.ndarray) -> np.ndarray:
        return np.clip(policy.get_action(full_observation), -1.0, 1.0).astype(np.float32)

    return act
