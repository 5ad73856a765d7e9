"""Results of a run, read from the engine's event log and DRAM samples. Units are in every key name."""

from __future__ import annotations

import numpy as np

from simulator.engine.engine import Engine
from simulator.engine.eventlog import union_s
from simulator.decode.speculative import SpecLog


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "p50": None, "p90": None}
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "p50": float(np.percentile(arr, 50)), "p90": float(np.percentile(arr, 90))}


def decoding_results(engine: Engine, weight_bytes_per_token: float) -> dict:
    """Latency, throughput, PU busy time and DRAM traffic of a run of one or more samples.

    Time to first token is, per sample, from its start until its first token reaches the host (averaged over
    samples); time per output token is the gap between consecutive tokens of a sample after the first (tokens
    emitted together by one speculative round have gaps of zero); decode tokens/s counts every token after
    each sample's first over the time they took. The roofline floor is the weight bytes one decode pass reads
    over the DRAM's peak bandwidth: no decoder that streams its weights once per token can beat it.
    """
    log, soc = engine.log, engine.soc
    total = engine.env.now
    gaps = [b - a for times in log.samples for a, b in zip(times, times[1:])]
    ttfts = [times[0] - start for times, start in zip(log.samples, log.sample_starts_s)]
    decode_span = sum(times[-1] - times[0] for times in log.samples)
    bytes_total = log.bytes_total()
    peak = engine.dram.peak_B_s
    spans = log.spans()
    busy = {pu.name: union_s(spans.get(pu.name, {}).get("draft", []) + spans.get(pu.name, {}).get("target", []))
            for pu in soc.pus}
    floor = weight_bytes_per_token / soc.dram.peak_bandwidth_B_s
    return {
        "ttft_s": float(np.mean(ttfts)),
        "time_per_output_token_s": _percentiles(gaps),
        "decode_tokens_per_s": (len(gaps) / decode_span) if decode_span > 0 else None,
        "tokens_per_s": sum(len(t) for t in log.samples) / total if total > 0 else None,
        "total_time_s": total,
        "samples": len(log.samples),
        "tokens_generated": sum(len(t) for t in log.samples),
        "roofline_floor_s_per_token": floor,
        "roofline_ceiling_tokens_per_s": 1.0 / floor,
        "weight_bytes_per_token_B": weight_bytes_per_token,
        "busy_s": busy,
        "utilisation": {name: (b / total if total > 0 else 0.0) for name, b in busy.items()},
        "dram_bandwidth_B_s": {"mean": bytes_total / total if total > 0 else 0.0, "peak": peak},
        "dram_bytes_B": bytes_total,
        "dram_contention_s": log.contention_s(),
        "ops_simulated": log.ops_count(),
    }


def time_split(spans: dict, pu_names: list[str], total_s: float) -> dict[str, dict[str, float]]:
    """Per PU, wall time spent drafting, verifying, handing off (booked on the receiving PU), and idle (nothing
    at all running there). On a CPU cluster whose cores are split between the two models, drafting and
    verifying can run at once, so the parts may add up to more than the total. `spans`: EventLog.spans()."""
    out = {}
    for pu in pu_names:
        parts = spans.get(pu, {})
        draft, verify, handoff = parts.get("draft", []), parts.get("target", []), parts.get("handoff", [])
        out[pu] = {"draft_s": union_s(draft), "verify_s": union_s(verify), "handoff_s": union_s(handoff),
                   "idle_s": max(0.0, total_s - union_s(draft + verify + handoff))}
    return out


def speculative_results(engine: Engine, spec: SpecLog, baseline: dict) -> dict:
    """What speculation adds: speedup against the baseline, acceptance, and where the time went."""
    rounds = spec.rounds
    total = engine.env.now
    return {
        "speedup": baseline["total_time_s"] / total if total > 0 else None,
        "rounds": len(rounds),
        "mean_accepted_per_round": float(np.mean([r.accepted for r in rounds])) if rounds else 0.0,
        "tokens_per_round": float(np.mean([r.tokens for r in rounds])) if rounds else 0.0,
        "drafts_proposed": sum(r.drafts for r in rounds),
        "drafts_accepted": sum(r.accepted for r in rounds),
        "wasted_draft_s": engine.log.duration_of(spec.discarded_passes),
        "drawn_agreement_positions": spec.drawn_positions,
        "time_split_s": time_split(engine.log.spans(), [pu.name for pu in engine.soc.pus], total),
        "baseline": baseline,
    }
