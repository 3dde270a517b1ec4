"""The dialogue Gymnasium env, user scripts, and the Mesa conversation model."""

import json

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import seqrl.envs  # noqa: F401  (registers seqrl/Dialogue-v0)
from seqrl.agents.vad_llm_backends import ScriptedBackend, mood_echo
from seqrl.envs.vad_dialogue import DialogueEnv, DialogueScript, load_dialogue_script
from seqrl.envs.vad_dialogue_mesa import DialogueGroupModel
from seqrl.mechanisms.vad_affect import AffectDynamicsParams, LexiconAffectEstimator


@pytest.fixture(scope="module")
def estimator() -> LexiconAffectEstimator:
    return LexiconAffectEstimator()


def test_default_protocol_has_the_papers_phases(estimator):
    script = load_dialogue_script()
    assert len(script) == 25
    assert script.phases == ("neutral",) * 5 + ("perturbation",) * 10 + ("reconciliation",) * 10
    assert (script.perturbation_start, script.reconciliation_start) == (6, 16)
    valence = estimator.estimate_many(list(script.texts))[:, 0]
    assert np.all(valence[5:15] < -0.5)  # hostile
    assert np.all(valence[15:] > 0.3)  # reconciling
    assert np.all(np.abs(valence[:5]) < 0.3)  # neutral


def test_registered_env_plays_the_script(estimator):
    env = gymnasium.make("seqrl/Dialogue-v0")
    observation, info = env.reset(seed=3)
    script = load_dialogue_script()
    assert observation == script.texts[0] and info["turn"] == 1 and info["phase"] == "neutral"
    rewards, turns = [], 0
    terminated = False
    while not terminated:
        observation, reward, terminated, truncated, info = env.step("Thank you, that is lovely.")
        rewards.append(reward)
        turns += 1
        assert not truncated
        if not terminated:
            assert observation == script.texts[turns]
            assert info["phase"] == script.phases[turns]
    assert turns == 25
    assert rewards == pytest.approx([estimator.estimate("Thank you, that is lovely.")[0]] * 25)
    with pytest.raises(RuntimeError, match="call reset"):
        env.unwrapped.step("more")


def test_env_passes_the_gymnasium_checker(estimator):
    check_env(DialogueEnv(estimator=estimator), skip_render_check=True)


def test_env_rejects_non_text_actions(estimator):
    env = DialogueEnv(estimator=estimator)
    env.reset()
    with pytest.raises(ValueError, match="action must be the reply text"):
        env.step(42)


def test_user_scripts_load_from_json_and_jsonl(tmp_path):
    turns = [
        {"phase": "neutral", "text": "Hi."},
        {"phase": "perturbation", "text": "You fool."},
        {"phase": "reconciliation", "text": "Sorry, friend."},
    ]
    (tmp_path / "s.json").write_text(json.dumps({"turns": turns}))
    (tmp_path / "s.jsonl").write_text("\n".join(json.dumps(t) for t in turns))
    for name in ("s.json", "s.jsonl"):
        script = load_dialogue_script(tmp_path / name)
        assert script.texts == ("Hi.", "You fool.", "Sorry, friend.")
        assert (script.perturbation_start, script.reconciliation_start) == (2, 3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "does not parse"),
        ('{"turns": [{"phase": "neutral"}]}', "lacks the key 'text'"),
        ('{"turns": 3}', "expected a list"),
        (
            '[{"phase": "neutral", "text": ""}, {"phase": "perturbation", "text": "a"}, '
            '{"phase": "reconciliation", "text": "b"}]',
            "text must be a non-empty string",
        ),
        (
            '[{"phase": "perturbation", "text": "a"}, {"phase": "neutral", "text": "b"}, '
            '{"phase": "reconciliation", "text": "c"}]',
            "must run neutral, then perturbation",
        ),
        ('[{"phase": "angry", "text": "a"}]', "phase must be one of"),
    ],
)
def test_bad_scripts_raise_value_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_dialogue_script(path)


def test_missing_script_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_dialogue_script(tmp_path / "nope.json")


def _group(condition: str, seed: int) -> DialogueGroupModel:
    model = DialogueGroupModel(
        n_agents=4,
        dynamics=AffectDynamicsParams(condition=condition, alpha=0.5),
        backend_factory=lambda _: ScriptedBackend(mood_echo),
        seed_valence=-0.9,
        rng=seed,
    )
    for _ in range(5):
        model.step()
    return model


def test_hostile_agent_spreads_negative_affect_only_when_state_is_injected():
    injected = _group("first-order", seed=1).datacollector.get_model_vars_dataframe()
    stateless = _group("stateless", seed=1).datacollector.get_model_vars_dataframe()
    # Stateless agents say nothing affective: nobody hears hostility, nobody turns negative.
    assert stateless["mean_valence_others"].min() >= 0.0
    # With injection the perturbed agent speaks its hostile state and the others follow it down.
    assert injected["mean_valence_others"].min() < -0.1


def test_group_model_is_deterministic_given_its_seed():
    first = _group("second-order", seed=7).datacollector.get_agent_vars_dataframe()
    again = _group("second-order", seed=7).datacollector.get_agent_vars_dataframe()
    assert first.equals(again)
    assert len(first) == 4 * 6  # initial collection + 5 rounds


def test_group_model_shares_the_given_estimator_and_starts_neutral(estimator):
    model = DialogueGroupModel(
        3,
        AffectDynamicsParams(),
        lambda _: ScriptedBackend(["x"]),
        seed_valence=-0.5,
        estimator=estimator,
        rng=0,
    )
    assert all(agent.affective.estimator is estimator for agent in model.agents)
    states = {agent.index: agent.affective.state.tolist() for agent in model.agents}
    assert states == {0: [-0.5, 0.0, 0.0], 1: [0.0, 0.0, 0.0], 2: [0.0, 0.0, 0.0]}


def test_group_model_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_agents must be >= 2"):
        DialogueGroupModel(1, AffectDynamicsParams(), lambda _: ScriptedBackend(["x"]))
    with pytest.raises(ValueError, match="seed_valence must be in"):
        DialogueGroupModel(
            2, AffectDynamicsParams(), lambda _: ScriptedBackend(["x"]), seed_valence=-2.0
        )


def test_script_dataclass_validates_lengths():
    with pytest.raises(ValueError, match="same length"):
        DialogueScript(("a",), ("neutral", "perturbation"))
