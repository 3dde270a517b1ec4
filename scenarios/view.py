"""Interactive views of the Mesa models in the browser, with Mesa's own SolaraViz.

``seqrl view sequential-learning`` (or ``vad-contagion``) serves a page on 127.0.0.1 where a person
steps, plays and resets the model and steers it with sliders:

- ``sequential-learning``: :class:`seqrl.envs.dp_sequential_learning_mesa.SequentialLearningModel`.
  The public LLR l_n after each agent, and every agent's action and report marked right or wrong
  against the state theta; sliders for the privacy budget epsilon, the signal accuracy p (binary) or
  standard deviation sigma (Gaussian), the mechanism and the number of agents.
- ``vad-contagion``: :class:`seqrl.envs.vad_dialogue_mesa.DialogueGroupModel` with the scripted
  mood-echo backend (no LLM needed): the state valence of each agent after each round; sliders for the
  number of agents, the perturbed agent's initial valence, the dynamics and momentum mu.

A slider takes effect at the next Reset (Mesa re-creates the model from the sliders' values). The
module needs the ``viz`` extra (solara, altair); :func:`serve` runs Solara's server in this process.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz

from seqrl.agents.vad_llm_backends import ScriptedBackend, mood_echo
from seqrl.envs.dp_sequential_learning_mesa import SequentialLearningModel
from seqrl.envs.vad_dialogue_mesa import DialogueGroupModel
from seqrl.mechanisms.vad_affect import AffectDynamicsParams
from seqrl.scenarios.plots.style import OKABE_ITO, series_style

VIEWS = {"sequential-learning": "SequentialLearningPage", "vad-contagion": "ContagionPage"}
"""The models ``seqrl view`` serves, and the Solara page of each in this module."""

RIGHT, WRONG = OKABE_ITO[2], OKABE_ITO[1]
"""Colours of a right and a wrong action or report (also told apart by marker: o and x)."""


class SequentialLearningView(SequentialLearningModel):
    """:class:`SequentialLearningModel` with the view's few parameters; binary signals are
    privatised by randomized response (smoothed randomized response needs Gaussian signals)."""

    def __init__(
        self,
        n_agents: int = 100,
        signal: str = "gaussian",
        p: float = 0.7,
        sigma: float = 1.0,
        mechanism: str = "smoothed",
        epsilon: float = 1.0,
        rng: int | None = 0,
    ) -> None:
        if signal == "binary":
            mechanism = "randomized_response"
        super().__init__(n_agents=n_agents, signal=signal, p=p, sigma=sigma, mechanism=mechanism,
                         epsilon=epsilon, rng=rng)  # fmt: skip
        accuracy = {"p": p} if signal == "binary" else {"sigma": sigma}
        self.parameters = {"signal": signal, "mechanism": mechanism, "epsilon": epsilon, **accuracy}


SEQUENTIAL_LEARNING_PARAMS: dict[str, Any] = {
    "n_agents": {"type": "SliderInt", "value": 100, "min": 10, "max": 500, "step": 10,
                 "label": "agents"},
    "signal": {"type": "Select", "value": "gaussian", "values": ["gaussian", "binary"],
               "label": "signal"},
    "mechanism": {"type": "Select", "value": "smoothed",
                  "values": ["smoothed", "randomized_response"],
                  "label": "mechanism (binary signals: randomized response)"},
    "epsilon": {"type": "SliderFloat", "value": 1.0, "min": 0.1, "max": 10.0, "step": 0.1,
                "label": "epsilon (privacy budget)"},
    "p": {"type": "SliderFloat", "value": 0.7, "min": 0.55, "max": 0.95, "step": 0.05,
          "label": "p (binary signal accuracy)"},
    "sigma": {"type": "SliderFloat", "value": 1.0, "min": 0.2, "max": 3.0, "step": 0.1,
              "label": "sigma (Gaussian signal s.d.)"},
    "rng": {"type": "SliderInt", "value": 0, "min": 0, "max": 99, "step": 1, "label": "seed"},
}  # fmt: skip


def _parameter_text(model: Any) -> str:
    return ", ".join(
        f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
        for k, v in model.parameters.items()
    )


def public_llr_figure(model: SequentialLearningView) -> Figure:
    """The public LLR l_n after each agent n, with the state theta's sign."""
    figure = Figure(figsize=(6, 3.6), dpi=100)
    axis = figure.subplots()
    frame = model.datacollector.get_model_vars_dataframe()
    agents = np.arange(1, len(frame) + 1)
    axis.plot(agents, frame["public_llr"] if len(frame) else [], **series_style(0), ms=3,
              markevery=max(1, len(frame) // 20), label="public LLR l_n")  # fmt: skip
    axis.axhline(0, color="grey", lw=0.6)
    axis.set(xlim=(0, model.n_agents + 1), xlabel="agent n", ylabel="public LLR l_n")
    axis.set_title(
        f"Public LLR l_n after each agent n (state theta = {model.theta:+d})", fontsize=9
    )
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.14, top=0.9)
    return figure


def actions_figure(model: SequentialLearningView) -> Figure:
    """Each agent's action and public report, right (o) or wrong (x) against theta."""
    figure = Figure(figsize=(6, 2.4), dpi=100)
    axis = figure.subplots()
    acted = model.arrivals[: model.turn]
    for row, what in ((1, "action"), (0, "report")):
        values = np.array([getattr(agent, what) for agent in acted])
        index = np.arange(1, values.size + 1)
        right = values == model.theta
        axis.scatter(index[right], np.full(right.sum(), row), c=RIGHT, marker="o", s=14,
                     label=f"right {what}")  # fmt: skip
        axis.scatter(index[~right], np.full((~right).sum(), row), c=WRONG, marker="x", s=14,
                     label=f"wrong {what}")  # fmt: skip
    wrong = sum(agent.action != model.theta for agent in acted)
    axis.set(xlim=(0, model.n_agents + 1), ylim=(-0.7, 1.7), yticks=[0, 1],
             yticklabels=["report", "action"], xlabel="agent n")  # fmt: skip
    axis.set_title(f"Actions and reports against theta: {wrong} wrong actions of {len(acted)}",
                   fontsize=9)  # fmt: skip
    axis.legend(fontsize=6, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.38, top=0.88)
    return figure


def _image(figure: Figure, name: str) -> Any:
    """A figure as a PNG image element with the CSS class ``seqrl-<name>`` (for a browser test)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return solara.Image(buffer.getvalue(), format="png", classes=[f"seqrl-{name}"])


def PublicLlrPlot(model: SequentialLearningView) -> Any:
    return _image(public_llr_figure(model), "llr-plot")


def ActionsPlot(model: SequentialLearningView) -> Any:
    return _image(actions_figure(model), "actions-plot")


def SequentialLearningStatus(model: SequentialLearningView) -> Any:
    return solara.Markdown(
        f"**{_parameter_text(model)}**: {model.turn} of {model.n_agents} agents acted; "
        f"public LLR {model.public_llr:.3f}; theta {model.theta:+d}"
    )


@solara.component
def SequentialLearningPage() -> None:
    """The sequential-learning model with its sliders, LLR plot and actions plot."""
    model = solara.use_memo(lambda: SequentialLearningView(), [])
    SolaraViz(
        model,
        components=[PublicLlrPlot, ActionsPlot, SequentialLearningStatus],
        model_params=SEQUENTIAL_LEARNING_PARAMS,
        name="seqrl: private sequential learning",
        play_interval=50,
    )


class ContagionView(DialogueGroupModel):
    """:class:`DialogueGroupModel` with scripted mood-echo replies (no LLM) and the view's knobs.

    The lexicon estimator needs the ``vad`` extra (vaderSentiment) when the model is created."""

    def __init__(
        self,
        n_agents: int = 4,
        seed_valence: float = -0.9,
        condition: str = "second-order",
        mu: float = 0.8,
        alpha: float = 0.2,
        rng: int | None = 0,
    ) -> None:
        dynamics = AffectDynamicsParams(condition=condition, mu=mu, alpha=alpha)  # type: ignore[arg-type]
        backend = ScriptedBackend(mood_echo)
        super().__init__(n_agents=n_agents, dynamics=dynamics, backend_factory=lambda _: backend,
                         seed_valence=seed_valence, rng=rng)  # fmt: skip
        self.parameters = {"condition": condition, "mu": mu, "alpha": alpha,
                           "seed_valence": seed_valence}  # fmt: skip


CONTAGION_PARAMS: dict[str, Any] = {
    "n_agents": {"type": "SliderInt", "value": 4, "min": 2, "max": 10, "step": 1,
                 "label": "agents"},
    "seed_valence": {"type": "SliderFloat", "value": -0.9, "min": -1.0, "max": 1.0, "step": 0.1,
                     "label": "initial valence of agent 0"},
    "condition": {"type": "Select", "value": "second-order",
                  "values": ["stateless", "first-order", "second-order"], "label": "dynamics"},
    "mu": {"type": "SliderFloat", "value": 0.8, "min": 0.0, "max": 0.95, "step": 0.05,
           "label": "momentum mu (second order)"},
    "alpha": {"type": "SliderFloat", "value": 0.2, "min": 0.05, "max": 1.0, "step": 0.05,
              "label": "smoothing alpha (first order)"},
    "rng": {"type": "SliderInt", "value": 0, "min": 0, "max": 99, "step": 1, "label": "seed"},
}  # fmt: skip


def valence_figure(model: Any) -> Figure:
    """The state valence of each agent after each round (agent 0 starts perturbed)."""
    figure = Figure(figsize=(6, 3.6), dpi=100)
    axis = figure.subplots()
    frame = model.datacollector.get_agent_vars_dataframe().reset_index()
    for agent, rows in frame.groupby("agent"):
        label = "agent 0 (perturbed)" if agent == 0 else f"agent {agent}"
        axis.plot(rows["Step"], rows["valence"], label=label, ms=4, **series_style(int(agent)))
    axis.axhline(0, color="grey", lw=0.6)
    axis.set(ylim=(-1.05, 1.05), xlabel="round", ylabel="state valence")
    axis.set_title("State valence of each agent by round", fontsize=9)
    axis.legend(fontsize=6)
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.14, top=0.9)
    return figure


def ValencePlot(model: Any) -> Any:
    return _image(valence_figure(model), "valence-plot")


def ContagionStatus(model: Any) -> Any:
    return solara.Markdown(
        f"**{_parameter_text(model)}**: round {model.round}; mean valence of the others "
        f"{model.mean_valence_others:.3f}"
    )


@solara.component
def ContagionPage() -> None:
    """The VAD contagion model with its sliders and the valence plot."""
    model = solara.use_memo(lambda: ContagionView(), [])
    SolaraViz(
        model,
        components=[ValencePlot, ContagionStatus],
        model_params=CONTAGION_PARAMS,
        name="seqrl: affect contagion",
        play_interval=200,
    )


def serve(view: str, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve ``view`` (a key of :data:`VIEWS`) with Solara's server until interrupted."""
    from solara.__main__ import cli

    cli.main(
        ["run", f"{__name__}:{VIEWS[view]}", "--host", host, "--port", str(port), "--no-open",
         "--production"],
        standalone_mode=False,
    )  # fmt: skip
