"""Tabular MDPs as Gymnasium environments that expose their full model.

``seqrl/TabularMDP-v0`` wraps user tensors, ``seqrl/RandomMDP-v0`` samples Dirichlet dynamics (with
an optional branching factor) from a seed, and ``seqrl/Gridworld-v0`` is a gridworld with slip
probability. Each env has a :class:`seqrl.mechanisms.irl_mdp.TabularMDP` in ``env.unwrapped.mdp`` (and
``transition``, ``reward``, ``initial_distribution``, ``discount`` as properties), so that IRL code
can compute exact policies, occupancies and distances for the very MDP an RL agent acts in.

The MDPs are continuing, so the envs never end an episode themselves: ``gymnasium.make`` wraps
them in ``TimeLimit`` at the registered ``max_episode_steps=100`` (as Gymnasium does for its own
continuing tasks), and ``gymnasium.make(env_id, max_episode_steps=n)`` changes the limit::

    import gymnasium as gym
    import seqrl.envs  # registers the ids

    env = gym.make("seqrl/Gridworld-v0", width=4, height=4, max_episode_steps=50)
    mdp = env.unwrapped.mdp  # tau, R, mu0 and gamma of the very MDP the agent acts in
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
    The MDP is continuing (infinite-horizon, discounted): the env itself never terminates nor
    truncates. ``gymnasium.make("seqrl/TabularMDP-v0", ...)`` truncates after the registered
    ``max_episode_steps=100`` steps (Gymnasium's ``TimeLimit``); pass ``max_episode_steps=`` to
    ``gymnasium.make`` for another limit.

    Args:
        transition: tau ``[S, A, S]`` (rows must be distributions).
        reward: R ``[S, A, S]``.
        initial_distribution: mu0 ``[S]`` (uniform when None).
        discount: gamma in [0, 1), used by planners and IRL (not by the env's dynamics).
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
        self.mdp = mdp
        self.observation_space = spaces.Discrete(mdp.n_states)
        self.action_space = spaces.Discrete(mdp.n_actions)
        self._state = 0

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
        return np.int64(next_state), reward, False, False, {}


class RandomMDPEnv(TabularMDPEnv):
    """A random finite MDP, fixed by ``model_seed``: Dirichlet dynamics, Gaussian rewards.

    ## Description
    A :class:`TabularMDPEnv` whose tensors are sampled once, from ``model_seed``, by
    :func:`seqrl.mechanisms.irl_mdp.random_mdp`: each row ``tau[s, a, :]`` is
    Dirichlet(concentration) (over ``branching`` random next states when given), and
    ``R(s, a, s') ~ N(0, reward_scale^2)``.

    ## Action Space
    ``Discrete(n_actions)``.

    ## Observation Space
    ``Discrete(n_states)``: the index of the current state.

    ## Rewards
    ``R[s, a, s']`` of the transition taken.

    ## Starting State
    Uniform over the states.

    ## Episode End
    Continuing: the env never terminates nor truncates; ``gymnasium.make("seqrl/RandomMDP-v0")``
    truncates after the registered ``max_episode_steps=100`` steps (``TimeLimit``).

    Args:
        n_states: |S| >= 1.
        n_actions: |A| >= 1.
        branching: If given, each (s, a) reaches only this many next states.
        concentration: Dirichlet concentration of the transition rows (> 0).
        reward_scale: Standard deviation of the N(0, sigma^2) rewards R(s, a, s').
        discount: gamma in [0, 1).
        model_seed: Seed of the MDP itself (episodes are seeded by ``reset(seed=...)``).
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
            )
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
    """A gridworld with slip probability.

    ## Description
    A :class:`TabularMDPEnv` on a ``height x width`` grid (see :func:`gridworld_mdp`): the chosen
    move is made with probability ``1 - slip_probability``, otherwise a uniformly random one of the
    four; moves into a wall stay in place.

    ## Action Space
    ``Discrete(4)``: 0 up, 1 right, 2 down, 3 left.

    ## Observation Space
    ``Discrete(width * height)``: the cell index ``row * width + column``.

    ## Rewards
    ``goal_reward`` for entering the goal cell (bottom-right by default), plus ``step_reward`` on
    every step.

    ## Starting State
    Uniform over the cells other than the goal.

    ## Episode End
    Continuing (the goal does not end the episode): the env never terminates nor truncates;
    ``gymnasium.make("seqrl/Gridworld-v0")`` truncates after the registered
    ``max_episode_steps=100`` steps (``TimeLimit``).

    Args:
        width: Number of columns.
        height: Number of rows.
        slip_probability: Probability in [0, 1] that the move is uniform over all four instead.
        goal: (row, column) of the goal; None for the bottom-right cell.
        goal_reward: Reward for entering the goal.
        step_reward: Reward of every step.
        discount: gamma in [0, 1).
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
    ) -> None:
        super().__init__(
            mdp=gridworld_mdp(
                width, height, slip_probability, goal, goal_reward, step_reward, discount
            )
        )
        self.width = width
        self.height = height
