"""Results of a run, typed: read from the engine's event log and DRAM counter and the decoding loops' logs.

Units are in every field name; `to_json()` gives the "results" block of `specsoc run --json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from simulator.decode.runtime import ROLES, TokenLog, role_of
from simulator.decode.speculative import SpecLog
from simulator.engine.engine import Engine
from simulator.engine.eventlog import union_s
from simulator.run.interval import Interval, ratio_ci95


@dataclass(frozen=True)
class Percentiles:
    mean: float | None
    p50: float | None
    p90: float | None

    @classmethod
    def of(cls, values: list[float]) -> "Percentiles":
        if not values:
            return cls(None, None, None)
        ordered = sorted(values)
        return cls(float(np.mean(values)), _percentile(ordered, 0.5), _percentile(ordered, 0.9))


def _percentile(ordered: list[float], q: float) -> float:
    """numpy.percentile's default (linear) method on sorted values, as numpy computes it (its first call costs
    ~10 ms of imports, more than a whole run)."""
    h = (len(ordered) - 1) * q
    lo = int(h)
    t = h - lo
    a, b = ordered[lo], ordered[min(lo + 1, len(ordered) - 1)]
    return float(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)


@dataclass(frozen=True)
class Bandwidth:
    mean: float
    peak: float


@dataclass(frozen=True)
class DecodingResults:
    """Latency, throughput, PU busy time and DRAM traffic of a run of one or more samples.

    Time to first token is, per sample, from its start until its first token reaches the host (averaged over
    samples); time per output token is the gap between consecutive tokens of a sample after the first (tokens
    emitted together by one speculative round have gaps of zero); decode tokens/s counts every token after
    each sample's first over the time they took. The roofline floor is the weight bytes one decode pass reads
    over the DRAM's peak bandwidth: no decoder that streams its weights once per token can beat it. Samples run
    one after another; a sample's time is from its start to the next one's (the last one's, to the end).
    """

    ttft_s: float
    time_per_output_token_s: Percentiles
    decode_tokens_per_s: float | None
    tokens_per_s: float | None
    total_time_s: float
    sample_times_s: list[float]
    samples: int
    tokens_generated: int
    roofline_floor_s_per_token: float
    roofline_ceiling_tokens_per_s: float
    weight_bytes_per_token_B: float
    busy_s: dict[str, float]
    utilisation: dict[str, float]
    dram_bandwidth_B_s: Bandwidth
    dram_bytes_B: float
    dram_contention_s: float
    ops_simulated: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TimeSplit:
    """Wall time of one PU: drafting, verifying, handing off (booked on the receiving PU), and idle."""

    draft_s: float
    verify_s: float
    handoff_s: float
    idle_s: float


@dataclass(frozen=True)
class SpeculativeResults(DecodingResults):
    """What speculation adds: speedup against the baseline, acceptance, and where the time went. The speedup is
    the baseline's total time over the speculative run's, its 95% interval over the samples from their paired
    times (run/interval.py; None with one sample)."""

    speedup: float | None
    speedup_ci95: Interval
    rounds: int
    mean_accepted_per_round: float
    tokens_per_round: float
    drafts_proposed: int
    drafts_accepted: int
    wasted_draft_s: float
    drawn_agreement_positions: int
    time_split_s: dict[str, TimeSplit]
    baseline: DecodingResults


def reported_pus(soc, spans: dict) -> list[str]:
    """The PUs a run's results report: every CPU cluster and GPU, and the NPUs the run used (an NPU no model is
    placed on would only add an idle row)."""
    return [pu.name for pu in soc.pus if pu.kind != "npu" or pu.name in spans]


def decoding_results(engine: Engine, tokens: TokenLog, weight_bytes_per_token: float,
                     spans: dict | None = None) -> DecodingResults:
    """A run's DecodingResults (see its docstring for what each figure means); `spans`: the log's, if at hand."""
    log, soc = engine.log, engine.soc
    total = engine.env.now
    gaps = [b - a for times in tokens.samples for a, b in zip(times, times[1:])]
    ttfts = [times[0] - start for times, start in zip(tokens.samples, tokens.starts_s)]
    decode_span = sum(times[-1] - times[0] for times in tokens.samples)
    bytes_total = log.bytes_total()
    spans = spans or log.spans(role_of)
    busy = {pu: union_s(*(spans.get(pu, {}).get(role, ()) for role in ROLES)) for pu in reported_pus(soc, spans)}
    floor = weight_bytes_per_token / soc.dram.peak_bandwidth_B_s
    generated = sum(len(t) for t in tokens.samples)
    return DecodingResults(
        ttft_s=float(np.mean(ttfts)),
        time_per_output_token_s=Percentiles.of(gaps),
        decode_tokens_per_s=(len(gaps) / decode_span) if decode_span > 0 else None,
        tokens_per_s=generated / total if total > 0 else None,
        total_time_s=total,
        sample_times_s=[end - start for start, end in zip(tokens.starts_s, [*tokens.starts_s[1:], total])],
        samples=len(tokens.samples),
        tokens_generated=generated,
        roofline_floor_s_per_token=floor,
        roofline_ceiling_tokens_per_s=1.0 / floor,
        weight_bytes_per_token_B=weight_bytes_per_token,
        busy_s=busy,
        utilisation={name: (b / total if total > 0 else 0.0) for name, b in busy.items()},
        dram_bandwidth_B_s=Bandwidth(bytes_total / total if total > 0 else 0.0, engine.dram.peak_B_s),
        dram_bytes_B=bytes_total,
        dram_contention_s=log.contention_s(),
        ops_simulated=log.ops_count(),
    )


def speedup_over(baseline: DecodingResults, run: DecodingResults) -> tuple[float | None, Interval]:
    """baseline total / run total (None for a run of no time), and its 95% interval over their paired samples
    (None with one sample)."""
    total = run.total_time_s
    if total <= 0:
        return None, None
    speedup = baseline.total_time_s / total
    return speedup, ratio_ci95(baseline.sample_times_s, run.sample_times_s, speedup)


def time_split(spans: dict, pu_names: list[str], total_s: float) -> dict[str, TimeSplit]:
    """Per PU, wall time spent drafting, verifying, handing off (booked on the receiving PU), and idle (nothing
    at all running there). On a CPU cluster whose cores are split between the two models, drafting and
    verifying can run at once, so the parts may add up to more than the total. `spans`: EventLog.spans()."""
    out = {}
    for pu in pu_names:
        parts = spans.get(pu, {})
        draft, verify, handoff = parts.get("draft", ()), parts.get("target", ()), parts.get("handoff", ())
        out[pu] = TimeSplit(union_s(draft), union_s(verify), union_s(handoff),
                            max(0.0, total_s - union_s(draft, verify, handoff)))
    return out


def speculative_results(engine: Engine, tokens: TokenLog, weight_bytes_per_token: float, spec: SpecLog,
                        baseline: DecodingResults) -> SpeculativeResults:
    """A speculative run's results; its speedup is against `baseline` (the target alone, same samples)."""
    rounds = spec.rounds
    total = engine.env.now
    spans = engine.log.spans(role_of)
    plain = decoding_results(engine, tokens, weight_bytes_per_token, spans)
    speedup, ci95 = speedup_over(baseline, plain)
    return SpeculativeResults(
        **{name: getattr(plain, name) for name in DecodingResults.__dataclass_fields__},
        speedup=speedup,
        speedup_ci95=ci95,
        rounds=len(rounds),
        mean_accepted_per_round=float(np.mean([r.accepted for r in rounds])) if rounds else 0.0,
        tokens_per_round=float(np.mean([r.tokens for r in rounds])) if rounds else 0.0,
        drafts_proposed=sum(r.drafts for r in rounds),
        drafts_accepted=sum(r.accepted for r in rounds),
        wasted_draft_s=engine.log.duration_of(spec.discarded_passes),
        drawn_agreement_positions=spec.drawn_positions,
        time_split_s=time_split(spans, reported_pus(engine.soc, spans), total),
        baseline=baseline,
    )
