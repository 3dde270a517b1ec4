"""Decision makers built on mechanisms: Bayesian learners, IRL learners, ILfO agent, affective LLM agent."""
