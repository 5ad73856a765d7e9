"""Results of a run, read from the engine's event log and DRAM samples. Units are in every key name."""

from __future__ import annotations

import numpy as np

from .engine import Engine


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "p50": None, "p90": None}
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "p50": float(np.percentile(arr, 50)), "p90": float(np.percentile(arr, 90))}


def decoding_results(engine: Engine, weight_bytes_per_token: float) -> dict:
    """Latency, throughput, PU busy time and DRAM traffic of an autoregressive run.

    Time to first token is when the prefill's token reaches the host; time per output token is the gap between
    consecutive tokens after that; decode tokens/s counts the tokens after the first over the time they took.
    The roofline floor is the weight bytes one decode pass reads over the DRAM's peak bandwidth: no decoder
    that streams its weights once per token can beat it.
    """
    log, soc = engine.log, engine.soc
    total = engine.env.now
    tokens = log.token_times_s
    gaps = [b - a for a, b in zip(tokens, tokens[1:])]
    decode_span = tokens[-1] - tokens[0] if len(tokens) > 1 else 0.0
    bytes_total = sum(e.bytes for e in log.ops)
    samples = engine.dram.samples
    peak = max((s.total_B_s for s in samples), default=0.0)
    busy = {pu.name: log.busy_s(pu.name) for pu in soc.pus}
    floor = weight_bytes_per_token / soc.dram.peak_bandwidth_B_s
    return {
        "ttft_s": tokens[0],
        "time_per_output_token_s": _percentiles(gaps),
        "decode_tokens_per_s": (len(gaps) / decode_span) if decode_span > 0 else None,
        "total_time_s": total,
        "tokens_generated": len(tokens),
        "roofline_floor_s_per_token": floor,
        "roofline_ceiling_tokens_per_s": 1.0 / floor,
        "weight_bytes_per_token_B": weight_bytes_per_token,
        "busy_s": busy,
        "utilisation": {name: (b / total if total > 0 else 0.0) for name, b in busy.items()},
        "dram_bandwidth_B_s": {"mean": bytes_total / total if total > 0 else 0.0, "peak": peak},
        "dram_bytes_B": bytes_total,
        "dram_contention_s": sum(e.contention_s for e in log.ops),
        "ops_simulated": sum(1 for e in log.ops if e.kind != "handoff"),
    }
