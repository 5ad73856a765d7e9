"""Max-min fair sharing of DRAM bandwidth: the solver sees only caps, groups and a total, never who asks.

A flow's rate is capped by its own cap, by its group's cap (all flows of one CPU cluster or GPU together) and by
the total (all flows together). Progressive filling raises every unfrozen flow together; a flow freezes when it
reaches its own cap, or when its group or the total runs out.
"""

from __future__ import annotations

import math


def max_min_share(caps: list[float], groups: list[str], group_caps: dict[str, float], total: float) -> list[float]:
    """Max-min fair rates by progressive filling.

    All unfrozen flows rise together; a flow freezes when it reaches its own cap, or when its group or the
    total runs out. Each round freezes at least one flow, so it ends in at most len(caps) rounds.
    """
    n = len(caps)
    if n == 1:  # the common case, in closed form: what progressive filling gives for one flow
        return [min(caps[0], group_caps.get(groups[0], math.inf), total)]
    if n == 2:
        return two_flows(caps[0], caps[1], groups[0], groups[1], group_caps, total)
    rates = [0.0] * n
    active = list(range(n))
    left_total = total
    left_group = {g: group_caps.get(g, math.inf) for g in set(groups)}
    tol = 1e-12 * total
    while active:
        counts: dict[str, int] = {}
        for i in active:
            counts[groups[i]] = counts.get(groups[i], 0) + 1
        inc = left_total / len(active)
        for g, k in counts.items():
            inc = min(inc, left_group[g] / k)
        for i in active:
            inc = min(inc, caps[i] - rates[i])
        inc = max(inc, 0.0)
        for i in active:
            rates[i] += inc
        left_total -= inc * len(active)
        for g, k in counts.items():
            left_group[g] -= inc * k
        active = [i for i in active
                  if caps[i] - rates[i] > tol and left_group[groups[i]] > tol and left_total > tol]
    return rates


def two_flows(c0: float, c1: float, g0: str, g1: str, group_caps: dict[str, float], total: float) -> list[float]:
    """Progressive filling for two flows in closed form (two passes streaming at once: the common case).

    In one group the pair shares min(total, group cap); in two groups each flow is also held to its own group's
    cap. Each gets half of what they share, unless its cap is lower: then the other takes the rest, up to its own.
    """
    inf = math.inf
    if g0 == g1:
        share = min(total, group_caps.get(g0, inf))
    else:
        c0 = min(c0, group_caps.get(g0, inf))
        c1 = min(c1, group_caps.get(g1, inf))
        share = total
    half = share / 2
    if c0 <= half and c1 <= half:
        return [c0, c1]
    if c0 <= half:
        return [c0, min(c1, share - c0)]
    if c1 <= half:
        return [min(c0, share - c1), c1]
    return [half, half]
