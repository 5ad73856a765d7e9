"""The seed paper's reported figures (arXiv 2602.08060; reference/paper.md), for printing beside predictions."""

from __future__ import annotations

from simulator.run.scenario import Scenario

# The board validation: target Llama 3.2 3B int8 on one Cortex-A55 core, drafter Llama 3.2 1B fp16 on the
# Mali-G310, no KV cache, S_L = 63, sequential; up to 1.68x measured at alpha = 0.94 (mean of 10 runs).
VALIDATED = {"soc": "imx95", "target": ("llama-3.2-3b", "int8", "a55:1"), "draft": ("llama-3.2-1b", "fp16", "mali-g310"),
             "kv_cache": False, "mode": "sequential"}
VALIDATED_SPEEDUP = 1.68
VALIDATED_ALPHA = 0.94
VALIDATED_GAMMA = 5


def validated_reference(scenario: Scenario) -> str | None:
    """The paper's measured speedup, if the scenario is the paper's validated mapping; else None."""
    spec = scenario.speculation
    if spec is None or scenario.soc.name != VALIDATED["soc"]:
        return None
    target_at, draft_at = scenario.placements()
    if ((scenario.target.spec.name, scenario.target.precision.weights, target_at.label) != VALIDATED["target"]
            or (spec.draft.spec.name, spec.draft.precision.weights, draft_at.label) != VALIDATED["draft"]
            or scenario.kv_cache != VALIDATED["kv_cache"] or spec.mode != VALIDATED["mode"]):
        return None
    return (f"paper, measured on the board (arXiv 2602.08060): {VALIDATED_SPEEDUP:.2f}x at alpha {VALIDATED_ALPHA}, "
            f"gamma {VALIDATED_GAMMA}, this mapping")


# Table II (alpha = 0.90, S_L = 63) and Table III (alpha = 0.17): the best choice per variant (k A55 cores).
TABLE_II = {1: (True, 5, True, 1.68), 2: (True, 2, True, 1.10), 3: (False, 0, False, 1.0), 4: (False, 0, False, 1.0),
            5: (True, 1, False, 1.02), 6: (False, 0, False, 1.0)}   # k: (speculate, gamma, heterogeneous, speedup)
TABLE_III = {k: (False, 0, False, 1.0) for k in range(1, 7)}


def table_for(soc_name: str, alpha: float, target: tuple[str, str], draft: tuple[str, str]) -> dict | None:
    """The paper's table for this SoC, model pair ((name, weights dtype) each) and alpha (Table II at 0.90,
    Table III at 0.17), if there is one."""
    if soc_name != "imx95" or target != VALIDATED["target"][:2] or draft != VALIDATED["draft"][:2]:
        return None
    return {0.90: TABLE_II, 0.17: TABLE_III}.get(round(alpha, 2))
