"""System 3 hosts: FetchDeliver, Meta-World imitation env, expert demos and their validation."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import TimeLimit

import seqrl.envs  # noqa: F401  (registers the ids)
from seqrl.agents.ads_expert_demos import (
    ExpertDemos,
    collect_demos,
    load_demos,
    save_demos,
    validate_demos,
)
from seqrl.envs.ads_fetch_deliver import (
    FetchDeliverEnv,
    FetchDeliverVectorEnv,
    fetch_deliver_expert,
    with_time_limit,
)


def _episode_length(env: gymnasium.Env) -> int:
    """Steps of one episode with random actions; fails if the env terminates."""
    env.reset(seed=0)
    for steps in range(1, 1_000):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        if truncated:
            return steps
    raise AssertionError("no truncation within 1000 steps")


def test_fetch_deliver_passes_check_env_and_is_registered() -> None:
    env = gymnasium.make("seqrl/FetchDeliver-v0")
    check_env(env.unwrapped, skip_render_check=True)
    assert isinstance(env.unwrapped, FetchDeliverEnv)
    # The registered TimeLimit, not the env, truncates: at the default horizon of 24 steps.
    assert isinstance(env, TimeLimit) and env.spec.max_episode_steps == 24
    assert _episode_length(env) == env.unwrapped.horizon == 24


def test_fetch_deliver_time_limit_matches_the_horizon() -> None:
    # Another horizon: wrapped at its own horizon by the one helper.
    env = with_time_limit(FetchDeliverEnv(horizon=30))
    assert isinstance(env, TimeLimit) and _episode_length(env) == 30
    # gymnasium.make cannot pass its max_episode_steps to the env: a horizon other than the
    # registered one would be cut at 24 steps, so it is refused.
    with pytest.raises(ValueError, match="horizon=30 disagrees with max_episode_steps=24"):
        gymnasium.make("seqrl/FetchDeliver-v0", horizon=30)
    # The bare env never truncates; a TimeLimit longer than the horizon (or none) is caught at
    # the first step past it.
    env = gymnasium.make("seqrl/FetchDeliver-v0", max_episode_steps=30)
    env.reset(seed=0)
    for _ in range(24):
        assert not env.step(env.action_space.sample())[3]
    with pytest.raises(RuntimeError, match="stepped past its horizon of 24 steps"):
        env.step(env.action_space.sample())


@pytest.mark.parametrize("observe_object", [False, True])
def test_fetch_deliver_fixed_horizon_and_progress_dependency(observe_object: bool) -> None:
    env = with_time_limit(FetchDeliverEnv(horizon=30, observe_object=observe_object))
    observation, info = env.reset(seed=0)
    assert observation.shape == ((5,) if observe_object else (3,))
    assert not info["success"]
    # Driving straight to the goal without the object never succeeds.
    for step in range(30):
        direction = np.clip((FetchDeliverEnv.goal - observation[:2]) / 0.1, -1, 1)
        observation, reward, terminated, truncated, info = env.step(direction)
        assert not terminated
        assert truncated == (step == 29)
        assert not info["success"] and reward == 0.0
    # The scripted expert (reading the full state) fetches first, then delivers; success is
    # absorbing, the object rests on the goal and the imitator's view drops the holding flag.
    observation, info = env.reset(seed=0)
    carried_at, success_at = None, None
    for step in range(30):
        action = fetch_deliver_expert(info["full_observation"])
        observation, reward, _, _, info = env.step(action)
        if info["carried"] and carried_at is None:
            carried_at = step
        if info["success"] and success_at is None:
            success_at = step
        if success_at is not None:
            assert info["success"] and reward == 1.0 and observation[-1] == 0.0
            np.testing.assert_allclose(
                info["full_observation"][2:4], FetchDeliverEnv.goal, atol=1e-6
            )
    assert carried_at is not None and success_at is not None and carried_at < success_at


def test_fetch_deliver_seeding_is_reproducible() -> None:
    first, _ = FetchDeliverEnv().reset(seed=7)
    second, _ = FetchDeliverEnv().reset(seed=7)
    np.testing.assert_array_equal(first, second)


def test_fetch_deliver_object_start() -> None:
    # Default: the object waits at its fixed spot; observe_object: it starts anywhere in its box.
    starts = [FetchDeliverEnv().reset(seed=s)[1]["full_observation"][2:4] for s in range(20)]
    np.testing.assert_array_equal(np.unique(starts, axis=0), [FetchDeliverEnv.object_spot])
    env = FetchDeliverEnv(observe_object=True)
    starts = np.array([env.reset(seed=s)[0][2:4] for s in range(200)])
    assert np.all((starts >= [0.3, -0.7]) & (starts <= [0.7, -0.3]))
    assert len(np.unique(starts, axis=0)) == 200


@pytest.mark.parametrize("observe_object", [False, True])
def test_the_array_env_steps_as_the_wrapped_envs_do(observe_object: bool) -> None:
    """FetchDeliverVectorEnv against SyncVectorEnv of time-limited FetchDeliverEnvs: the same
    observations, rewards, ends and infos over three episodes of expert-like and random actions,
    through explicit resets (seeded, then continuing the generators) and the next-step
    autoreset."""
    horizon, count = 10, 6
    arrays = FetchDeliverVectorEnv(count, horizon=horizon, observe_object=observe_object)
    wrapped = gymnasium.vector.SyncVectorEnv(
        [lambda: with_time_limit(FetchDeliverEnv(horizon=horizon, observe_object=observe_object))]
        * count
    )
    assert arrays.get_attr("horizon") == wrapped.get_attr("horizon")
    assert arrays.single_observation_space == wrapped.single_observation_space
    rng = np.random.default_rng(3)
    delivered = 0
    for seed in (list(range(100, 100 + count)), None, "autoreset"):
        if seed == "autoreset":  # the step after truncation resets every env
            first, reward, terminated, truncated, info = arrays.step(np.zeros((count, 2)))
            np.testing.assert_array_equal(first, wrapped.step(np.zeros((count, 2)))[0])
            assert not reward.any() and not terminated.any() and not truncated.any()
        else:
            observations, info = arrays.reset(seed=seed)
            expected_observations, expected_info = wrapped.reset(seed=seed)
            np.testing.assert_array_equal(observations, expected_observations)
            np.testing.assert_array_equal(
                info["full_observation"], expected_info["full_observation"]
            )
        for _ in range(horizon):
            expert = np.stack([fetch_deliver_expert(row) for row in info["full_observation"]])
            noise = rng.uniform(-1.5, 1.5, (count, 2))
            actions = np.where(rng.random((count, 1)) < 0.7, expert, noise)
            got, want = arrays.step(actions), wrapped.step(actions)
            for value, expected in zip(got[:4], want[:4], strict=True):
                np.testing.assert_array_equal(value, expected)
            for name in ("success", "carried", "full_observation"):
                np.testing.assert_array_equal(got[4][name], want[4][name])
            info = got[4]
        assert got[3].all()  # truncated at the horizon
        delivered += int(got[4]["success"].sum())
    assert 0 < delivered < 3 * count  # both outcomes were exercised


def test_collect_save_load_demos(tmp_path) -> None:
    env = with_time_limit(FetchDeliverEnv(horizon=30, observe_object=True))
    demos = collect_demos(
        env, fetch_deliver_expert, 30, 4, np.random.default_rng(0), metadata={"task": "toy"}
    )
    assert demos.observations.shape == (4, 30, 5)
    assert demos.metadata["task"] == "toy" and demos.metadata["horizon"] == 30
    path = save_demos(tmp_path / "demos.npz", demos)
    loaded = load_demos(path, horizon=30, observation_dim=5)
    np.testing.assert_array_equal(loaded.observations, demos.observations)
    assert loaded.metadata["reset_seeds"] == demos.metadata["reset_seeds"]
    # Only successful episodes of the full horizon are kept: the last frame is delivered.
    np.testing.assert_allclose(
        loaded.observations[:, -1, 2:4], np.broadcast_to(FetchDeliverEnv.goal, (4, 2)), atol=1e-6
    )


def test_collect_demos_fails_when_expert_cannot_succeed() -> None:
    with pytest.raises(RuntimeError, match="expert succeeded on 0 of 6 episodes; needed 2"):
        collect_demos(
            with_time_limit(FetchDeliverEnv(horizon=3)),
            fetch_deliver_expert,
            3,
            2,
            np.random.default_rng(0),
            max_episodes=6,
        )


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((3, 29, 5), "demo length must equal the horizon 30, got 29"),
        ((1, 30, 5), "n_demos must be >= 2, got 1"),
        ((3, 30, 4), "demo observation dim must match the env's 5, got 4"),
        ((30, 5), "demos must have shape"),
    ],
)
def test_demo_validation_errors(tmp_path, shape: tuple[int, ...], message: str) -> None:
    path = save_demos(tmp_path / "bad.npz", ExpertDemos(np.zeros(shape, dtype=np.float32)))
    with pytest.raises(ValueError, match=message):
        load_demos(path, horizon=30, observation_dim=5)


def test_demo_validation_missing_file_and_nan(tmp_path) -> None:
    with pytest.raises(ValueError, match="demos file must exist"):
        load_demos(tmp_path / "missing.npz", 30, 5)
    observations = np.zeros((2, 30, 5))
    observations[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        validate_demos(observations, 30, 5)


def test_metaworld_env_masks_goal_and_passes_check_env() -> None:
    from seqrl.envs.ads_metaworld import MetaWorldImitationEnv, agent_horizon, scripted_expert

    made = gymnasium.make("seqrl/MetaWorldImitation-v0", task="hammer-v3")
    env = made.unwrapped
    check_env(env, skip_render_check=True)
    assert env.horizon == agent_horizon(125, 2) == 63
    # No registered length: the entry point's TimeLimit cuts at the task's own horizon.
    assert made.spec.max_episode_steps == 63
    assert env.observation_space.shape == (36,)
    observation, info = made.reset(seed=0)
    full = info["full_observation"]
    assert full.shape == (39,)
    np.testing.assert_allclose(observation, full[:36], atol=1e-6)
    # The scripted expert, given the full observation, solves hammer within the horizon.
    expert = scripted_expert("hammer-v3")
    success_steps = 0
    for step in range(env.horizon):
        observation, _, terminated, truncated, info = made.step(expert(info["full_observation"]))
        success_steps += info["success"]
        assert not terminated and truncated == (step == env.horizon - 1)
    assert success_steps > 3
    with pytest.raises(ValueError, match="reset"):  # Meta-World's own guard past the horizon
        env.step(env.action_space.sample())
    # Positions are redrawn at each reset and reproducible from the seed.
    first = MetaWorldImitationEnv("hammer-v3").reset(seed=3)[0]
    again = MetaWorldImitationEnv("hammer-v3").reset(seed=3)[0]
    other = MetaWorldImitationEnv("hammer-v3").reset(seed=4)[0]
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_metaworld_unknown_task() -> None:
    from seqrl.envs.ads_metaworld import MetaWorldImitationEnv

    with pytest.raises(ValueError, match="task must be a Meta-World v3 task .* got 'juggle-v3'"):
        MetaWorldImitationEnv("juggle-v3")
