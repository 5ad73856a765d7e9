"""The seed paper's reported figures (arXiv 2602.08060; reference/paper.md), for printing beside predictions."""

from __future__ import annotations

# The board validation: target Llama 3.2 3B int8 on one Cortex-A55 core, drafter Llama 3.2 1B fp16 on the
# Mali-G310, no KV cache, S_L = 63, sequential; up to 1.68x measured at alpha = 0.94 (mean of 10 runs).
VALIDATED = {"soc": "imx95", "target": ("llama-3.2-3b", "int8", "a55:1"), "draft": ("llama-3.2-1b", "fp16", "mali-g310"),
             "kv_cache": False, "mode": "sequential"}
VALIDATED_SPEEDUP = 1.68
VALIDATED_ALPHA = 0.94
VALIDATED_GAMMA = 5


def validated_reference(scenario: dict) -> str | None:
    """The paper's measured speedup, if the scenario is the paper's validated mapping; else None."""
    draft = scenario.get("draft")
    if not isinstance(draft, dict) or scenario["soc"]["name"] != VALIDATED["soc"]:
        return None
    target = scenario["target"]
    if ((target["model"]["name"], target["weights_dtype"], target["placement"]) != VALIDATED["target"]
            or (draft["model"]["name"], draft["weights_dtype"], draft["placement"]) != VALIDATED["draft"]
            or scenario["kv_cache"] != VALIDATED["kv_cache"] or scenario["mode"] != VALIDATED["mode"]):
        return None
    return (f"paper, measured on the board (arXiv 2602.08060): {VALIDATED_SPEEDUP:.2f}x at alpha {VALIDATED_ALPHA}, "
            f"gamma {VALIDATED_GAMMA}, this mapping")
