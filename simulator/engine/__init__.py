"""The discrete-event engine: plans of tasks on placements, core locks, DRAM sharing, the event log; knows nothing of LLMs."""
