"""The systems wired together: Bayesian, heuristic, RL and LLM learners in one privatised sequence.

Every scenario plays the PettingZoo game :class:`seqrl.envs.dp_sequential_game.SequentialGameEnv`
(binary signals of accuracy p, reports through randomized response at budget epsilon) with agents
of :mod:`seqrl.agents.dp_population` and :mod:`seqrl.agents.dp_llm_learner`, and compares each
population with a Bayesian population on the same signals (paired by seed) and with the
gambler's-ruin closed form (:class:`seqrl.mechanisms.dp_sequential.BinaryCascadeClosedForm`).

- ``llm-cascade``: a homogeneous population of LLM learners (stateless, or with a first- or
  second-order VAD state), Bayesian learners or heuristics; do LLM agents herd like Bayesian ones?
- ``mixed-population``: a fraction f of non-Bayesian agents among Bayesian ones, while the observers
  assume everyone is Bayesian (a misspecified behavioural model); the public belief's calibration
  and the agents' learning as f grows.
- ``marl-sequential``: parameter-shared PPO trained in the game (discount 0: each agent maximises
  its own reward) and scored against the Bayesian benchmark at each position.

A cascade is the observers' (public-belief) cascade: agent n is in one when |l_n| > log(p/(1-p)),
after which no report moves l (for Bayesian agents, their actions ignore their signals). Their
plots live in :mod:`seqrl.scenarios.plots.mixed`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from seqrl.mechanisms.dp_privacy import randomized_response_flip_probability
from seqrl.mechanisms.dp_sequential import BinaryCascadeClosedForm
from seqrl.mechanisms.dp_signals import BinarySignal
from seqrl.mechanisms.vad_affect import CONDITIONS, AffectDynamicsParams
from seqrl.scenarios.core import TaskOutput, artifact_dir, param, report_progress, scenario
from seqrl.scenarios.library.dp import accuracy_param, epsilon_param
from seqrl.scenarios.library.vad import ChatParams
from seqrl.scenarios.plots.mixed import plot_llm_cascade, plot_marl, plot_mixed_population

if TYPE_CHECKING:
    from seqrl.agents.dp_llm_learner import LLMLearner
    from seqrl.agents.dp_population import SequenceAgent
    from seqrl.agents.vad_llm_backends import ChatBackend
    from seqrl.envs.dp_sequential_game import GameRecord

GAME_ENV_ID = "seqrl/SequentialGame-v0"
"""The Gymnasium view of the game in which one policy plays every seat (marl-sequential's)."""
AgentKind = Literal["llm", "bayesian", "own-signal", "majority"]
OtherKind = Literal["llm", "own-signal", "majority"]


@dataclass(frozen=True)
class LearnerChatParams(ChatParams):
    """The LLM learners' chat backend (the affect system's), checked only when LLMs play.

    A guess is one word, so ``max_tokens`` defaults to 8.
    """

    max_tokens: int = param(8, "generation limit per guess", low=1)
    history_turns: int = param(25, "not used here: every decision is one fresh prompt", low=0)

    def __post_init__(self) -> None:
        """Nothing here: :meth:`check` runs the backend checks when the population has LLMs."""

    def check(self) -> None:
        """The extras and, for ``openai``, the endpoint (unreachable: bad input, exit 2)."""
        ChatParams.__post_init__(self)


@dataclass(frozen=True)
class GameArgs:
    """The sequence: binary signals, randomized response, what the agents see."""

    p: float = accuracy_param()
    epsilon: float = epsilon_param(math.inf)
    n_agents: int = param(10, "agents per sequence", low=1)
    reports: Literal["counts", "sequence"] = param("counts", "how agents see earlier reports")
    tell_public_llr: bool = param(
        False, "tell non-Bayesian agents the observers' public LLR (Bayesians always see it)"
    )

    def __post_init__(self) -> None:
        self.closed_form()  # checks p and epsilon

    def closed_form(self) -> BinaryCascadeClosedForm:
        """The gambler's-ruin solution of the Bayesian cascade."""
        return BinaryCascadeClosedForm(self.p, self.epsilon)

    def env(self, informed: Sequence[bool]) -> Any:
        """The PettingZoo game with these informed flags."""
        from seqrl.envs.dp_sequential_game import SequentialGameEnv

        return SequentialGameEnv(
            n_agents=self.n_agents,
            p=self.p,
            epsilon=self.epsilon,
            reports=self.reports,
            informed=list(informed),
        )

    @property
    def flip_probability(self) -> float:
        """u = 1 / (1 + e^epsilon)."""
        return float(randomized_response_flip_probability(self.epsilon))


def _check_margin(margin: int, n_agents: int) -> None:
    if margin > n_agents:
        raise ValueError(f"margin must be <= n_agents ({n_agents}), got {margin}")


# --- playing and scoring sequences ----------------------------------------------------------------


def _play(
    game: GameArgs,
    agents: Sequence[SequenceAgent],
    informed: Sequence[bool],
    seeds: np.ndarray,
    report: bool = False,
) -> list[GameRecord]:
    """One sequence per seed; with ``report``, the task's progress counts the sequences."""
    from seqrl.envs.dp_sequential_game import play_sequence

    env = game.env(informed)
    records = []
    for index, seed in enumerate(seeds):
        records.append(play_sequence(env, agents, seed=int(seed)))
        if report:
            report_progress(index + 1, len(seeds), "sequences")
    return records


def _per_decision(records: Sequence[GameRecord]) -> dict[str, np.ndarray]:
    """(sequences, positions) arrays: correct, against the own signal, herding, in a cascade."""
    theta = np.array([r.theta for r in records])[:, None]
    action = np.array([r.action for r in records])
    own = np.where(np.array([r.private_llr for r in records]) < 0, -1, 1)
    reports = np.array([r.report for r in records])
    seen = np.cumsum(reports, axis=1) - reports  # net reports before each agent
    against = action != own
    return {
        "correct": action == theta,
        "against_signal": against,
        "herding": against & (action == np.sign(seen)),
        "in_cascade": np.array([r.in_cascade for r in records]),
        "theta": np.broadcast_to(theta, action.shape),
        "public_llr": np.array([r.public_llr for r in records]),
    }


def _sequence_metrics(records: Sequence[GameRecord], prefix: str = "") -> dict[str, float]:
    """Cascade rate, P(correct cascade), mean start, wrong actions, against-signal and herding."""
    decisions = _per_decision(records)
    cascade = decisions["in_cascade"]
    started = cascade.any(axis=1)
    starts = np.argmax(cascade, axis=1)[started]
    final = decisions["public_llr"][:, -1]
    correct_cascade = (np.sign(final) == decisions["theta"][:, 0])[started]
    return {
        f"{prefix}cascade_rate": float(started.mean()),
        f"{prefix}correct_cascade_rate": float(correct_cascade.mean())
        if started.any()
        else math.nan,
        f"{prefix}mean_cascade_start": float(starts.mean()) if started.any() else math.nan,
        f"{prefix}wrong_actions": float((~decisions["correct"]).sum(axis=1).mean()),
        f"{prefix}accuracy": float(decisions["correct"].mean()),
        f"{prefix}against_signal": float(decisions["against_signal"].mean()),
        f"{prefix}herding": float(decisions["herding"].mean()),
    }


def _position_frame(records: Sequence[GameRecord], population: str) -> pd.DataFrame:
    decisions = _per_decision(records)
    return pd.DataFrame(
        {
            "population": population,
            "position": np.arange(1, decisions["correct"].shape[1] + 1),
            "accuracy": decisions["correct"].mean(axis=0),
            "against_signal": decisions["against_signal"].mean(axis=0),
            "herding": decisions["herding"].mean(axis=0),
        }
    )


def _llm_metrics(learners: Sequence[LLMLearner], backend: ChatBackend) -> dict[str, float]:
    records = [record for learner in learners for record in learner.records]
    seconds = sum(record.seconds for record in records)
    return {
        "llm_decisions": len(records),
        "llm_failures": sum(record.failed for record in records),
        "llm_failure_rate": float(np.mean([r.failed for r in records])) if records else math.nan,
        "generated_tokens": backend.generated_tokens,
        "tokens_per_s": backend.generated_tokens / seconds if seconds > 0 else math.nan,
        "seconds_per_llm_decision": seconds / len(records) if records else math.nan,
    }


def _write_decisions(learners: Sequence[LLMLearner]) -> None:
    """Every prompt and reply, as JSON lines in the task's artifact directory (written whole)."""
    directory = artifact_dir()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "decisions.jsonl"
    temporary = path.with_suffix(".jsonl.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        for learner_index, learner in enumerate(learners):
            for record in learner.records:
                handle.write(json.dumps({"learner": learner_index, **asdict(record)}) + "\n")
    os.replace(temporary, path)


def _llm_learners(
    count: int,
    chat: LearnerChatParams,
    dynamics: AffectDynamicsParams,
    game: GameArgs,
    margin: int,
    rng: np.random.Generator,
) -> tuple[list[LLMLearner], ChatBackend]:
    """One LLM learner per seat, sharing one backend (scripted: follow the majority after margin)."""
    from seqrl.agents.dp_llm_learner import LLMLearner, LLMLearnerConfig, ScriptedMajority

    backend = chat.build(ScriptedMajority(margin))
    config = LLMLearnerConfig(
        temperature=chat.temperature, report_flip_probability=game.flip_probability
    )
    seeds = rng.integers(0, 2**31 - 1, size=count)
    learners = [LLMLearner(backend, dynamics, config, seed=int(seed)) for seed in seeds]
    return learners, backend


# --- llm-cascade -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LLMCascadeArgs:
    """Parameters of ``llm-cascade``."""

    agent: AgentKind = param("llm", "who plays every seat")
    margin: int = param(
        2, "majority heuristic (and scripted LLM): follow a report lead of this size", low=1
    )
    game: GameArgs = field(default_factory=GameArgs)
    n_sequences: int = param(10, "sequences per task", low=1)
    dynamics: AffectDynamicsParams = field(default_factory=AffectDynamicsParams)
    chat: LearnerChatParams = field(default_factory=LearnerChatParams)

    def __post_init__(self) -> None:
        _check_margin(self.margin, self.game.n_agents)
        if self.agent == "llm":
            self.chat.check()


def _homogeneous(
    kind: str, args: LLMCascadeArgs, rng: np.random.Generator
) -> tuple[list[SequenceAgent], list[LLMLearner], ChatBackend | None]:
    from seqrl.agents.dp_population import make_heuristic

    n = args.game.n_agents
    if kind != "llm":
        return [make_heuristic(kind, args.margin)] * n, [], None
    learners, backend = _llm_learners(n, args.chat, args.dynamics, args.game, args.margin, rng)
    return list(learners), learners, backend


@scenario(
    name="llm-cascade",
    description="Do LLM learners (with or without a VAD state) herd like Bayesian ones?",
    params=LLMCascadeArgs,
    plot=plot_llm_cascade,
    grid=[
        {
            "agent": ["bayesian", "own-signal", "majority"],
            "epsilon": [math.inf, 1.0],
            "n_sequences": [1000],
        },
        {"agent": ["llm"], "condition": list(CONDITIONS), "epsilon": [math.inf, 1.0]},
    ],
    quick={"agent": "llm", "condition": "first-order", "epsilon": 1.0, "n_sequences": 3},
    seeds=2,
    quick_seeds=1,
    requires=("multiagent",),
)
def llm_cascade(args: LLMCascadeArgs, rng: np.random.Generator) -> TaskOutput:
    """Play ``n_sequences`` sequences with the population, then with Bayesians on the same seeds."""
    game = args.game
    seeds = rng.integers(0, 2**31 - 1, size=args.n_sequences)
    agents, learners, backend = _homogeneous(args.agent, args, rng)
    informed = [args.agent == "bayesian" or game.tell_public_llr] * game.n_agents
    started = time.perf_counter()
    records = _play(game, agents, informed, seeds, report=True)
    elapsed = time.perf_counter() - started
    bayesian = _play(game, _homogeneous("bayesian", args, rng)[0], [True] * game.n_agents, seeds)
    closed = game.closed_form()
    metrics: dict[str, Any] = {
        **_sequence_metrics(records),
        **_sequence_metrics(bayesian, "bayesian_"),
        "closed_form_correct": closed.probability_correct,
        "closed_form_start": closed.expected_start,
        "same_actions_as_bayesian": float(
            np.mean([(r.action == b.action).mean() for r, b in zip(records, bayesian, strict=True)])
        ),
        "seconds_per_sequence": elapsed / args.n_sequences,
    }
    if backend is not None:
        metrics.update(_llm_metrics(learners, backend))
        _write_decisions(learners)
    frame = pd.concat(
        [_position_frame(records, args.agent), _position_frame(bayesian, "bayesian (paired)")],
        ignore_index=True,
    )
    return TaskOutput(metrics, frame)


# --- mixed-population ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MixedPopulationArgs:
    """Parameters of ``mixed-population``."""

    other: OtherKind = param("majority", "the non-Bayesian agents")
    fraction: float = param(
        0.5, "fraction f of non-Bayesian agents (random seats)", low=0.0, high=1.0
    )
    margin: int = param(
        1, "majority heuristic (and scripted LLM): follow a lead of this size", low=1
    )
    game: GameArgs = field(default_factory=GameArgs)
    n_sequences: int = param(2000, "sequences per task", low=1)
    calibration_bins: int = param(10, "bins of the calibration error", low=2)
    dynamics: AffectDynamicsParams = field(default_factory=AffectDynamicsParams)
    chat: LearnerChatParams = field(default_factory=LearnerChatParams)

    def __post_init__(self) -> None:
        _check_margin(self.margin, self.game.n_agents)
        if self.other == "llm":
            self.chat.check()


def calibration_error(probability: np.ndarray, outcome: np.ndarray, bins: int) -> float:
    """Expected calibration error: sum over equal-width bins b of (n_b / n) |mean(y) - mean(q)|."""
    probability, outcome = np.ravel(probability), np.ravel(outcome).astype(float)
    index = np.minimum((probability * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    gaps = np.bincount(index, outcome - probability, minlength=bins)
    return float(np.abs(gaps).sum() / counts.sum())


def _belief_metrics(records: Sequence[GameRecord], bins: int) -> dict[str, float]:
    """Calibration of the observers' P(theta = +1 | l_n) after each report, and its log loss."""
    llr = np.array([r.public_llr[1:] for r in records])
    truth = np.broadcast_to(np.array([r.theta for r in records])[:, None] > 0, llr.shape)
    belief = 1.0 / (1.0 + np.exp(-llr))
    log_loss = np.logaddexp(0.0, -np.where(truth, llr, -llr))
    return {
        "calibration_error": calibration_error(belief, truth, bins),
        "brier": float(((belief - truth) ** 2).mean()),
        "log_loss": float(log_loss.mean()),
        "final_public_llr": float(np.mean([r.theta * r.public_llr[-1] for r in records])),
        "final_belief_correct": float(np.mean([r.theta * r.public_llr[-1] > 0 for r in records])),
    }


@scenario(
    name="mixed-population",
    description="A fraction f of non-Bayesian agents while observers assume all are Bayesian.",
    params=MixedPopulationArgs,
    plot=plot_mixed_population,
    grid={
        "other": ["own-signal", "majority"],
        "fraction": [0.0, 0.1, 0.25, 0.5, 0.75, 1.0],
        "epsilon": [math.inf, 1.0],
    },
    quick={"other": "majority", "fraction": [0.0, 0.5, 1.0], "n_sequences": 200},
    seeds=2,
    quick_seeds=1,
    requires=("multiagent",),
)
def mixed_population(args: MixedPopulationArgs, rng: np.random.Generator) -> TaskOutput:
    """Seat round(f N) non-Bayesian agents at random in every sequence; score belief and actions."""
    from seqrl.agents.dp_population import BayesianAgent, make_heuristic

    game = args.game
    n = game.n_agents
    count = round(args.fraction * n)
    if args.other == "llm":
        learners, backend = _llm_learners(
            n, args.chat, args.dynamics, game, args.margin, rng
        )  # one per seat, playing whenever that seat is non-Bayesian
        others: list[SequenceAgent] = list(learners)
    else:
        learners, backend = [], None
        others = [make_heuristic(args.other, args.margin)] * n
    from seqrl.envs.dp_sequential_game import play_sequence

    records, masks = [], []
    envs: dict[tuple[bool, ...], Any] = {}  # one game per pattern of informed seats
    for index, seed in enumerate(rng.integers(0, 2**31 - 1, size=args.n_sequences)):
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, size=count, replace=False)] = True
        agents = [others[k] if mask[k] else BayesianAgent() for k in range(n)]
        informed = tuple(bool(not m or game.tell_public_llr) for m in mask)
        if informed not in envs:
            envs[informed] = game.env(informed)
        records.append(play_sequence(envs[informed], agents, seed=int(seed)))
        masks.append(mask)
        report_progress(index + 1, args.n_sequences, "sequences")
    decisions = _per_decision(records)
    other_seats = np.array(masks)
    metrics: dict[str, Any] = {
        **_belief_metrics(records, args.calibration_bins),
        **_sequence_metrics(records),
        "bayesian_agents_accuracy": float(decisions["correct"][~other_seats].mean())
        if (~other_seats).any()
        else math.nan,
        "other_agents_accuracy": float(decisions["correct"][other_seats].mean())
        if other_seats.any()
        else math.nan,
        "last_agent_accuracy": float(decisions["correct"][:, -1].mean()),
        "closed_form_correct": game.closed_form().probability_correct,
    }
    if backend is not None:
        metrics.update(_llm_metrics(learners, backend))
        _write_decisions(learners)
    return TaskOutput(metrics, _position_frame(records, f"{args.other}, f = {args.fraction:g}"))


# --- marl-sequential -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarlArgs:
    """Parameters of ``marl-sequential``."""

    game: GameArgs = field(default_factory=GameArgs)
    total_timesteps: int = param(40_000, "PPO training decisions (all seats together)", low=64)
    n_eval_sequences: int = param(2000, "evaluation sequences (paired with Bayesians)", low=1)
    benchmark_runs: int = param(100_000, "vectorized-engine sequences of the benchmark", low=1)
    learning_rate: float = param(1e-3, "PPO learning rate", low=0.0, low_inclusive=False)


@scenario(
    name="marl-sequential",
    description="Parameter-shared PPO learners trained in the game against the Bayesian benchmark.",
    params=MarlArgs,
    plot=plot_marl,
    grid={"epsilon": [math.inf, 1.0], "tell_public_llr": [False, True]},
    quick={
        "epsilon": 1.0,
        "tell_public_llr": False,
        "total_timesteps": 4096,
        "n_eval_sequences": 200,
        "benchmark_runs": 10_000,
    },  # fmt: skip
    seeds=2,
    quick_seeds=1,
    requires=("multiagent", "rl"),
)
def marl_sequential(args: MarlArgs, rng: np.random.Generator) -> TaskOutput:
    """Train one shared PPO policy for every seat (gamma = 0), then score it seat by seat."""
    import torch
    from stable_baselines3 import PPO

    from seqrl.agents.dp_bayesian_learner import BayesianLearner
    from seqrl.agents.dp_engine import simulate_sequences
    from seqrl.agents.dp_population import BayesianAgent, PolicyAgent
    from seqrl.envs.dp_sequential_game import SharedPolicyEnv
    from seqrl.mechanisms.dp_privacy import make_mechanism
    from seqrl.mechanisms.dp_signals import bayesian_action
    from seqrl.scenarios.evaluate import (
        PolicyRecord,
        save_policy,
        score_policy,
        training_callbacks,
        training_logger,
    )

    torch.set_num_threads(1)
    game = args.game
    n = game.n_agents
    seed = int(rng.integers(2**31 - 1))
    env = SharedPolicyEnv(
        n_agents=n,
        p=game.p,
        epsilon=game.epsilon,
        reports=game.reports,
        informed=game.tell_public_llr,
    )
    env.reset(seed=seed)
    model = PPO(
        "MlpPolicy",
        env,
        gamma=0.0,  # each agent's own reward only: the game's objective, not the team's
        gae_lambda=1.0,
        n_steps=1024,
        batch_size=256,
        n_epochs=5,
        learning_rate=args.learning_rate,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    directory = artifact_dir()
    model.set_logger(training_logger(directory))
    model.learn(
        args.total_timesteps, callback=training_callbacks(directory, 0, args.total_timesteps)
    )
    if directory is not None:  # the trained policy, scored as `seqrl evaluate` will score it
        env_kwargs = {"n_agents": n, "p": game.p, "epsilon": game.epsilon,
                      "reports": game.reports, "informed": game.tell_public_llr}  # fmt: skip
        rewards = score_policy(model, GAME_ENV_ID, env_kwargs, seed + 1, args.n_eval_sequences)
        record = PolicyRecord("PPO", GAME_ENV_ID, env_kwargs, seed + 1, args.n_eval_sequences,
                              True, float(rewards.mean()), float(rewards.std()))  # fmt: skip
        save_policy(model, directory, record)
    seeds = rng.integers(0, 2**31 - 1, size=args.n_eval_sequences)
    ppo = _play(game, [PolicyAgent(model, n)] * n, [game.tell_public_llr] * n, seeds)
    bayesian = _play(game, [BayesianAgent()] * n, [True] * n, seeds)

    # What the Bayesian rule would do at the public state the PPO agents actually faced.
    private = np.array([r.private_llr for r in ppo])
    public = np.array([r.public_llr[:-1] for r in ppo])
    rule = bayesian_action(public, private)
    agrees = np.array([r.action for r in ppo]) == rule
    cascade = np.array([r.in_cascade for r in ppo])

    learner = BayesianLearner(
        BinarySignal(game.p), make_mechanism("randomized_response", game.epsilon)
    )
    benchmark = simulate_sequences(
        learner, n, args.benchmark_runs, rng, checkpoints=np.arange(1, n + 2)
    )
    benchmark_accuracy = 1.0 - np.diff(benchmark.wrong_actions_before.mean(axis=1))
    metrics = {
        **_sequence_metrics(ppo, "ppo_"),
        **_sequence_metrics(bayesian, "bayesian_"),
        "benchmark_accuracy": float(benchmark_accuracy.mean()),
        "ppo_agrees_with_bayesian_rule": float(agrees.mean()),
        "ppo_agrees_in_cascade": float(agrees[cascade].mean()) if cascade.any() else math.nan,
        "last_position_gap": float(
            benchmark_accuracy[-1] - _per_decision(ppo)["correct"][:, -1].mean()
        ),
    }
    frame = pd.concat(
        [
            _position_frame(ppo, "ppo"),
            _position_frame(bayesian, "bayesian (paired)"),
            pd.DataFrame(
                {
                    "population": "bayesian (engine)",
                    "position": np.arange(1, n + 1),
                    "accuracy": benchmark_accuracy,
                }
            ),
        ],
        ignore_index=True,
    )
    return TaskOutput(metrics, frame)
