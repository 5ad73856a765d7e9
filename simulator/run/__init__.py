"""One simulation: the scenario, building it, running it, and its typed results."""
