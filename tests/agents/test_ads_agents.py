"""System 3 agents: OT relabelling in the SB3 replay buffer and the ADS discount callback."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.wrappers import TimeLimit
from stable_baselines3.common.vec_env import DummyVecEnv

from seqrl.agents.ads_expert_demos import collect_demos
from seqrl.agents.ads_ilfo_agent import (
    DiscountScheduleCallback,
    ImitationFromObservationAgent,
    evaluate_with_observations,
    set_discount,
)
from seqrl.agents.ads_imitation import (
    DiscountSchedule,
    LearnerConfig,
    OTRewarder,
)
from seqrl.envs.ads_fetch_deliver import FetchDeliverEnv, fetch_deliver_expert, with_time_limit
from seqrl.mechanisms.ads_discount_scheduling import DiscountParams, ProgressParams
from seqrl.mechanisms.ads_ot_reward import best_demo_rewards

torch.set_num_threads(1)
HORIZON = 30


def make_env(**kwargs) -> TimeLimit:
    """A FetchDeliver env of HORIZON steps, truncated by its TimeLimit."""
    return with_time_limit(FetchDeliverEnv(horizon=HORIZON, **kwargs))


@pytest.fixture(scope="module")
def demos() -> np.ndarray:
    return collect_demos(
        make_env(), fetch_deliver_expert, HORIZON, 3, np.random.default_rng(0)
    ).observations


def small_config(algorithm: str = "SAC", n_steps: int = 1) -> LearnerConfig:
    return LearnerConfig(
        algorithm=algorithm,
        net_arch=(16,),
        batch_size=16,
        learning_starts=0,
        n_steps=n_steps,
        device="cpu",
    )


def test_relabelled_rewards_replace_env_rewards(demos: np.ndarray) -> None:
    agent = ImitationFromObservationAgent(make_env(), demos, small_config(), seed=0)
    agent.learn(2 * HORIZON)
    buffer = agent.model.replay_buffer
    assert buffer.pos == 2 * HORIZON
    rewarder = agent.rewarder
    for episode in range(2):
        rows = slice(episode * HORIZON, (episode + 1) * HORIZON)
        raw, _ = best_demo_rewards(
            rewarder.costs(buffer.next_observations[rows, 0]), rewarder.params
        )
        np.testing.assert_allclose(buffer.rewards[rows, 0], rewarder.scale * raw, rtol=1e-5)
    # The scale is fixed by the first episode so that its rewards sum to -scale_target.
    assert buffer.rewards[:HORIZON, 0].sum() == pytest.approx(
        -rewarder.params.scale_target, rel=1e-5
    )
    assert agent.relabel_callback.episode_returns[0] == pytest.approx(-10.0, rel=1e-5)


def test_ads_callback_writes_every_gamma_copy(demos: np.ndarray) -> None:
    env = make_env()
    agent = ImitationFromObservationAgent(env, demos, small_config(n_steps=3), gamma=0.99, seed=1)
    model = agent.model
    assert type(model.replay_buffer).__name__ == "NStepReplayBuffer"
    discount = DiscountParams(alpha=0.5)
    schedule = DiscountSchedule(agent.rewarder, ProgressParams(horizon=HORIZON), discount, "ads")
    callback = DiscountScheduleCallback(
        DummyVecEnv([make_env]), schedule, eval_freq=HORIZON, n_eval_episodes=2
    )
    agent.learn(2 * HORIZON, [callback])
    expected = 0.5 ** (1 / schedule.progress)
    assert model.gamma == pytest.approx(expected)
    assert model.replay_buffer.gamma == pytest.approx(expected)
    assert model.replay_buffer_kwargs["gamma"] == pytest.approx(expected)
    assert [row["step"] for row in schedule.history] == [HORIZON, 2 * HORIZON]
    assert schedule.progress >= ProgressParams(horizon=HORIZON).initial_progress


@pytest.mark.parametrize(
    ("schedule", "expected_first", "expected_last"), [("fixed", 0.95, 0.95), ("linear", None, None)]
)
def test_fixed_and_linear_schedules(
    demos: np.ndarray, schedule: str, expected_first, expected_last
) -> None:
    agent = ImitationFromObservationAgent(make_env(), demos, small_config(), seed=2)
    discount = DiscountParams(alpha=0.2)
    discount_schedule = DiscountSchedule(agent.rewarder, ProgressParams(horizon=HORIZON), discount,
                                         schedule, fixed_gamma=0.95, linear_steps=2 * HORIZON)  # fmt: skip
    callback = DiscountScheduleCallback(
        DummyVecEnv([make_env]), discount_schedule, eval_freq=HORIZON, n_eval_episodes=1
    )
    agent.learn(2 * HORIZON, [callback])
    gammas = [row["gamma"] for row in discount_schedule.history]
    if schedule == "fixed":
        assert gammas == [expected_first, expected_last]
    else:
        start, end = 0.2 ** (1 / 6), 0.2 ** (1 / HORIZON)  # p0 = floor(0.2 * 30) = 6
        np.testing.assert_allclose(gammas, [(start + end) / 2, end])


def test_the_env_reward_control_keeps_the_env_rewards(demos: np.ndarray) -> None:
    """reward="env": no relabelling; the buffer holds FetchDeliver's own 0 / 1 rewards."""
    config = LearnerConfig(net_arch=(16,), batch_size=16, learning_starts=0, reward="env")
    agent = ImitationFromObservationAgent(make_env(), demos, config, seed=4)
    agent.learn(2 * HORIZON)
    assert np.isin(agent.model.replay_buffer.rewards[: 2 * HORIZON, 0], [0.0, 1.0]).all()
    assert agent.relabel_callback.episode_returns == []
    with pytest.raises(ValueError, match="reward must be one of ot, env, got 'true'"):
        LearnerConfig(reward="true")


@pytest.mark.parametrize("algorithm", ["TD3", "DDPG"])
def test_other_off_policy_algorithms(demos: np.ndarray, algorithm: str) -> None:
    agent = ImitationFromObservationAgent(make_env(), demos, small_config(algorithm), seed=3)
    agent.learn(HORIZON)
    assert type(agent.model).__name__ == algorithm
    assert agent.model.replay_buffer.rewards[:HORIZON, 0].sum() == pytest.approx(-10.0, rel=1e-5)


def vector_env(n_envs: int, seed: int) -> DummyVecEnv:
    env = DummyVecEnv([make_env] * n_envs)
    env.seed(seed)
    return env


def assert_every_column_relabelled(agent: ImitationFromObservationAgent, episodes: int) -> None:
    """Each env's stored episode carries the scaled best-of-N OT rewards of its own frames, and
    the very first one (env 0, episode 0) sums to -scale_target."""
    buffer, rewarder = agent.model.replay_buffer, agent.rewarder
    for env in range(buffer.n_envs):
        for episode in range(episodes):
            rows = slice(episode * HORIZON, (episode + 1) * HORIZON)
            raw, _ = best_demo_rewards(
                rewarder.costs(buffer.next_observations[rows, env]), rewarder.params
            )
            np.testing.assert_allclose(buffer.rewards[rows, env], rewarder.scale * raw, rtol=1e-5)
    assert buffer.rewards[:HORIZON, 0].sum() == pytest.approx(-10.0, rel=1e-5)


def test_several_envs_relabel_each_column_with_one_update_per_vector_step(
    demos: np.ndarray,
) -> None:
    n_envs = 3
    agent = ImitationFromObservationAgent(vector_env(n_envs, 6), demos, small_config(), seed=6)
    agent.learn(2 * HORIZON * n_envs)
    assert agent.model.replay_buffer.pos == 2 * HORIZON
    assert_every_column_relabelled(agent, episodes=2)
    # One gradient step per vector step: 1 / n_envs per environment step.
    assert agent.model._n_updates == 2 * HORIZON
    assert len(agent.relabel_callback.episode_returns) == 2 * n_envs


def test_envs_of_different_horizons_are_refused(demos: np.ndarray) -> None:
    env = DummyVecEnv([make_env, lambda: with_time_limit(FetchDeliverEnv(horizon=HORIZON + 1))])
    with pytest.raises(ValueError, match="one common horizon"):
        ImitationFromObservationAgent(env, demos, small_config(), seed=0)


def test_evaluation_when_the_step_count_passes_each_multiple(demos: np.ndarray) -> None:
    # 3 envs: the count moves 3, 6, ...; multiples of 50 are passed at 51, 102 and 150.
    agent = ImitationFromObservationAgent(vector_env(3, 7), demos, small_config(), seed=7)
    schedule = DiscountSchedule(agent.rewarder, ProgressParams(horizon=HORIZON))
    callback = DiscountScheduleCallback(
        DummyVecEnv([make_env]), schedule, eval_freq=50, n_eval_episodes=1
    )
    agent.learn(2 * HORIZON * 3, [callback])
    assert [row["step"] for row in schedule.history] == [51, 102, 150, 180]


@pytest.mark.parametrize("algorithm", ["SBX-SAC", "SBX-CrossQ"])
def test_sbx_learners_relabel_and_take_the_schedule(demos: np.ndarray, algorithm: str) -> None:
    pytest.importorskip("sbx")
    agent = ImitationFromObservationAgent(vector_env(2, 8), demos, small_config(algorithm), seed=8)
    schedule = DiscountSchedule(agent.rewarder, ProgressParams(horizon=HORIZON), schedule="fixed",
                                fixed_gamma=0.9)  # fmt: skip
    callback = DiscountScheduleCallback(
        DummyVecEnv([make_env]), schedule, eval_freq=HORIZON * 2, n_eval_episodes=1
    )
    agent.learn(2 * HORIZON * 2, [callback])
    assert type(agent.model).__module__.startswith("sbx.")
    assert_every_column_relabelled(agent, episodes=2)
    assert agent.model.gamma == 0.9 and agent.model._n_updates > 0


class ExpertModel:
    """Duck-typed SB3 model acting with the scripted expert, for evaluate_policy.

    It needs the object's position, so it runs on ``observe_object=True`` envs.
    """

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return np.stack([fetch_deliver_expert(o) for o in observation]), state


@pytest.mark.parametrize("n_envs", [1, 3])
def test_evaluation_records_observations_and_success(n_envs: int) -> None:
    env = DummyVecEnv([lambda: make_env(observe_object=True)] * n_envs)
    env.seed(5)
    successes, observations = evaluate_with_observations(ExpertModel(), env, 6)
    assert successes.tolist() == [True] * 6
    assert observations.shape == (6, HORIZON, 5)
    # Every recorded episode is a real expert episode: the object ends on the goal.
    np.testing.assert_allclose(
        observations[:, -1, 2:4], np.broadcast_to(FetchDeliverEnv.goal, (6, 2)), atol=1e-6
    )


def test_learner_config_validation() -> None:
    allowed = "SAC, TD3, DDPG, SBX-SAC, SBX-CrossQ, SAC-batched"
    with pytest.raises(ValueError, match=f"algorithm must be one of {allowed}, got 'PPO'"):
        LearnerConfig(algorithm="PPO")
    with pytest.raises(ValueError, match="gradient_steps must be >= 1 or -1, got 0"):
        LearnerConfig(gradient_steps=0)
    with pytest.raises(ValueError, match="n_steps must be >= 1, got 0"):
        LearnerConfig(n_steps=0)


def test_set_discount_needs_an_rl_algorithm() -> None:
    with pytest.raises(TypeError, match="model must be an SB3 RL algorithm, got object"):
        set_discount(object(), 0.9)


def test_fetch_deliver_ot_reward_pays_for_late_frames_without_the_prerequisite() -> None:
    """The progress dependency the toy is built to have (Liu et al., ICLR 2024).

    Under the OT reward against the ads-toy demos (T = 24), driving straight to the goal without
    the object earns more than fetching the object and holding it, and more than half of what
    separates standing still from the demos' own behaviour, although only fetching leads to
    success: a learner that weighs late rewards is drawn to the shortcut.
    """
    horizon = 24
    env = with_time_limit(FetchDeliverEnv(horizon=horizon))
    demo_frames = collect_demos(
        env, fetch_deliver_expert, horizon, 10, np.random.default_rng(0)
    ).observations
    rewarder = OTRewarder(demo_frames)

    def episode_return(policy) -> float:
        """Mean unscaled OT return of ``policy(state)`` (state = ``info["full_observation"]``)."""
        returns = []
        for seed in range(4):
            _, info = env.reset(seed=100 + seed)
            frames = []
            for _ in range(horizon):
                observation, _, _, _, info = env.step(policy(info["full_observation"]))
                frames.append(observation)
            raw, _ = best_demo_rewards(rewarder.costs(np.stack(frames)), rewarder.params)
            returns.append(raw.sum())
        return float(np.mean(returns))

    def head_for(target):
        return lambda state: np.clip((target - state[:2]) / env.unwrapped.speed, -1, 1)

    expert = episode_return(fetch_deliver_expert)
    shortcut = episode_return(head_for(FetchDeliverEnv.goal))
    fetch_and_hold = episode_return(head_for(FetchDeliverEnv.object_spot))
    stay = episode_return(lambda state: np.zeros(2))
    assert expert > shortcut > max(fetch_and_hold, stay)
    assert shortcut - stay > 0.5 * (expert - stay)
