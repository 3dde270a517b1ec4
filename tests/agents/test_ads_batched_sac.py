"""System 3's batched SAC: the tanh-Gaussian density, member independence under vmap, per-member
discounts, learning a bandit, and the batched imitation loop against the SB3 pieces it reuses."""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.vector import SyncVectorEnv
from scipy import stats

from seqrl.agents.ads_batched_sac import (
    BatchedImitationAgent,
    BatchedSAC,
    MemberPolicy,
    Replay,
    SACSettings,
    batched_settings,
    sample_action,
)
from seqrl.agents.ads_expert_demos import collect_demos
from seqrl.agents.ads_imitation import DiscountSchedule, LearnerConfig, OTRewarder
from seqrl.envs.ads_fetch_deliver import FetchDeliverEnv, fetch_deliver_expert, with_time_limit
from seqrl.mechanisms.ads_discount_scheduling import ProgressParams
from seqrl.mechanisms.ads_ot_reward import best_demo_rewards

HORIZON = 12


def tree_slice(tree, index):
    return jax.tree_util.tree_map(lambda leaf: leaf[index], tree)


def test_log_density_is_the_change_of_variables_of_the_gaussian():
    sac = BatchedSAC(1, 3, 2, SACSettings(net_arch=(8,)), seed=0)
    actor = tree_slice(sac.state.actor, 0)
    observations = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    key = jax.random.PRNGKey(1)
    actions, log_prob = sample_action(actor, observations, key)
    # the same draw by hand: u = mu + sigma * eps, a = tanh(u)
    out = np.asarray(observations, np.float64)
    for weights, bias in actor[:-1]:
        out = np.maximum(out @ np.asarray(weights) + np.asarray(bias), 0)
    out = out @ np.asarray(actor[-1][0]) + np.asarray(actor[-1][1])
    mean, log_std = out[:, :2], np.clip(out[:, 2:], -20, 2)
    noise = np.asarray(jax.random.normal(key, mean.shape), np.float64)
    u = mean + np.exp(log_std) * noise
    expected = np.sum(stats.norm.logpdf(u, mean, np.exp(log_std)) - np.log1p(-np.tanh(u) ** 2),
                      axis=-1)  # fmt: skip
    np.testing.assert_allclose(np.asarray(actions), np.tanh(u), atol=1e-6)
    np.testing.assert_allclose(np.asarray(log_prob), expected, rtol=1e-4, atol=1e-4)


def filled(sac: BatchedSAC, rng: np.random.Generator, count: int = 64) -> BatchedSAC:
    k, d, a = sac.n_members, sac.obs_dim, sac.action_dim
    sac.add(Replay(rng.normal(size=(k, count, d)), rng.uniform(-1, 1, (k, count, a)),
                   rng.normal(size=(k, count)), rng.normal(size=(k, count, d)),
                   np.zeros((k, count))))  # fmt: skip
    return sac


def test_members_are_independent_under_vmap():
    """Member k's batched update equals its lone update; other members' data cannot move it."""
    sac = filled(BatchedSAC(3, 4, 2, SACSettings(net_arch=(16, 16), batch_size=32), seed=3),
                 np.random.default_rng(0))  # fmt: skip
    gammas = jnp.array([0.9, 0.5, 0.99])
    keys = jax.random.split(jax.random.PRNGKey(7), 3)
    batched = jax.vmap(sac._update_member, in_axes=(0, 0, None, 0, 0))
    new_state, _ = batched(sac.state, sac.replay, sac.size, gammas, keys)
    lone, _ = sac._update_member(tree_slice(sac.state, 1), tree_slice(sac.replay, 1), sac.size,
                                 gammas[1], keys[1])  # fmt: skip
    for got, want in zip(jax.tree_util.tree_leaves(tree_slice(new_state, 1)),
                         jax.tree_util.tree_leaves(lone), strict=True):  # fmt: skip
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=1e-6)
    # scramble member 0's buffer: member 1 does not change
    other = sac.replay._replace(rewards=sac.replay.rewards.at[0].set(1e3))
    moved, _ = batched(sac.state, other, sac.size, gammas, keys)
    for got, want in zip(jax.tree_util.tree_leaves(tree_slice(moved, 1)),
                         jax.tree_util.tree_leaves(tree_slice(new_state, 1)), strict=True):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert not np.allclose(
        np.asarray(moved.critics[0][0][0]), np.asarray(new_state.critics[0][0][0])
    )


def test_acting_runs_the_current_actors_in_numpy():
    """predict is tanh of each member's JAX actor mean, after every update too (the numpy copy
    is refreshed); act's pre-tanh draws are N(mu, sigma) per member and action dimension."""
    from seqrl.agents.ads_batched_sac import _gaussian

    rng = np.random.default_rng(4)
    sac = filled(BatchedSAC(3, 4, 2, SACSettings(net_arch=(16, 16), batch_size=32), seed=5), rng)
    observations = rng.normal(size=(3, 4)).astype(np.float32)

    def jax_policy(member):
        mean, log_std = _gaussian(tree_slice(sac.state.actor, member), observations[member])
        return np.asarray(mean, np.float64), np.exp(np.asarray(log_std, np.float64))

    for _ in range(2):
        predicted = sac.predict(observations)
        for member in range(3):
            np.testing.assert_allclose(predicted[member], np.tanh(jax_policy(member)[0]),
                                       rtol=1e-5, atol=1e-6)  # fmt: skip
        sac.train(3, np.full(3, 0.9))
    draws = np.arctanh(np.stack([sac.act(observations) for _ in range(3000)]).astype(np.float64))
    assert draws.shape == (3000, 3, 2)
    for member in range(3):
        mean, std = jax_policy(member)
        for dim in range(2):
            standardised = (draws[:, member, dim] - mean[dim]) / std[dim]
            assert stats.kstest(standardised, "norm").pvalue > 1e-3


def test_each_member_learns_the_value_of_its_own_discount():
    """One state, reward 1 forever, no termination: Q -> (1 - alpha E[log pi]) / (1 - gamma_k)."""
    settings = SACSettings(net_arch=(32, 32), batch_size=64, learning_rate=3e-3, tau=0.1,
                           ent_coef_init=1e-4, buffer_size=256)  # fmt: skip
    sac = BatchedSAC(3, 1, 1, settings, seed=0)
    count = 256
    rng = np.random.default_rng(1)
    sac.add(Replay(np.zeros((3, count, 1)), rng.uniform(-1, 1, (3, count, 1)), np.ones((3, count)),
                   np.zeros((3, count, 1)), np.zeros((3, count))))  # fmt: skip
    gammas = np.array([0.0, 0.5, 0.8])
    for _ in range(6):
        sac.train(500, gammas)
    q = np.array([float(jnp.min(_q(sac, k))) for k in range(3)])
    np.testing.assert_allclose(q, 1.0 / (1.0 - gammas), rtol=0.05)


def _q(sac: BatchedSAC, member: int):
    from seqrl.agents.ads_batched_sac import _twin_q

    critics = tree_slice(sac.state.critics, member)
    return _twin_q(critics, jnp.zeros((1, 1)), jnp.zeros((1, 1)))


def test_every_member_learns_a_bandit(tmp_path):
    """r(a) = -(a - 0.5)^2, one step: the deterministic action of every member goes to 0.5."""
    settings = SACSettings(net_arch=(32, 32), batch_size=64, learning_rate=3e-3,
                           ent_coef_init=0.01, buffer_size=512)  # fmt: skip
    sac = BatchedSAC(4, 1, 1, settings, seed=2)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (4, 512, 1))
    sac.add(Replay(np.ones((4, 512, 1)), actions, -((actions[..., 0] - 0.5) ** 2),
                   np.ones((4, 512, 1)), np.ones((4, 512))))  # fmt: skip
    for _ in range(4):
        sac.train(500, np.zeros(4))
    best = sac.predict(np.ones((4, 1, 1)))[:, 0, 0]
    np.testing.assert_allclose(best, 0.5, atol=0.1)
    # the numpy member policies take the same actions, mapped to the env's range
    path = tmp_path / "policy.npz"
    sac.save_actors(path)
    space = gymnasium.spaces.Box(-2.0, 2.0, (1,))
    for member, policy in enumerate(MemberPolicy.load_members(path, space)):
        action, _ = policy.predict(np.ones((1, 1)))
        np.testing.assert_allclose(action[0, 0], 2.0 * best[member], atol=1e-5)


def test_buffer_is_a_ring_per_member():
    sac = BatchedSAC(2, 1, 1, SACSettings(net_arch=(4,), buffer_size=5), seed=0)
    for start in (0, 3):
        values = np.arange(start, start + 3, dtype=float)[None, :].repeat(2, 0)
        sac.add(Replay(values[..., None], values[..., None], values, values[..., None],
                       np.zeros((2, 3))))  # fmt: skip
    assert sac.size == 5
    np.testing.assert_array_equal(np.asarray(sac.replay.rewards[1]), [5, 1, 2, 3, 4])


def test_settings_come_from_the_learner_config():
    settings = batched_settings(LearnerConfig(algorithm="SAC-batched", ent_coef="auto_0.05",
                                              net_arch=(64, 64), learning_rate=1e-3))  # fmt: skip
    assert settings.ent_coef_init == 0.05 and settings.net_arch == (64, 64)
    assert batched_settings(LearnerConfig(ent_coef="auto")).ent_coef_init == 1.0
    with pytest.raises(ValueError, match="learns its entropy coefficient"):
        batched_settings(LearnerConfig(ent_coef=0.1))
    with pytest.raises(ValueError, match="n-step"):
        batched_settings(LearnerConfig(n_steps=3))


def make_env():
    return with_time_limit(FetchDeliverEnv(horizon=HORIZON))


@pytest.fixture(scope="module")
def trained() -> BatchedImitationAgent:
    members = 3
    rewarders, schedules = [], []
    for member in range(members):
        demos = collect_demos(make_env(), fetch_deliver_expert, HORIZON, 3,
                              np.random.default_rng(member)).observations  # fmt: skip
        rewarders.append(OTRewarder(demos))
        schedules.append(DiscountSchedule(rewarders[-1], ProgressParams(horizon=HORIZON),
                                          schedule=("ads", "fixed", "linear")[member],
                                          fixed_gamma=0.9, linear_steps=240))  # fmt: skip
    config = LearnerConfig(algorithm="SAC-batched", net_arch=(16, 16), batch_size=32,
                           learning_starts=48)  # fmt: skip
    agent = BatchedImitationAgent(SyncVectorEnv([make_env] * members),
                                  SyncVectorEnv([make_env] * (members * 2)), rewarders, schedules,
                                  [11, 12, 13], config, eval_freq=120)  # fmt: skip
    episodes = []
    agent.learn(240, on_episode=lambda a: episodes.append(a.num_timesteps))
    agent.episodes = episodes
    return agent


def test_batched_loop_runs_whole_episodes_and_evaluates_on_schedule(trained):
    assert trained.episodes == list(range(HORIZON, 241, HORIZON))
    for schedule in trained.schedules:
        assert [row["step"] for row in schedule.history] == [120.0, 240.0]
    gammas = [schedule.history[-1]["gamma"] for schedule in trained.schedules]
    assert gammas[1] == 0.9
    assert gammas[0] == pytest.approx(0.2 ** (1 / trained.schedules[0].progress))
    assert gammas[2] == pytest.approx(0.2 ** (1 / HORIZON))  # the linear ramp at its end
    assert trained.sac.size == 240


def test_batched_relabelling_is_the_rewarders_own(trained):
    """One Sinkhorn batch over members gives each member what its rewarder gives alone."""
    rng = np.random.default_rng(5)
    trajectories = rng.uniform(-1, 1, (3, HORIZON, 3)).astype(np.float32)
    batched = trained.relabel(trajectories)
    for member, rewarder in enumerate(trained.rewarders):
        raw, _ = best_demo_rewards(rewarder.costs(trajectories[member]), rewarder.params)
        np.testing.assert_allclose(batched[member], rewarder.scale * raw, rtol=1e-10)
    assert len({rewarder.scale for rewarder in trained.rewarders}) == 3  # scaled per member


def test_the_batched_env_reward_control_stores_the_env_rewards():
    """reward="env": the members' buffers hold FetchDeliver's own 0 / 1 rewards, not OT's."""
    rewarders = [OTRewarder(collect_demos(make_env(), fetch_deliver_expert, HORIZON, 2,
                                          np.random.default_rng(k)).observations)
                 for k in range(2)]  # fmt: skip
    schedules = [
        DiscountSchedule(rewarder, ProgressParams(horizon=HORIZON)) for rewarder in rewarders
    ]
    config = LearnerConfig(net_arch=(8,), batch_size=8, learning_starts=0, reward="env")
    agent = BatchedImitationAgent(SyncVectorEnv([make_env] * 2), SyncVectorEnv([make_env] * 2),
                                  rewarders, schedules, [1, 2], config, eval_freq=48)  # fmt: skip
    agent.learn(2 * HORIZON)
    stored = np.asarray(agent.sac.replay.rewards)[:, : agent.sac.size]
    assert agent.sac.size == 2 * HORIZON and np.isin(stored, [0.0, 1.0]).all()
    assert all(rewarder.scale is None for rewarder in rewarders)  # no relabelling happened


def test_batched_agent_refuses_mismatched_members():
    demos = collect_demos(make_env(), fetch_deliver_expert, HORIZON, 2,
                          np.random.default_rng(0)).observations  # fmt: skip
    rewarder = OTRewarder(demos)
    schedule = DiscountSchedule(rewarder, ProgressParams(horizon=HORIZON))
    with pytest.raises(ValueError, match="one rewarder, schedule and seed per env"):
        BatchedImitationAgent(SyncVectorEnv([make_env] * 2), SyncVectorEnv([make_env] * 2),
                              [rewarder], [schedule], [0])  # fmt: skip
    with pytest.raises(ValueError, match="same number of envs per member"):
        BatchedImitationAgent(SyncVectorEnv([make_env] * 2), SyncVectorEnv([make_env] * 3),
                              [rewarder] * 2, [schedule] * 2, [0, 1])  # fmt: skip
