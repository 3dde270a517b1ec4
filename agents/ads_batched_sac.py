"""Soft Actor-Critic for a batch of independent runs in one JAX program (System 3's fast path).

``K`` runs ("members") of SAC (Haarnoja et al. 2018, with stable-baselines3's defaults) train side
by side: each has its own networks, optimiser states, entropy coefficient, replay buffer and
discount. One jitted function updates all ``K`` with ``jax.vmap``, and ``lax.scan`` runs an
episode's gradient steps in one call. Members share nothing but the compiled program, so each is a
lone SAC run; batching removes the per-update Python and dispatch cost that dominates small
networks on a CPU, and fills a GPU.

Per member and gradient step, on a minibatch ``(s, a, r, s', d)`` from its own buffer (SB3's order
and losses; ``a~ ~ pi(.|s)``, ``a' ~ pi(.|s')`` tanh-Gaussian with reparameterisation)::

    entropy   J(log alpha) = -E[log alpha * (log pi(a~|s) + H)],   H = -dim(A)
    critic    y = r + gamma (1 - d) (min_i Q'_i(s', a') - alpha log pi(a'|s'))
              J(Q) = 1/2 sum_i E[(Q_i(s, a) - y)^2]
    actor     J(pi) = E[alpha log pi(a~|s) - min_i Q_i(s, a~)]     (critics after their step)
    targets   Q'_i <- tau Q_i + (1 - tau) Q'_i

with ``log pi(a|s) = log N(u; mu, sigma) - sum log(1 - tanh(u)^2)``, ``a = tanh(u)``,
``log sigma`` clipped to [-20, 2]. Networks are ReLU MLPs initialised like torch's ``Linear``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium
import numpy as np
from gymnasium import spaces

from seqrl.agents.ads_imitation import (
    BATCHED_ALGORITHM,
    DiscountSchedule,
    LearnerConfig,
    OTRewarder,
    passed_multiple,
)
from seqrl.mechanisms.ads_ot_reward import best_demo_rewards

# JAX and optax (the "ads" extra, through sbx-rl) are imported on first use, like torch elsewhere.

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "seqrl" / "jax"
"""JAX's persistent compilation cache, unless the user set one (``JAX_COMPILATION_CACHE_DIR``):
the batched update of a given shape compiles once per machine (~4 s), not once per task."""
Params = list[tuple[Any, Any]]
"""An MLP: one ``(weights, bias)`` pair per layer."""


@dataclass(frozen=True)
class SACSettings:
    """Hyperparameters shared by every member (SB3's SAC defaults).

    Attributes:
        learning_rate: Adam step size of actor, critics and entropy coefficient.
        buffer_size: Replay capacity of each member in transitions.
        batch_size: Minibatch size of each member.
        net_arch: Hidden layer sizes of actor and critics.
        ent_coef_init: Starting entropy coefficient (learned).
        tau: Polyak coefficient of the target critics.
    """

    learning_rate: float = 3e-4
    buffer_size: int = 100_000
    batch_size: int = 256
    net_arch: tuple[int, ...] = (256, 256)
    ent_coef_init: float = 1.0
    tau: float = 0.005

    def __post_init__(self) -> None:
        for name in ("buffer_size", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.learning_rate > 0 or not self.ent_coef_init > 0:
            raise ValueError(
                f"learning_rate and ent_coef_init must be > 0, got {self.learning_rate}, "
                f"{self.ent_coef_init}"
            )
        if not 0 < self.tau <= 1:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")


def enable_compilation_cache() -> None:
    """Point JAX's persistent compilation cache at :data:`CACHE_DIR` if no cache is configured."""
    import jax

    if jax.config.jax_compilation_cache_dir is None:
        jax.config.update("jax_compilation_cache_dir", str(CACHE_DIR))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _init_mlp(key: Any, sizes: list[int]) -> Params:
    """Uniform ``(-1/sqrt(fan_in), 1/sqrt(fan_in))`` weights and biases, as torch's ``Linear``."""
    import jax

    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        key, weight_key, bias_key = jax.random.split(key, 3)
        bound = 1.0 / np.sqrt(fan_in)
        layers.append(
            (
                jax.random.uniform(weight_key, (fan_in, fan_out), minval=-bound, maxval=bound),
                jax.random.uniform(bias_key, (fan_out,), minval=-bound, maxval=bound),
            )
        )
    return layers


def _mlp(params: Params, x: Any) -> Any:
    import jax

    for weights, bias in params[:-1]:
        x = jax.nn.relu(x @ weights + bias)
    weights, bias = params[-1]
    return x @ weights + bias


def _gaussian(actor: Params, observations: Any) -> tuple[Any, Any]:
    import jax.numpy as jnp

    mean, log_std = jnp.split(_mlp(actor, observations), 2, axis=-1)
    return mean, jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)


def sample_action(actor: Params, observations: Any, key: Any) -> tuple[Any, Any]:
    """Reparameterised tanh-Gaussian action in [-1, 1] and its log-density ``(..., )``."""
    import jax
    import jax.numpy as jnp

    mean, log_std = _gaussian(actor, observations)
    noise = jax.random.normal(key, mean.shape)
    pre_tanh = mean + jnp.exp(log_std) * noise
    gaussian = -0.5 * noise**2 - log_std - 0.5 * jnp.log(2 * jnp.pi)
    # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), stable for large |u|
    squash = 2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh))
    return jnp.tanh(pre_tanh), jnp.sum(gaussian - squash, axis=-1)


def numpy_gaussian(actor: list[tuple[np.ndarray, np.ndarray]], observations: np.ndarray) -> Any:
    """:func:`_gaussian` in numpy: ``(mu, log sigma)`` of the actor's tanh-Gaussian. Every layer
    may carry a leading member axis ``K``; ``observations`` are then ``(K, n, d)``."""
    x = np.asarray(observations, np.float32)
    for weights, bias in actor[:-1]:
        x = np.maximum(x @ weights + bias[..., None, :], 0.0)
    weights, bias = actor[-1]
    mean, log_std = np.split(x @ weights + bias[..., None, :], 2, axis=-1)
    return mean, np.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)


def _twin_q(critics: Params, observations: Any, actions: Any) -> Any:
    """``(2, ...)`` values of the two critics (their parameters stacked on a leading axis)."""
    import jax
    import jax.numpy as jnp

    inputs = jnp.concatenate([observations, actions], axis=-1)
    return jax.vmap(lambda params: _mlp(params, inputs)[..., 0])(critics)


class MemberState(NamedTuple):
    """Everything one member learns (a leading ``K`` axis on every leaf when batched)."""

    actor: Params
    critics: Params
    target_critics: Params
    log_alpha: Any
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any


class Replay(NamedTuple):
    """Replay buffers of all members: ``(K, capacity, ...)`` arrays."""

    observations: Any
    actions: Any
    rewards: Any
    next_observations: Any
    dones: Any


class BatchedSAC:
    """``K`` independent SAC learners updated together (see the module docstring)."""

    def __init__(
        self, n_members: int, obs_dim: int, action_dim: int, settings: SACSettings, seed: int
    ) -> None:
        """Initialise every member's networks (member ``k`` from ``PRNGKey(seed)`` split ``K``
        ways), optimisers and empty buffers.

        Args:
            n_members: K >= 1.
            obs_dim: Observation size.
            action_dim: Action size (actions live in [-1, 1]).
            settings: Hyperparameters.
            seed: Seed of the initial parameters, the updates' draws (JAX) and the acting noise
                (numpy).
        """
        import jax
        import jax.numpy as jnp
        import optax

        if n_members < 1:
            raise ValueError(f"n_members must be >= 1, got {n_members}")
        enable_compilation_cache()
        self.n_members, self.obs_dim, self.action_dim = n_members, obs_dim, action_dim
        self.settings = settings
        self.optimizer = optax.adam(settings.learning_rate)
        self.target_entropy = -float(action_dim)
        hidden = list(settings.net_arch)
        actor_sizes = [obs_dim, *hidden, 2 * action_dim]
        critic_sizes = [obs_dim + action_dim, *hidden, 1]

        def init_member(key: Any) -> MemberState:
            actor_key, critic_key = jax.random.split(key)
            actor = _init_mlp(actor_key, actor_sizes)
            critics = jax.vmap(lambda k: _init_mlp(k, critic_sizes))(
                jax.random.split(critic_key, 2)
            )
            log_alpha = jnp.log(jnp.float32(settings.ent_coef_init))
            return MemberState(
                actor, critics, critics, log_alpha, self.optimizer.init(actor),
                self.optimizer.init(critics), self.optimizer.init(log_alpha),
            )  # fmt: skip

        key, self._key = jax.random.split(jax.random.PRNGKey(seed))
        self.state: MemberState = jax.jit(jax.vmap(init_member))(jax.random.split(key, n_members))
        capacity = settings.buffer_size
        zeros = partial(jnp.zeros, dtype=jnp.float32)
        self.replay = Replay(
            zeros((n_members, capacity, obs_dim)), zeros((n_members, capacity, action_dim)),
            zeros((n_members, capacity)), zeros((n_members, capacity, obs_dim)),
            zeros((n_members, capacity)),
        )  # fmt: skip
        self.size = 0
        self._position = 0
        self._noise = np.random.default_rng(seed)
        self._actors: list[tuple[np.ndarray, np.ndarray]] | None = None
        self._insert = jax.jit(_insert, donate_argnums=0)
        self._train = jax.jit(self._train_steps, static_argnums=4, donate_argnums=0)

    def _policy(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every member's ``(mu, log sigma)`` ``(K, n, A)`` for observations ``(K, ..., d)``, in
        numpy: acting happens once per env step, where a JAX dispatch would cost more than the
        arithmetic of these small networks. The actors are copied out once per update."""
        if self._actors is None:
            self._actors = [(np.asarray(w), np.asarray(b)) for w, b in self.state.actor]
        grouped = np.reshape(observations, (self.n_members, -1, self.obs_dim))
        return numpy_gaussian(self._actors, grouped)

    def act(self, observations: np.ndarray) -> np.ndarray:
        """Sampled actions ``tanh(mu + sigma * eps)`` ``(K, ..., A)`` for observations
        ``(K, ..., d)``."""
        mean, log_std = self._policy(observations)
        noise = self._noise.standard_normal(mean.shape, dtype=np.float32)
        actions = np.tanh(mean + np.exp(log_std) * noise)
        return actions.reshape(*np.shape(observations)[:-1], self.action_dim)

    def predict(self, observations: np.ndarray) -> np.ndarray:
        """Deterministic actions ``tanh(mu)`` ``(K, ..., A)`` for observations ``(K, ..., d)``."""
        mean, _ = self._policy(observations)
        return np.tanh(mean).reshape(*np.shape(observations)[:-1], self.action_dim)

    def add(self, transitions: Replay) -> None:
        """Append ``(K, n, ...)`` transitions to every member's buffer (a ring of
        ``buffer_size``)."""
        count = int(np.shape(transitions.rewards)[1])
        positions = (self._position + np.arange(count)) % self.settings.buffer_size
        batch = Replay(*(np.asarray(array, np.float32) for array in transitions))
        self.replay = self._insert(self.replay, positions, batch)
        self._position = int((self._position + count) % self.settings.buffer_size)
        self.size = min(self.size + count, self.settings.buffer_size)

    def train(self, gradient_steps: int, gammas: np.ndarray) -> dict[str, np.ndarray]:
        """``gradient_steps`` SAC updates of every member, member ``k`` with discount
        ``gammas[k]``; returns the last step's losses and entropy coefficients ``(K,)``."""
        if self.size == 0:
            raise ValueError("train needs transitions in the buffers: call add first")
        gammas = np.broadcast_to(np.asarray(gammas, np.float32), (self.n_members,))
        self.state, info, self._key = self._train(
            self.state, self.replay, np.int32(self.size), gammas, gradient_steps, self._key
        )
        self._actors = None
        return {name: np.asarray(value) for name, value in info.items()}

    def _train_steps(
        self, state: MemberState, replay: Replay, size: Any, gammas: Any, steps: int, key: Any
    ) -> tuple[MemberState, dict[str, Any], Any]:
        import jax

        key, draws = jax.random.split(key)

        def one_step(state: MemberState, key: Any) -> tuple[MemberState, dict[str, Any]]:
            keys = jax.random.split(key, self.n_members)
            return jax.vmap(self._update_member, in_axes=(0, 0, None, 0, 0))(
                state, replay, size, gammas, keys
            )

        state, info = jax.lax.scan(one_step, state, jax.random.split(draws, steps))
        return state, jax.tree_util.tree_map(lambda value: value[-1], info), key

    def _update_member(
        self, state: MemberState, replay: Replay, size: Any, gamma: Any, key: Any
    ) -> tuple[MemberState, dict[str, Any]]:
        """One SAC step of one member (the equations of the module docstring)."""
        import jax
        import jax.numpy as jnp
        import optax

        index_key, policy_key, next_key = jax.random.split(key, 3)
        indices = jax.random.randint(index_key, (self.settings.batch_size,), 0, size)
        batch = Replay(*(array[indices] for array in replay))

        alpha = jnp.exp(state.log_alpha)  # the coefficient before this step's update, as SB3
        next_actions, next_log_prob = sample_action(state.actor, batch.next_observations, next_key)
        next_q = jnp.min(_twin_q(state.target_critics, batch.next_observations, next_actions), 0)
        target = batch.rewards + gamma * (1.0 - batch.dones) * (next_q - alpha * next_log_prob)
        target = jax.lax.stop_gradient(target)

        def critic_loss(critics: Params) -> Any:
            values = _twin_q(critics, batch.observations, batch.actions)
            return 0.5 * jnp.sum(jnp.mean((values - target) ** 2, axis=-1))

        critic_value, critic_grad = jax.value_and_grad(critic_loss)(state.critics)
        critic_update, critic_opt = self.optimizer.update(critic_grad, state.critic_opt)
        critics = optax.apply_updates(state.critics, critic_update)

        def actor_loss(actor: Params) -> tuple[Any, Any]:
            actions, log_prob = sample_action(actor, batch.observations, policy_key)
            q = jnp.min(_twin_q(critics, batch.observations, actions), 0)
            return jnp.mean(alpha * log_prob - q), log_prob

        (actor_value, log_prob), actor_grad = jax.value_and_grad(actor_loss, has_aux=True)(
            state.actor
        )
        actor_update, actor_opt = self.optimizer.update(actor_grad, state.actor_opt)
        actor = optax.apply_updates(state.actor, actor_update)

        # The entropy step on the same draw of the same (pre-update) actor that the actor loss used.
        alpha_grad = jax.grad(
            lambda log_alpha: (
                -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + self.target_entropy))
            )
        )(state.log_alpha)
        alpha_update, alpha_opt = self.optimizer.update(alpha_grad, state.alpha_opt)
        log_alpha = optax.apply_updates(state.log_alpha, alpha_update)

        tau = self.settings.tau
        targets = jax.tree_util.tree_map(
            lambda online, old: tau * online + (1.0 - tau) * old, critics, state.target_critics
        )
        new_state = MemberState(actor, critics, targets, log_alpha, actor_opt, critic_opt,
                                alpha_opt)  # fmt: skip
        return new_state, {"critic_loss": critic_value, "actor_loss": actor_value,
                           "ent_coef": alpha}  # fmt: skip

    def save_actors(self, path: Path) -> None:
        """Write every member's actor to ``path`` (``.npz``: ``layer<i>_w``, ``layer<i>_b`` with a
        leading member axis)."""
        arrays = {}
        for i, (weights, bias) in enumerate(self.state.actor):
            arrays[f"layer{i}_w"], arrays[f"layer{i}_b"] = np.asarray(weights), np.asarray(bias)
        with open(path, "wb") as file:
            np.savez(file, **arrays)


def to_action_range(actions: Any, low: Any, high: Any) -> Any:
    """Actions in [-1, 1] (the squashed Gaussian's range) mapped affinely onto ``[low, high]``."""
    return low + (actions + 1.0) * 0.5 * (high - low)


def _insert(replay: Replay, positions: Any, batch: Replay) -> Replay:
    return Replay(*(buffer.at[:, positions].set(new) for buffer, new in zip(replay, batch,
                                                                          strict=True)))  # fmt: skip


class MemberPolicy:
    """One member's deterministic actor with SB3's ``predict`` (for ``evaluate_policy``).

    Loaded from :meth:`BatchedSAC.save_actors`; plain numpy, so evaluating needs no JAX.
    """

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], low: Any, high: Any) -> None:
        self.layers = layers
        self.low, self.high = np.asarray(low), np.asarray(high)

    @classmethod
    def load_members(cls, path: Path, action_space: Any = None) -> list[MemberPolicy]:
        """Every member's policy in the file; actions are mapped from [-1, 1] to the bounds of
        ``action_space`` (a Gymnasium ``Box``; None: [-1, 1]).

        Raises:
            TypeError: ``action_space`` is not a Box.
        """
        from gymnasium import spaces

        low, high = -1.0, 1.0
        if action_space is not None:
            if not isinstance(action_space, spaces.Box):
                raise TypeError(f"the actions need a Box space, got {action_space}")
            low, high = action_space.low, action_space.high
        with np.load(path) as arrays:
            n_layers = len(arrays.files) // 2
            stacked = [(arrays[f"layer{i}_w"], arrays[f"layer{i}_b"]) for i in range(n_layers)]
        n_members = stacked[0][0].shape[0]
        return [cls([(w[k], b[k]) for w, b in stacked], low, high) for k in range(n_members)]

    def predict(
        self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:  # fmt: skip
        """``(action, None)``: ``tanh(mu(s))`` in the env's action range (always deterministic)
        for observations ``(n, d)``."""
        mean, _ = numpy_gaussian(self.layers, observation)
        return to_action_range(np.tanh(mean), self.low, self.high), None


def batched_settings(config: LearnerConfig) -> SACSettings:
    """The :class:`SACSettings` of a :class:`LearnerConfig` (``ent_coef`` must be learned:
    ``"auto"`` or ``"auto_<start>"``).

    Raises:
        ValueError: a fixed entropy coefficient or n-step returns, which the batched SAC lacks.
    """
    ent_coef = str(config.ent_coef)
    if not ent_coef.startswith("auto"):
        raise ValueError(f"{BATCHED_ALGORITHM} learns its entropy coefficient: ent_coef must be "
                         f"'auto' or 'auto_<start>', got {config.ent_coef!r}")  # fmt: skip
    if config.n_steps != 1:
        raise ValueError(f"{BATCHED_ALGORITHM} has no n-step returns, got n_steps={config.n_steps}")
    return SACSettings(
        learning_rate=config.learning_rate, buffer_size=config.buffer_size,
        batch_size=config.batch_size, net_arch=config.net_arch,
        ent_coef_init=float(ent_coef.removeprefix("auto").removeprefix("_") or 1.0),
    )  # fmt: skip


class BatchedImitationAgent:
    """``K`` imitation-from-observation runs trained as one batched SAC (``SAC-batched``).

    Member ``k`` has its own env, evaluation envs, demos (:class:`OTRewarder`), discount schedule
    (:class:`DiscountSchedule`) and SAC learner; what the SB3 path does with callbacks happens here
    in the loop, with the same pieces: after each episode (fixed horizon, all members in step) the
    members' trajectories are relabelled with OT rewards in one Sinkhorn batch and stored, then
    every member takes ``gradient_steps`` updates (-1: one per environment step, SB3's
    ``train_freq=(1, "episode")`` with ``gradient_steps=-1``) with its schedule's discount;
    random actions until ``learning_starts`` steps, as SB3. Evaluations (deterministic, every
    ``eval_freq`` steps and at the end) run all members' episodes side by side.

    Attributes:
        schedules: Member ``k``'s :class:`DiscountSchedule`; ``schedules[k].history`` its curve.
        sac: The :class:`BatchedSAC` learner.
    """

    def __init__(
        self,
        envs: gymnasium.vector.VectorEnv,
        eval_envs: gymnasium.vector.VectorEnv,
        rewarders: list[OTRewarder],
        schedules: list[DiscountSchedule],
        seeds: list[int],
        config: LearnerConfig | None = None,
        eval_freq: int = 5_000,
        min_success_steps: int = 1,
    ) -> None:
        """Build the members.

        Args:
            envs: One fixed-horizon env per member (``VectorEnv`` of ``K``; Gymnasium's
                ``SyncVectorEnv``, or ``AsyncVectorEnv`` for costly simulators).
            eval_envs: ``K * E`` evaluation envs, member ``k``'s at ``k*E .. (k+1)*E - 1``.
            rewarders: Member ``k``'s OT reward against its demos.
            schedules: Member ``k``'s discount schedule (on its rewarder).
            seeds: Member ``k``'s seed (its env's first reset, its eval envs' from ``seed + 1``,
                its random actions); the learner's parameters come from ``seeds[0]``.
            config: Learner hyperparameters (``algorithm`` is ignored).
            eval_freq: Evaluate each time the steps pass a multiple of this (and at the end).
            min_success_steps: Steps with ``info["success"]`` for an episode to count as solved.
        """
        self.config = config or LearnerConfig()
        n_members = envs.num_envs
        if not len(rewarders) == len(schedules) == len(seeds) == n_members:
            raise ValueError(f"one rewarder, schedule and seed per env: got {len(rewarders)}, "
                             f"{len(schedules)}, {len(seeds)} for {n_members} envs")  # fmt: skip
        if eval_envs.num_envs % n_members:
            raise ValueError(f"eval_envs must hold the same number of envs per member, got "
                             f"{eval_envs.num_envs} for {n_members} members")  # fmt: skip
        if eval_freq < 1:
            raise ValueError(f"eval_freq must be >= 1, got {eval_freq}")
        space = envs.single_action_space
        if not isinstance(space, spaces.Box):
            raise ValueError(f"{BATCHED_ALGORITHM} needs a Box action space, got {space}")
        self.envs, self.eval_envs = envs, eval_envs
        self.rewarders, self.schedules, self.seeds = rewarders, schedules, list(seeds)
        self.eval_freq, self.min_success_steps = eval_freq, min_success_steps
        self.horizon = int(envs.get_attr("horizon")[0])
        self.low, self.high = space.low, space.high
        obs_dim = int(np.prod(envs.single_observation_space.shape))
        self.sac = BatchedSAC(n_members, obs_dim, int(space.shape[0]),
                              batched_settings(self.config), self.seeds[0])  # fmt: skip
        self.num_timesteps = 0
        self._random = [np.random.default_rng(seed) for seed in self.seeds]
        self._seeded = False
        self._last_eval_step = -1

    @property
    def n_members(self) -> int:
        return self.sac.n_members

    def learn(
        self,
        total_timesteps: int,
        on_episode: Callable[[BatchedImitationAgent], None] | None = None,
    ) -> None:
        """Train every member for ``total_timesteps`` environment steps (whole episodes, like SB3
        with episode rollouts); ``on_episode(agent)`` runs after each episode."""
        horizon, n_members = self.horizon, self.n_members
        while self.num_timesteps < total_timesteps:
            observations, _ = self.envs.reset(seed=None if self._seeded else self.seeds)
            self._seeded = True
            obs, action = (self.sac.obs_dim,), (self.sac.action_dim,)
            episode = [np.empty((n_members, horizon, *shape), np.float32)
                       for shape in (obs, action, obs, (), ())]  # fmt: skip
            for t in range(horizon):
                if self.num_timesteps < self.config.learning_starts:
                    actions = np.stack([rng.uniform(-1.0, 1.0, self.low.shape)
                                        for rng in self._random])  # fmt: skip
                else:
                    actions = self.sac.act(observations)
                next_observations, rewards, terminated, _, _ = self.envs.step(
                    to_action_range(actions, self.low, self.high)
                )
                for array, value in zip(episode, (observations, actions, next_observations,
                                                  terminated, rewards), strict=True):  # fmt: skip
                    array[:, t] = value
                observations = next_observations
                self.num_timesteps += 1
                if passed_multiple(self._last_eval_step, self.num_timesteps, self.eval_freq):
                    self.evaluate()
            states, actions, next_states, dones, env_rewards = episode
            rewards = self.relabel(next_states) if self.config.reward == "ot" else env_rewards
            self.sac.add(Replay(states, actions, rewards, next_states, dones))
            if self.num_timesteps > self.config.learning_starts:
                steps = horizon if self.config.gradient_steps == -1 else self.config.gradient_steps
                gammas = [schedule.discount(self.num_timesteps) for schedule in self.schedules]
                self.sac.train(steps, np.array(gammas))
            if on_episode is not None:
                on_episode(self)
        if self._last_eval_step != self.num_timesteps:
            self.evaluate()

    def relabel(self, trajectories: np.ndarray) -> np.ndarray:
        """OT rewards ``(K, T)`` of the members' trajectories ``(K, T, d)``: member ``k``'s
        against its demos, all solved in one Sinkhorn batch, each scaled by its rewarder."""
        costs = np.stack([rewarder.costs(trajectory)
                          for rewarder, trajectory in zip(self.rewarders, trajectories,
                                                          strict=True)])  # fmt: skip
        raw, _ = best_demo_rewards(costs, self.rewarders[0].params)
        return np.stack([rewarder.scaled(row) for rewarder, row in zip(self.rewarders, raw,
                                                                        strict=True)])  # fmt: skip

    def evaluate(self) -> list[dict[str, float]]:
        """Run every member's evaluation episodes side by side (deterministic actions), update
        each member's progress; return the new history rows."""
        n_members, per_member = self.n_members, self.eval_envs.num_envs // self.n_members
        seeds = None
        if self._last_eval_step < 0:
            seeds = [seed + 1 + e for seed in self.seeds for e in range(per_member)]
        observations, _ = self.eval_envs.reset(seed=seeds)
        frames = np.empty((self.eval_envs.num_envs, self.horizon, self.sac.obs_dim), np.float32)
        success_steps = np.zeros(self.eval_envs.num_envs, dtype=int)
        for t in range(self.horizon):
            grouped = observations.reshape(n_members, per_member, -1)
            actions = self.sac.predict(grouped).reshape(self.eval_envs.num_envs, -1)
            observations, _, _, _, infos = self.eval_envs.step(
                to_action_range(actions, self.low, self.high)
            )
            frames[:, t] = observations
            success_steps += np.asarray(infos.get("success", False), dtype=bool)
        self._last_eval_step = self.num_timesteps
        solved = (success_steps >= self.min_success_steps).reshape(n_members, per_member)
        frames = frames.reshape(n_members, per_member, self.horizon, -1)
        return [schedule.record_evaluation(self.num_timesteps, solved[k], frames[k])
                for k, schedule in enumerate(self.schedules)]  # fmt: skip
