"""LLM agents with an explicit Valence-Arousal-Dominance state (Subaharan 2026, arXiv 2601.16087).

``vad-dialogue`` plays the fixed 25-turn protocol (neutral 1-5, hostile philosophical perturbation
6-15, reconciliation 16-25) to one affective agent and measures its valence trajectory: response
latency, recovery, hysteresis, smoothness and overshoot. Its default grid is the paper's: stateless,
first order, and second order at mu = 0.8 and 0.95, five seeds each, on the embedded SmolLM2 model.
Since a grid is a product of axes, stateless and first order also run at both mu values (mu does not
enter them; their results repeat).

``vad-contagion`` lets several affective agents converse (a Mesa model) with one of them starting
hostile, and measures how far the others' valence follows (beyond the paper).

Transcripts are written turn by turn as JSON lines under ``seqrl.scenarios.artifact_dir()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqrl.scenarios.core import BadInput, Param, TaskOutput, artifact_dir, scenario

CONDITION_CHOICES = ("stateless", "first-order", "second-order")
BACKEND_CHOICES = ("embedded", "openai", "scripted")

_DYNAMICS_PARAMS = [
    Param("condition", str, "first-order", "state dynamics", choices=CONDITION_CHOICES),
    Param(
        "alpha",
        float,
        0.2,
        "first-order smoothing weight a",
        low=0.0,
        high=1.0,
        low_inclusive=False,
    ),
    Param("mu", float, 0.8, "second-order momentum", low=0.0, high=1.0, high_inclusive=False),
    Param(
        "eta",
        float,
        0.01,
        "second-order gain on x_t - s_{t-1}",
        low=0.0,
        high=1.0,
        low_inclusive=False,
    ),
    Param(
        "decay",
        float,
        0.0,
        "pull toward the neutral baseline per turn (0: none)",
        low=0.0,
        high=1.0,
        high_inclusive=False,
    ),
]
_BACKEND_PARAMS = [
    Param("backend", str, "embedded", "chat backend", choices=BACKEND_CHOICES),
    Param("temperature", float, 0.7, "sampling temperature", low=0.0),
    Param("max_tokens", int, 48, "generation limit per reply", low=1),
    Param("history_turns", int, 25, "past exchanges kept in the prompt", low=0),
    Param("n_threads", int, 1, "llama.cpp threads of the embedded model", low=1),
    Param("openai_base_url", str, "http://127.0.0.1:8000/v1", "OpenAI-compatible API root"),
    Param("openai_model", str, "smollm2", "model name for the openai backend"),
    Param("openai_api_key_env", str, "OPENAI_API_KEY", "environment variable holding the key"),
]
# Replies of the scripted backend: fixed and mild, so that only the dynamics differ between runs.
_SCRIPTED_REPLIES = ("I see what you mean.", "Let me think about that.", "That is a fair point.")


def _dynamics(params: dict[str, Any]) -> Any:
    from seqrl.mechanisms.vad_affect import AffectDynamicsParams

    return AffectDynamicsParams(
        condition=params["condition"],
        alpha=params["alpha"],
        mu=params["mu"],
        eta=params["eta"],
        decay=params["decay"],
    )


def _backend(params: dict[str, Any], scripted: Any) -> Any:
    """The chat backend named by ``params["backend"]``; ``scripted`` feeds the scripted one."""
    from seqrl.agents.vad_llm_backends import LlamaCppBackend, OpenAIBackend, ScriptedBackend

    if params["backend"] == "scripted":
        return ScriptedBackend(scripted)
    if params["backend"] == "openai":
        return OpenAIBackend(
            base_url=params["openai_base_url"],
            model=params["openai_model"],
            api_key_env=params["openai_api_key_env"],
            max_tokens=params["max_tokens"],
        )
    return LlamaCppBackend(max_tokens=params["max_tokens"], n_threads=params["n_threads"])


def _check_common(params: dict[str, Any]) -> None:
    _dynamics(params)
    if params["backend"] == "openai":
        from seqrl.agents.vad_llm_backends import OpenAIBackend

        OpenAIBackend(
            params["openai_base_url"], params["openai_model"], params["openai_api_key_env"]
        )


def _check_dialogue(params: dict[str, Any]) -> None:
    from seqrl.agents.vad_agent import AffectiveAgentConfig
    from seqrl.envs.vad_dialogue import load_dialogue_script

    _check_common(params)
    AffectiveAgentConfig(estimator_source=params["estimator_source"])
    load_dialogue_script(params["script"])


def _transcript(name: str) -> Path | None:
    directory = artifact_dir()
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.unlink(missing_ok=True)  # a restarted task regenerates the same turns from its seed
    return path


def condition_label(condition: str, mu: float) -> str:
    """Label of a paper condition: second order carries its mu."""
    return f"second-order mu={mu:g}" if condition == "second-order" else condition


def _condition_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Add a ``label`` column and keep one mu for conditions that mu does not enter."""
    frame = frame.assign(
        label=[condition_label(c, m) for c, m in zip(frame["condition"], frame["mu"], strict=True)]
    )
    first_mu = frame["mu"].min()
    return frame[(frame["condition"] == "second-order") | (frame["mu"] == first_mu)]


def _plot_dialogue(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    figures: dict[str, Any] = {}
    if trajectories is not None and len(trajectories):
        rows = _condition_rows(trajectories)
        figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        starts = rows.groupby("phase")["turn"].min()
        for axis, column, title in (
            (axes[0], "state_valence", "State valence s_t"),
            (axes[1], "reply_valence", "Estimated valence of the agent's reply"),
        ):
            for phase, color in (("perturbation", "tab:red"), ("reconciliation", "tab:green")):
                if phase in starts:
                    end = rows.loc[rows["phase"] == phase, "turn"].max()
                    axis.axvspan(starts[phase] - 0.5, end + 0.5, color=color, alpha=0.08, lw=0)
            for label, group in rows.groupby("label", sort=False):
                by_turn = group.groupby("turn")[column]
                mean = by_turn.mean()
                (line,) = axis.plot(mean.index, mean, marker=".", label=label)
                axis.fill_between(
                    mean.index,
                    by_turn.min(),
                    by_turn.max(),
                    color=line.get_color(),
                    alpha=0.2,
                    lw=0,
                )
            axis.axhline(0, color="grey", lw=0.5)
            axis.set(xlabel="turn", title=title, ylim=(-1.05, 1.05))
        estimate = rows.groupby("turn")["estimate_valence"].mean()
        axes[0].plot(estimate.index, estimate, "k:", lw=1, label="estimate x_t (mean)")
        axes[0].set(ylabel="valence")
        axes[0].legend(fontsize=7, loc="lower left")
        figure.suptitle(
            "25-turn protocol: mean over seeds, band = min..max over seeds", fontsize=10
        )
        figure.tight_layout()
        figures["vad_valence_trajectory"] = figure
    second = results[results["condition"] == "second-order"]
    if len(second):
        figure, axis = plt.subplots(figsize=(5, 3.5))
        by_mu = second.groupby("mu")["hysteresis"]
        axis.errorbar(
            by_mu.mean().index,
            by_mu.mean(),
            yerr=1.96 * by_mu.sem().fillna(0),
            fmt="o-",
            capsize=3,
            label="second order (95% CI)",
        )
        for condition, style in (("first-order", "--"), ("stateless", ":")):
            values = results.loc[results["condition"] == condition, "hysteresis"]
            if len(values):
                axis.axhline(values.mean(), ls=style, color="grey", label=condition)
        axis.set(
            xlabel="momentum mu",
            ylabel="hysteresis (mean |s_t - x_t|)",
            title="Hysteresis against momentum",
        )
        axis.legend(fontsize=8)
        figure.tight_layout()
        figures["vad_hysteresis_vs_mu"] = figure
    return figures


@scenario(
    name="vad-dialogue",
    description="Affective LLM agent on the 25-turn hostile/reconciliation protocol (VAD dynamics).",
    params=[
        *_DYNAMICS_PARAMS,
        Param(
            "estimator_source",
            str,
            "user",
            "text the estimator scores",
            choices=("user", "agent", "both"),
        ),
        Param("script", str, "default", "user script: 'default' or a .json/.jsonl file"),
        *_BACKEND_PARAMS,
        Param(
            "threshold",
            float,
            0.2,
            "deviation that counts as a response",
            low=0.0,
            low_inclusive=False,
        ),
        Param(
            "tolerance",
            float,
            0.1,
            "distance from baseline that counts as recovered",
            low=0.0,
            low_inclusive=False,
        ),
    ],
    plot=_plot_dialogue,
    grid=[
        {"condition": ["stateless", "first-order"]},
        {"condition": ["second-order"], "mu": [0.8, 0.95]},
    ],
    quick={"condition": ["stateless", "second-order"], "mu": [0.8], "max_tokens": 16},
    seeds=5,
    quick_seeds=1,
    check=_check_dialogue,
)
def vad_dialogue(params: dict[str, Any], rng: np.random.Generator) -> TaskOutput:
    """Play the script to one affective agent through the Gymnasium dialogue env."""
    from seqrl.agents.vad_agent import AffectiveAgent, AffectiveAgentConfig
    from seqrl.envs.vad_dialogue import DialogueEnv, load_dialogue_script
    from seqrl.mechanisms.vad_affect import LexiconAffectEstimator
    from seqrl.mechanisms.vad_metrics import trajectory_metrics

    try:
        script = load_dialogue_script(params["script"])
        dynamics = _dynamics(params)
        backend = _backend(params, _SCRIPTED_REPLIES)
    except ValueError as error:
        raise BadInput(str(error)) from None
    estimator = LexiconAffectEstimator()
    agent = AffectiveAgent(
        backend,
        dynamics,
        AffectiveAgentConfig(
            estimator_source=params["estimator_source"],
            temperature=params["temperature"],
            history_turns=params["history_turns"],
        ),
        seed=int(rng.integers(0, 2**31 - 1)),
        estimator=estimator,
        transcript_path=_transcript("transcript.jsonl"),
    )
    env = DialogueEnv(script, estimator=estimator)
    observation, _ = env.reset(seed=int(rng.integers(0, 2**31 - 1)))
    terminated = False
    while not terminated:
        record = agent.respond(observation)
        observation, _, terminated, _, _ = env.step(record.reply)
    states, estimates = agent.state_history(), agent.estimate_history()
    metrics = trajectory_metrics(
        states[:, 0],
        estimates[:, 0],
        initial_state=agent.initial_state[0],
        perturbation_start=script.perturbation_start,
        reconciliation_start=script.reconciliation_start,
        threshold=params["threshold"],
        tolerance=params["tolerance"],
    )
    metrics["failed_turns"] = sum(r.failed for r in agent.history)
    metrics["generated_tokens"] = backend.generated_tokens
    trajectory = pd.DataFrame(
        {
            "turn": np.arange(1, len(script) + 1),
            "phase": list(script.phases),
            **{
                f"estimate_{d}": estimates[:, i]
                for i, d in enumerate(("valence", "arousal", "dominance"))
            },
            **{
                f"state_{d}": states[:, i]
                for i, d in enumerate(("valence", "arousal", "dominance"))
            },
            "reply_valence": [
                np.nan if r.reply_estimate is None else r.reply_estimate[0] for r in agent.history
            ],
            "failed": [r.failed for r in agent.history],
        }
    )
    return TaskOutput(metrics, trajectory)


def _plot_contagion(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    if trajectories is None or not len(trajectories):
        return {}
    rows = _condition_rows(trajectories)
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for label, group in rows.groupby("label", sort=False):
        for axis, seeded in zip(axes, (True, False), strict=True):
            part = group[(group["agent"] == 0) == seeded]
            per_seed = part.groupby(["seed_index", "round"])["valence"].mean()
            by_round = per_seed.groupby(level="round")
            mean = by_round.mean()
            (line,) = axis.plot(mean.index, mean, marker=".", label=label)
            axis.fill_between(
                mean.index, by_round.min(), by_round.max(), color=line.get_color(), alpha=0.2, lw=0
            )
    axes[0].set(xlabel="round", ylabel="state valence", title="Perturbed agent")
    axes[1].set(xlabel="round", title="Other agents (mean)")
    for axis in axes:
        axis.axhline(0, color="grey", lw=0.5)
    axes[1].legend(fontsize=7)
    figure.tight_layout()
    return {"vad_contagion": figure}


def _check_contagion(params: dict[str, Any]) -> None:
    _check_common(params)


@scenario(
    name="vad-contagion",
    description="Affect contagion among affective LLM agents conversing in a Mesa model.",
    params=[
        *_DYNAMICS_PARAMS,
        Param("n_agents", int, 3, "agents in the conversation", low=2),
        Param("n_rounds", int, 6, "rounds; every agent speaks once per round", low=1),
        Param(
            "seed_valence",
            float,
            -0.9,
            "initial valence of the perturbed agent 0",
            low=-1.0,
            high=1.0,
        ),
        Param(
            "infection_threshold",
            float,
            0.2,
            "valence drop that counts as infected",
            low=0.0,
            low_inclusive=False,
        ),
        *_BACKEND_PARAMS,
    ],
    plot=_plot_contagion,
    grid={"condition": list(CONDITION_CHOICES)},
    quick={"backend": "scripted", "n_rounds": 4},
    seeds=5,
    quick_seeds=2,
    check=_check_contagion,
)
def vad_contagion(params: dict[str, Any], rng: np.random.Generator) -> TaskOutput:
    """Run the group conversation and measure how the perturbed agent's affect spreads."""
    from seqrl.agents.vad_agent import AffectiveAgentConfig
    from seqrl.agents.vad_llm_backends import mood_echo
    from seqrl.envs.vad_dialogue_mesa import DialogueGroupModel

    try:
        dynamics = _dynamics(params)
        backend = _backend(params, mood_echo)
    except ValueError as error:
        raise BadInput(str(error)) from None
    model = DialogueGroupModel(
        n_agents=params["n_agents"],
        dynamics=dynamics,
        backend_factory=lambda _: backend,
        seed_valence=params["seed_valence"],
        config=AffectiveAgentConfig(
            estimator_source="user",
            temperature=params["temperature"],
            history_turns=params["history_turns"],
        ),
        transcript_path=_transcript("transcript.jsonl"),
        rng=rng,
    )
    for _ in range(params["n_rounds"]):
        model.step()
    agents = model.datacollector.get_agent_vars_dataframe().reset_index()
    agents = agents.rename(columns={"Step": "round"})[
        ["round", "agent", "valence", "arousal", "dominance"]
    ]
    others = agents[agents["agent"] != 0]
    mean_others = others.groupby("round")["valence"].mean()
    infected = others.groupby("agent")["valence"].min() <= -params["infection_threshold"]
    failed = sum(r.failed for a in model.agents for r in a.affective.history)
    return TaskOutput(
        {
            "final_mean_valence": float(mean_others.iloc[-1]),
            "min_mean_valence": float(mean_others.min()),
            "infected_fraction": float(infected.mean()),
            "failed_turns": int(failed),
        },
        agents,
    )
