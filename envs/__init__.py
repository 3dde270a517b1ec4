"""Hosts: Gymnasium environments (ids ``seqrl/<Name>-v0``) and Mesa models.

Importing this package registers the environments; their modules load lazily on ``gymnasium.make``.
"""

import gymnasium

_ENVIRONMENTS = {
    # System 1: private sequential learning.
    "seqrl/SequentialLearning-v0": "envs.sequential_learning:SequentialLearningEnv",
    # System 2: IRL misspecification (tabular MDPs that expose their model).
    "seqrl/TabularMDP-v0": "envs.tabular_mdp:TabularMDPEnv",
    "seqrl/RandomMDP-v0": "envs.tabular_mdp:RandomMDPEnv",
    "seqrl/Gridworld-v0": "envs.tabular_mdp:GridworldEnv",
    # System 3: imitation from observation with discount scheduling.
    "seqrl/FetchDeliver-v0": "envs.fetch_deliver:FetchDeliverEnv",
    "seqrl/MetaWorldImitation-v0": "envs.metaworld_imitation:MetaWorldImitationEnv",
    # System 4: affective LLM agents.
    "seqrl/Dialogue-v0": "envs.dialogue:DialogueEnv",
}

for _env_id, _entry_point in _ENVIRONMENTS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point=_entry_point)
