"""Output for people and tools: rich tables, Chrome/Perfetto timelines, matplotlib figures."""
