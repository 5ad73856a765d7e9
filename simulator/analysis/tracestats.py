"""`specsoc trace stats`: what an acceptance trace says, and how far it is from the i.i.d. model behind Eq. 1.

Eq. 1 assumes each draft position is accepted independently with one probability alpha. Then a round at draft
length g accepts k drafts with the truncated-geometric probability P(k) = alpha^k (1 - alpha) for k < g and
alpha^g for k = g, accepts E[n] = alpha + ... + alpha^g drafts on average, and draft position i is reached
with probability alpha^i. This module replays a trace sequentially at each gamma (a round at output position
p accepts n drafts, the next starts at p + n + 1) and sets what it finds beside those predictions.

Each sample's final round is cut short by the end of the output (it may draft fewer than gamma, and a run of
agreements that reaches the end stops there), so the per-round statistics (means, histogram, per-position
acceptance, chi-square) count complete rounds only: every round but each sample's last. Tokens per round over
all rounds (output tokens / rounds) is given too: it is what a decoder replaying the trace gets.

Two tests of the i.i.d. assumption:
- lag-1 autocorrelation of the known agreement bits (pairs of neighbours within a sample, pooled mean):
  r ~ N(0, 1/N) under independence, so z = r sqrt(N) beyond +-3 flags dependence. Pooling means a trace whose
  samples differ in alpha (easy and hard prompts) is flagged too: one alpha does not describe it either.
- Pearson's chi-square of the accepted-length histogram against the truncated geometric at the trace's alpha,
  bins merged until each expects >= 5 rounds, one degree of freedom taken for alpha; p-value from the
  regularized upper incomplete gamma function Q(dof/2, chi2/2).
"""

from __future__ import annotations

import math

import numpy as np

from simulator.analysis.analytic import expected_tokens
from simulator.common.errors import InputError
from simulator.traces.replay import UNKNOWN, Replay, agreement_stream
from simulator.traces.trace import MAX_GAMMA, Trace, estimate_alpha

GAMMAS = tuple(range(1, 9))
DEFAULT_GAMMA = 5      # histogram gamma for agreement traces that record none
Z_LIMIT = 3.0


# ------------------------------------------------------------------------------------ closed forms

def iid_histogram(alpha: float, gamma: int) -> list[float]:
    """P(n = k), k = 0..gamma, for i.i.d. acceptance: alpha^k (1 - alpha) below gamma, alpha^gamma at gamma."""
    return [alpha ** k * (1 - alpha) for k in range(gamma)] + [alpha ** gamma]


def iid_mean_accepted(alpha: float, gamma: int) -> float:
    """E[n] = alpha + alpha^2 + ... + alpha^gamma: the expected tokens per round (analytic) less the target's own."""
    return expected_tokens(alpha, gamma) - 1.0


def upper_gamma_q(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a).

    Series for P = 1 - Q when x < a + 1, else the continued fraction for Q (modified Lentz), as in Numerical
    Recipes' gammp/gammq.
    """
    if a <= 0 or x < 0:
        raise ValueError("Q(a, x) needs a > 0 and x >= 0")
    if x == 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        ap, term = a, 1.0 / a
        total = term
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return math.exp(log_front) * h


def chi_square_sf(chi2: float, dof: int) -> float:
    """P(X >= chi2) for X chi-square with `dof` degrees of freedom."""
    return upper_gamma_q(dof / 2, chi2 / 2)


# ---------------------------------------------------------------------------------------- replay

def replay_rounds(trace: Trace, gamma: int, alpha: float, seed: int = 0) -> tuple[list[list[int]], int]:
    """Accepted lengths of every round of every sample at `gamma`, and how many unknown agreements were drawn."""
    rng = np.random.default_rng([seed, gamma])
    rounds, drawn = [], 0
    for sample in trace.samples:
        replay = Replay.of(sample, trace.gamma, alpha, rng)
        rounds.append(replay.rounds(gamma))
        drawn += replay.drawn
    return rounds, drawn


def lag1_autocorrelation(trace: Trace) -> tuple[float | None, int]:
    """(r, N): the lag-1 autocorrelation of the known agreement bits, over N neighbour pairs within samples."""
    streams = [agreement_stream(s, trace.gamma) for s in trace.samples]
    known = [b for st in streams for b in st if b != UNKNOWN]
    pairs = [(x, y) for st in streams for x, y in zip(st, st[1:]) if x != UNKNOWN and y != UNKNOWN]
    if not known or not pairs:
        return None, len(pairs)
    mean = sum(known) / len(known)
    variance = sum((b - mean) ** 2 for b in known) / len(known)
    if variance == 0:
        return None, len(pairs)
    covariance = sum((x - mean) * (y - mean) for x, y in pairs) / len(pairs)
    return covariance / variance, len(pairs)


def chi_square(counts: list[int], probabilities: list[float]) -> dict:
    """Pearson's chi-square of observed counts against probabilities; bins merged until each expects >= 5."""
    total = sum(counts)
    bins, observed, expected, ks = [], 0, 0.0, []
    for k, (o, p) in enumerate(zip(counts, probabilities)):
        observed, expected = observed + o, expected + total * p
        ks.append(k)
        if expected >= 5:
            bins.append({"accepted": ks, "observed": observed, "expected": expected})
            observed, expected, ks = 0, 0.0, []
    if ks:
        if bins:
            last = bins[-1]
            last.update(accepted=last["accepted"] + ks, observed=last["observed"] + observed,
                        expected=last["expected"] + expected)
        else:
            bins.append({"accepted": ks, "observed": observed, "expected": expected})
    dof = len(bins) - 2
    if dof < 1:
        return {"chi_square": None, "dof": max(dof, 0), "p_value": None, "bins": bins}
    value = sum((b["observed"] - b["expected"]) ** 2 / b["expected"] for b in bins)
    return {"chi_square": value, "dof": dof, "p_value": chi_square_sf(value, dof), "bins": bins}


# ---------------------------------------------------------------------------------------- the report

def trace_stats(trace: Trace, gamma: int | None = None, seed: int = 0) -> dict:
    """Everything `specsoc trace stats` shows, as a plain dict (JSON-ready)."""
    if gamma is not None and not 1 <= gamma <= MAX_GAMMA:
        raise InputError("--gamma", f"must be in 1..{MAX_GAMMA:,}, got {gamma}")
    # the histogram is sized by the data: no round accepts more drafts than its sample has output tokens
    hist_gamma = min(gamma or trace.gamma or DEFAULT_GAMMA, max(s.output_tokens for s in trace.samples), MAX_GAMMA)
    alpha = estimate_alpha(trace)
    by_gamma, hist_rounds = [], None
    for g in sorted(set(GAMMAS) | {hist_gamma}):
        rounds, drawn = replay_rounds(trace, g, alpha, seed)
        every = [n for r in rounds for n in r]
        complete = [n for r in rounds for n in r[:-1]]
        mean = sum(complete) / len(complete) if complete else None
        by_gamma.append({
            "gamma": g, "rounds": len(every), "complete_rounds": len(complete),
            "mean_accepted": mean, "iid_mean_accepted": iid_mean_accepted(alpha, g),
            "tokens_per_round": None if mean is None else mean + 1,
            "iid_tokens_per_round": iid_mean_accepted(alpha, g) + 1,
            "mean_accepted_all_rounds": sum(every) / len(every),
            "tokens_per_round_all_rounds": sum(n + 1 for n in every) / len(every),
            "drawn_positions": drawn})
        if g == hist_gamma:
            hist_rounds = complete
    counts = [hist_rounds.count(k) for k in range(hist_gamma + 1)]
    total = len(hist_rounds)
    predicted = iid_histogram(alpha, hist_gamma)
    histogram = [{"accepted": k, "rounds": c, "share": c / total if total else None, "iid_share": p}
                 for k, (c, p) in enumerate(zip(counts, predicted))]
    per_position = [{"position": i, "acceptance": sum(c for k, c in enumerate(counts) if k >= i) / total
                     if total else None, "iid_acceptance": alpha ** i} for i in range(1, hist_gamma + 1)]
    r, pairs = lag1_autocorrelation(trace)
    z = None if r is None else r * math.sqrt(pairs)
    chi = chi_square(counts, predicted)
    header = trace.header
    return {
        "trace": trace.label, "record": trace.record, "recorded_gamma": trace.gamma,
        "synthetic": header.get("synthetic"), "imitates": header.get("imitates"), "source": header.get("source"),
        "samples": len(trace.samples), "prompt_tokens": sum(s.prompt_tokens for s in trace.samples),
        "output_tokens": sum(s.output_tokens for s in trace.samples), "alpha": alpha, "seed": seed,
        "by_gamma": by_gamma,
        "histogram": {"gamma": hist_gamma, "complete_rounds": total, "bins": histogram},
        "per_position": per_position,
        "independence": {
            "lag1_autocorrelation": r, "pairs": pairs, "z": z, "z_limit": Z_LIMIT,
            "dependent": None if z is None else abs(z) > Z_LIMIT,
            "chi_square": chi["chi_square"], "dof": chi["dof"], "p_value": chi["p_value"], "chi_square_bins": chi["bins"]},
    }


def at_gamma(stats: dict, gamma: int) -> dict:
    return next(row for row in stats["by_gamma"] if row["gamma"] == gamma)
