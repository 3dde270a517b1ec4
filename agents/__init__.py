"""Decision makers built on mechanisms: Bayesian learners, IRL learners, ILfO agent, affective LLM agent."""

from seqrl._guard import require_namespace

require_namespace(__name__, "seqrl.agents")
