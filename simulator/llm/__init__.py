"""LLMs as workloads: model specs, forward-pass DAGs, and costing them into engine plans."""
