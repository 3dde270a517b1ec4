"""Tabular MDPs as Gymnasium environments that expose their full model.

``seqrl/TabularMDP-v0`` wraps user tensors, ``seqrl/RandomMDP-v0`` samples Dirichlet dynamics (with
an optional branching factor) from a seed, and ``seqrl/Gridworld-v0`` is a gridworld with slip
probability. Each env has a :class:`seqrl.mechanisms.irl_mdp.TabularMDP` in ``env.unwrapped.mdp`` (and
``transition``, ``reward``, ``initial_distribution``, ``discount`` as properties), so that IRL code
can compute exact policies, occupancies and distances for the very MDP an RL agent acts in.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from seqrl.mechanisms.irl_mdp import TabularMDP, random_mdp


class TabularMDPEnv(gymnasium.Env[np.int64, np.int64]):
    """A finite MDP given by its tensors.

    ## Description
    The agent moves between ``S`` states; action ``a`` in state ``s`` leads to ``s'`` with
    probability ``tau[s, a, s']`` and yields ``R[s, a, s']``.

    ## Action Space
    ``Discrete(A)``.

    ## Observation Space
    ``Discrete(S)``: the index of the current state.

    ## Rewards
    ``R[s, a, s']`` of the transition taken.

    ## Starting State
    Drawn from ``initial_distribution``.

    ## Episode End
    The MDP is continuing (infinite-horizon, discounted): episodes never terminate and are
    truncated after ``max_episode_steps`` steps.

    Args:
        transition: tau ``[S, A, S]`` (rows must be distributions).
        reward: R ``[S, A, S]``.
        initial_distribution: mu0 ``[S]`` (uniform when None).
        discount: gamma in [0, 1), used by planners and IRL (not by the env's dynamics).
        max_episode_steps: Truncation length (>= 1).
        mdp: Alternatively a ready :class:`TabularMDP` (then the tensors must not be given).

    Raises:
        ValueError: bad tensors (shapes that disagree, negative or non-normalised rows).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        transition: np.ndarray | None = None,
        reward: np.ndarray | None = None,
        initial_distribution: np.ndarray | None = None,
        discount: float = 0.9,
        max_episode_steps: int = 100,
        mdp: TabularMDP | None = None,
    ) -> None:
        if mdp is None:
            if transition is None or reward is None:
                raise ValueError("give either mdp or both transition and reward")
            n_states = np.shape(transition)[0]
            if initial_distribution is None:
                initial_distribution = np.full(n_states, 1.0 / max(n_states, 1))
            mdp = TabularMDP(transition, reward, initial_distribution, discount)
        elif transition is not None or reward is not None or initial_distribution is not None:
            raise ValueError("give either mdp or the tensors, not both")
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        self.mdp = mdp
        self.max_episode_steps = int(max_episode_steps)
        self.observation_space = spaces.Discrete(mdp.n_states)
        self.action_space = spaces.Discrete(mdp.n_actions)
        self._state = 0
        self._steps = 0

    @property
    def transition(self) -> np.ndarray:
        """tau[s, a, s']."""
        return self.mdp.transition

    @property
    def reward(self) -> np.ndarray:
        """R[s, a, s']."""
        return self.mdp.reward

    @property
    def initial_distribution(self) -> np.ndarray:
        """mu0[s]."""
        return self.mdp.initial_distribution

    @property
    def discount(self) -> float:
        """gamma."""
        return self.mdp.discount

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.int64, dict[str, Any]]:
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(self.mdp.n_states, p=self.mdp.initial_distribution))
        self._steps = 0
        return np.int64(self._state), {}

    def step(self, action: Any) -> tuple[np.int64, float, bool, bool, dict[str, Any]]:
        action = int(action)
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in [0, {self.mdp.n_actions}), got {action}")
        next_state = int(
            self.np_random.choice(self.mdp.n_states, p=self.mdp.transition[self._state, action])
        )
        reward = float(self.mdp.reward[self._state, action, next_state])
        self._state = next_state
        self._steps += 1
        truncated = self._steps >= self.max_episode_steps
        return np.int64(next_state), reward, False, truncated, {}


class RandomMDPEnv(TabularMDPEnv):
    """A random finite MDP, fixed by ``model_seed``: Dirichlet dynamics, Gaussian rewards.

    Args:
        n_states: |S| >= 1.
        n_actions: |A| >= 1.
        branching: If given, each (s, a) reaches only this many next states.
        concentration: Dirichlet concentration of the transition rows (> 0).
        reward_scale: Standard deviation of the N(0, sigma^2) rewards R(s, a, s').
        discount: gamma in [0, 1).
        model_seed: Seed of the MDP itself (episodes are seeded by ``reset(seed=...)``).
        max_episode_steps: Truncation length.
    """

    def __init__(
        self,
        n_states: int = 16,
        n_actions: int = 4,
        branching: int | None = None,
        concentration: float = 1.0,
        reward_scale: float = 1.0,
        discount: float = 0.9,
        model_seed: int = 0,
        max_episode_steps: int = 100,
    ) -> None:
        if reward_scale < 0:
            raise ValueError(f"reward_scale must be >= 0, got {reward_scale}")
        super().__init__(
            mdp=random_mdp(
                np.random.default_rng(model_seed),
                n_states,
                n_actions,
                branching=branching,
                concentration=concentration,
                reward_scale=reward_scale,
                discount=discount,
            ),
            max_episode_steps=max_episode_steps,
        )


#: Gridworld moves: up, right, down, left as (row, column) steps.
GRID_MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])


def gridworld_mdp(
    width: int = 5,
    height: int = 5,
    slip_probability: float = 0.1,
    goal: tuple[int, int] | None = None,
    goal_reward: float = 1.0,
    step_reward: float = 0.0,
    discount: float = 0.9,
) -> TabularMDP:
    """A gridworld: 4 moves; with ``slip_probability`` the move is uniform over all 4 instead.

    Moves into a wall stay in place. Entering the goal (bottom-right by default) pays
    ``goal_reward``; every step pays ``step_reward``. The start is uniform over non-goal cells.
    State index = row * width + column.
    """
    if width < 1 or height < 1 or width * height < 2:
        raise ValueError(f"the grid needs at least 2 cells, got width={width}, height={height}")
    if not 0.0 <= slip_probability <= 1.0:
        raise ValueError(f"slip_probability must be in [0, 1], got {slip_probability}")
    goal = goal if goal is not None else (height - 1, width - 1)
    if not (0 <= goal[0] < height and 0 <= goal[1] < width):
        raise ValueError(f"goal must be inside the {height}x{width} grid, got {goal}")
    rows, columns = np.divmod(np.arange(width * height), width)
    target_rows = np.clip(rows[:, None] + GRID_MOVES[None, :, 0], 0, height - 1)
    target_columns = np.clip(columns[:, None] + GRID_MOVES[None, :, 1], 0, width - 1)
    destination = target_rows * width + target_columns  # [S, 4]
    n_states, n_moves = width * height, len(GRID_MOVES)
    deterministic = np.zeros((n_states, n_moves, n_states))
    deterministic[np.arange(n_states)[:, None], np.arange(n_moves)[None, :], destination] = 1.0
    slipped = deterministic.mean(axis=1, keepdims=True)
    transition = (1.0 - slip_probability) * deterministic + slip_probability * slipped
    goal_state = goal[0] * width + goal[1]
    reward = np.full(transition.shape, step_reward)
    reward[:, :, goal_state] += goal_reward
    initial = np.ones(n_states)
    initial[goal_state] = 0.0
    return TabularMDP(transition, reward, initial / initial.sum(), discount)


class GridworldEnv(TabularMDPEnv):
    """A gridworld with slip probability (see :func:`gridworld_mdp` for the dynamics).

    Observations are cell indices ``row * width + column``; actions 0-3 are up, right, down, left.
    """

    def __init__(
        self,
        width: int = 5,
        height: int = 5,
        slip_probability: float = 0.1,
        goal: tuple[int, int] | None = None,
        goal_reward: float = 1.0,
        step_reward: float = 0.0,
        discount: float = 0.9,
        max_episode_steps: int = 100,
    ) -> None:
        super().__init__(
            mdp=gridworld_mdp(
                width, height, slip_probability, goal, goal_reward, step_reward, discount
            ),
            max_episode_steps=max_episode_steps,
        )
        self.width = width
        self.height = height
