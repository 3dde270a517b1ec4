"""Hosts: Gymnasium environments (ids ``seqrl/<Name>-v0``) and Mesa models.

Importing ``seqrl.envs`` registers the environments; their modules load lazily on ``gymnasium.make``.
In a fresh interpreter that has not imported seqrl, Gymnasium's own ``"module:id"`` form imports
and registers them in one call (Gymnasium 1.0 dropped entry-point plugins)::

    import gymnasium as gym

    env = gym.make("seqrl.envs:seqrl/SequentialLearning-v0")

Environments whose episodes are cut by time (continuing MDPs, fixed-horizon tasks) are registered
with ``max_episode_steps``, and Gymnasium's ``TimeLimit`` truncates them; an episode that ends
because the game ends (the last learner of a sequence, the last turn of a script) terminates.
"""

from seqrl._guard import require_namespace

require_namespace(__name__, "seqrl.envs")

import gymnasium  # noqa: E402

#: id -> (entry point, max_episode_steps). None: the env terminates by itself, or (Meta-World, whose
#: horizon depends on the task) its entry point wraps it in a TimeLimit of its own horizon.
ENVIRONMENTS: dict[str, tuple[str, int | None]] = {
    # System 1: private sequential learning (terminates after the last learner).
    "seqrl/SequentialLearning-v0": (
        "seqrl.envs.dp_sequential_learning:SequentialLearningEnv",
        None,
    ),
    # The PettingZoo game of mixed populations, one shared policy playing every seat (terminates).
    "seqrl/SequentialGame-v0": ("seqrl.envs.dp_sequential_game:SharedPolicyEnv", None),
    # System 2: IRL misspecification (continuing tabular MDPs that expose their model).
    "seqrl/TabularMDP-v0": ("seqrl.envs.irl_tabular_mdp:TabularMDPEnv", 100),
    "seqrl/RandomMDP-v0": ("seqrl.envs.irl_tabular_mdp:RandomMDPEnv", 100),
    "seqrl/Gridworld-v0": ("seqrl.envs.irl_tabular_mdp:GridworldEnv", 100),
    # System 3: imitation from observation with discount scheduling (fixed horizons).
    "seqrl/FetchDeliver-v0": ("seqrl.envs.ads_fetch_deliver:make_registered", 24),
    "seqrl/MetaWorldImitation-v0": ("seqrl.envs.ads_metaworld:make_time_limited", None),
    # System 4: affective LLM agents (terminates after the script's last turn).
    "seqrl/Dialogue-v0": ("seqrl.envs.vad_dialogue:DialogueEnv", None),
}


def register_environments() -> None:
    """Register every seqrl environment with Gymnasium (ids already registered are left alone)."""
    for env_id, (entry_point, max_episode_steps) in ENVIRONMENTS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id, entry_point=entry_point, max_episode_steps=max_episode_steps
            )


register_environments()
