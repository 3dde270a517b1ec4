"""A Gymnasium environment that plays a fixed user script to a dialogue agent, turn by turn.

The default script is the 25-turn protocol of Subaharan (2026), arXiv 2601.16087: neutral
conversation (turns 1-5), hostile philosophical perturbation (6-15), reconciliation (16-25). Users
can supply their own script as JSON (``{"turns": [{"phase": ..., "text": ...}, ...]}``) or JSON
lines (one ``{"phase": ..., "text": ...}`` per line).
"""

from __future__ import annotations

import importlib.resources
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from seqrl.mechanisms.vad_affect import LexiconAffectEstimator

PHASES = ("neutral", "perturbation", "reconciliation")
MAX_TEXT_LENGTH = 4096


@dataclass(frozen=True)
class DialogueScript:
    """A user script: one text per turn, each tagged with its phase.

    Attributes:
        texts: The user's turns, in order.
        phases: The phase of each turn: neutral, then perturbation, then reconciliation.
        name: A label for the script.
    """

    texts: tuple[str, ...]
    phases: tuple[str, ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.phases):
            raise ValueError("script: texts and phases must have the same length")
        for turn, text in enumerate(self.texts, start=1):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(
                    f"script turn {turn}: text must be a non-empty string, got {text!r}"
                )
        order = [PHASES.index(p) if p in PHASES else -1 for p in self.phases]
        if -1 in order:
            bad = self.phases[order.index(-1)]
            raise ValueError(f"script phase must be one of {', '.join(PHASES)}, got {bad!r}")
        if order != sorted(order) or set(order) != {0, 1, 2}:
            raise ValueError(
                "script phases must run neutral, then perturbation, then reconciliation, each at "
                "least one turn"
            )

    @property
    def perturbation_start(self) -> int:
        """1-based turn number of the perturbation's onset."""
        return self.phases.index("perturbation") + 1

    @property
    def reconciliation_start(self) -> int:
        """1-based turn number of the reconciliation's onset."""
        return self.phases.index("reconciliation") + 1

    def __len__(self) -> int:
        return len(self.texts)


def _from_entries(entries: Any, name: str) -> DialogueScript:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"script {name}: expected a list of {{'phase', 'text'}} objects")
    try:
        return DialogueScript(
            texts=tuple(e["text"] for e in entries),
            phases=tuple(e["phase"] for e in entries),
            name=name,
        )
    except KeyError as error:
        raise ValueError(f"script {name}: a turn lacks the key {error}") from None


def load_dialogue_script(source: str | Path | None = None) -> DialogueScript:
    """Load a user script.

    Args:
        source: None or "default" for the packaged 25-turn protocol; otherwise a .json or .jsonl
            file path.

    Raises:
        ValueError: the file is missing, does not parse, or is not a valid script.
    """
    if source is None or str(source) == "default":
        resource = importlib.resources.files("seqrl.envs") / "data" / "vad_protocol.json"
        data = json.loads(resource.read_text(encoding="utf-8"))
        return _from_entries(data["turns"], data.get("name", "default"))
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"script file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    entries: Any
    try:
        if path.suffix == ".jsonl":
            entries = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
            entries = data.get("turns") if isinstance(data, dict) else data
    except json.JSONDecodeError as error:
        raise ValueError(f"script file {str(path)!r} does not parse: {error}") from None
    return _from_entries(entries, path.stem)


class DialogueEnv(gym.Env):
    """## Description
    The user side of a scripted multi-turn dialogue. Each step the agent replies (the action) to
    the current user turn (the observation); the environment answers with the script's next turn.

    ## Action Space
    ``Text``: the agent's reply (an empty reply marks a failed turn).

    ## Observation Space
    ``Text``: the user's current turn ("" once the script has ended).

    ## Rewards
    The VADER compound valence of the agent's reply in [-1, 1] (0 for an empty reply): a signal for
    agents that learn to keep a conversation positive. The scenarios use the info dict instead.

    ## Starting State
    The script's first turn. The script is fixed; ``seed`` only seeds ``np_random``.

    ## Episode End
    Terminates after the agent has answered the last turn.

    ## Info
    ``turn`` (1-based number of the observed turn), ``phase``, ``user_estimate`` (V, A, D of it).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        script: DialogueScript | str | Path | None = None,
        estimator: LexiconAffectEstimator | None = None,
    ) -> None:
        self.script = script if isinstance(script, DialogueScript) else load_dialogue_script(script)
        self.estimator = estimator or LexiconAffectEstimator()
        charset = "".join(sorted(set(string.printable).union(*self.script.texts)))
        self.observation_space = spaces.Text(MAX_TEXT_LENGTH, min_length=0, charset=charset)
        self.action_space = spaces.Text(MAX_TEXT_LENGTH, min_length=0, charset=charset)
        self._turn = 0

    def _info(self) -> dict[str, Any]:
        return {
            "turn": self._turn + 1,
            "phase": self.script.phases[self._turn],
            "user_estimate": self.estimator.estimate(self.script.texts[self._turn]),
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start the script again from its first turn."""
        super().reset(seed=seed)
        self._turn = 0
        return self.script.texts[0], self._info()

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Take the agent's reply to the current turn and present the next one.

        Raises:
            ValueError: the reply is not a string.
            RuntimeError: the episode has ended (call reset).
        """
        if not isinstance(action, str):
            raise ValueError(f"action must be the reply text (str), got {type(action).__name__}")
        if self._turn >= len(self.script):
            raise RuntimeError("the dialogue has ended; call reset()")
        reward = float(self.estimator.estimate(action)[0]) if action.strip() else 0.0
        self._turn += 1
        terminated = self._turn == len(self.script)
        if terminated:
            return "", reward, True, False, {"turn": self._turn, "phase": "end"}
        return self.script.texts[self._turn], reward, False, False, self._info()
