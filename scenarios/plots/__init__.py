"""Plots of the built-in scenarios, one module per system; kept apart from the experiments."""
