"""Tabular MDP environments: registration, check_env, model exposure, dynamics and time limits."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import TimeLimit

import seqrl.envs  # noqa: F401  (registers the ids)
from seqrl.envs.irl_tabular_mdp import GridworldEnv, TabularMDPEnv, gridworld_mdp
from seqrl.mechanisms.irl_mdp import random_mdp


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("seqrl/RandomMDP-v0", {"n_states": 5, "n_actions": 2, "branching": 2}),
        ("seqrl/Gridworld-v0", {"width": 3, "height": 2, "slip_probability": 0.2}),
        (
            "seqrl/TabularMDP-v0",
            {"transition": np.full((2, 2, 2), 0.5), "reward": np.ones((2, 2, 2))},
        ),
    ],
)
def test_registered_envs_pass_check_env_and_expose_their_model(env_id, kwargs):
    env = gymnasium.make(env_id, **kwargs)
    check_env(env.unwrapped, skip_render_check=True)
    assert isinstance(env, TimeLimit)  # the registered limit, not the env, truncates
    model = env.unwrapped
    n_states = model.observation_space.n
    assert model.transition.shape == (n_states, model.action_space.n, n_states)
    assert model.reward.shape == model.transition.shape
    assert model.initial_distribution.shape == (n_states,)
    assert 0 <= model.discount < 1


def test_bad_tensors_are_refused_with_clear_errors():
    with pytest.raises(ValueError, match="transition rows must sum to 1"):
        TabularMDPEnv(transition=np.full((2, 2, 2), 0.4), reward=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="reward shape"):
        TabularMDPEnv(transition=np.full((2, 2, 2), 0.5), reward=np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="transition must be non-negative"):
        TabularMDPEnv(
            transition=np.array([[[1.5, -0.5]], [[0.5, 0.5]]]), reward=np.zeros((2, 1, 2))
        )
    with pytest.raises(ValueError, match=r"discount must be in \[0, 1\)"):
        TabularMDPEnv(transition=np.full((2, 2, 2), 0.5), reward=np.zeros((2, 2, 2)), discount=1.0)
    with pytest.raises(ValueError, match="slip_probability"):
        GridworldEnv(slip_probability=1.5)


def test_empirical_transitions_match_the_tensor():
    mdp = random_mdp(np.random.default_rng(0), 4, 2)
    env = TabularMDPEnv(mdp=mdp)
    state, _ = env.reset(seed=1)
    counts = np.zeros(mdp.transition.shape)
    rng = np.random.default_rng(2)
    for _ in range(20_000):  # one episode: the raw env is continuing, it never ends by itself
        action = int(rng.integers(2))
        next_state, reward, terminated, truncated, _ = env.step(action)
        assert reward == mdp.reward[state, action, next_state]
        assert not terminated and not truncated
        counts[state, action, next_state] += 1
        state = next_state
    totals = counts.sum(-1, keepdims=True)
    frequency = counts / totals
    standard_error = np.sqrt(mdp.transition * (1 - mdp.transition) / totals)
    assert np.all(np.abs(frequency - mdp.transition) < 5 * standard_error + 1e-12)


def _steps_until_truncated(env: gymnasium.Env, limit: int = 1_000) -> int:
    env.reset(seed=0)
    for step in range(1, limit + 1):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        if truncated:
            return step
    return limit + 1


@pytest.mark.parametrize("env_id", ["seqrl/RandomMDP-v0", "seqrl/Gridworld-v0"])
def test_gymnasium_time_limit_truncates_and_the_raw_env_does_not(env_id):
    assert _steps_until_truncated(gymnasium.make(env_id)) == 100  # the registered limit
    assert _steps_until_truncated(gymnasium.make(env_id, max_episode_steps=7)) == 7
    assert _steps_until_truncated(gymnasium.make(env_id).unwrapped) == 1_001  # never


def test_seeding_is_reproducible():
    first, second = (gymnasium.make("seqrl/RandomMDP-v0", max_episode_steps=5) for _ in range(2))
    observations = []
    for env in (first, second):
        state, _ = env.reset(seed=3)
        trace = [int(state)]
        for step in range(5):
            state, _, _, _, _ = env.step(step % 4)
            trace.append(int(state))
        observations.append(trace)
    assert observations[0] == observations[1]


def test_gridworld_dynamics_and_goal_reward():
    mdp = gridworld_mdp(width=3, height=2, slip_probability=0.2, goal_reward=1.0)
    # From the top-left cell (0), "right" reaches cell 1 with 0.8 + 0.2 / 4; walls keep it in 0.
    assert mdp.transition[0, 1, 1] == pytest.approx(0.85)
    assert mdp.transition[0, 0, 0] == pytest.approx(0.8 + 0.2 * 2 / 4)  # up and left bounce
    assert mdp.reward[4, 1, 5] == 1.0 and mdp.reward[4, 1, 4] == 0.0
    assert mdp.initial_distribution[5] == 0.0


def test_env_rollouts_agree_with_the_exact_occupancy():
    # Host agreement: demonstrations collected through the Gymnasium env against the kernel.
    from seqrl.agents.irl_mce import demonstration_occupancy
    from seqrl.mechanisms.irl_behaviour import BehaviouralModel, behaviour_policy
    from seqrl.mechanisms.irl_mdp import discounted_occupancy

    n_episodes, horizon = 600, 30
    env = gymnasium.make(
        "seqrl/Gridworld-v0",
        width=3,
        height=2,
        slip_probability=0.2,
        discount=0.7,
        max_episode_steps=horizon,
    )
    model = env.unwrapped
    policy = behaviour_policy(BehaviouralModel("mce", 0.5, 0.7), model.transition, model.reward)
    rng = np.random.default_rng(0)
    states = np.zeros((n_episodes, horizon), dtype=np.int64)
    actions = np.zeros((n_episodes, horizon), dtype=np.int64)
    for episode in range(n_episodes):
        state, _ = env.reset(seed=episode)
        for step in range(horizon):
            action = int(rng.choice(4, p=policy[state]))
            states[episode, step], actions[episode, step] = state, action
            state, _, _, truncated, _ = env.step(action)
            assert truncated == (step == horizon - 1)
    exact = discounted_occupancy(model.transition, model.initial_distribution, 0.7, policy)
    per_episode = np.stack(
        [
            demonstration_occupancy(states[i : i + 1], actions[i : i + 1], 6, 4, 0.7)
            for i in range(n_episodes)
        ]
    )
    standard_error = per_episode.std(axis=0) / np.sqrt(n_episodes)
    estimate = per_episode.mean(axis=0)
    assert np.all(np.abs(estimate - exact) < 5 * standard_error + 1e-4)  # 0.7^30 truncation < 1e-4
