"""Fitting a SoC's measured quantities to token rates: streaming bandwidth, matmul rates, per-token host cost.

Unknowns (Param): for every cluster or GPU share of a measured placement, its streaming bandwidth at that core
count (from generation tests: decode streams the weights once per token) and, per weight format, its matmul
rate at that core count (from prefill tests: compute-bound); and the SoC's fixed per-token host cost unless it
is given. The forward model is the simulator's own (benchmodel.py), so a fitted SoC predicts its fitting
data back exactly when the model can.

The fit minimises the squared log ratios predicted/measured (Levenberg-Marquardt; rates in log space so they
stay positive, the host cost in milliseconds, kept >= 0). An underdetermined fit is refused, naming what the
tests cannot separate: the Jacobian at the solution must have full column rank (one model at one thread
count cannot tell bandwidth from per-token cost: both only scale its one token rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from simulator.analysis.benchmodel import BenchCase, predict_tokens_per_s
from simulator.common.errors import InputError
from simulator.hw.soc import Measured, SoC

MS = 1e-3


@dataclass(frozen=True)
class Observation:
    """A measured token rate of one test, and where it was read."""

    case: BenchCase
    tokens_per_s: float
    source: str


@dataclass(frozen=True, order=True)
class Param:
    """One unknown: kind "bandwidth" (B/s), "matmul" (FLOP/s of weight format `fmt`) or "token" (s)."""

    kind: str
    pu: str = ""
    units: int = 0
    fmt: str = ""

    @property
    def label(self) -> str:
        if self.kind == "token":
            return "the per-token host cost"
        if self.kind == "bandwidth":
            return f"{self.pu}'s bandwidth on {self.units} cores"
        return f"{self.pu}'s {self.fmt} matmul rate on {self.units} cores"

    @property
    def remedy(self) -> str:
        if self.kind == "matmul":
            return f"a prefill (pp) test of {self.fmt} on {self.units} {self.pu} cores"
        return "a generation (tg) test of a model of another size at the same thread count, or a given per-token cost"


@dataclass(frozen=True)
class FitResult:
    values: dict[Param, float]          # SI: B/s, FLOP/s, s
    soc: SoC                            # the SoC with the fitted values applied
    residuals: tuple[tuple[Observation, float], ...]   # each observation with its predicted tok/s (exact)


def parameters(soc: SoC, observations: list[Observation], fit_token: bool) -> list[Param]:
    params = set()
    for obs in observations:
        for share in obs.case.placement(soc).shares:
            if obs.case.kind == "tg":
                params.add(Param("bandwidth", share.pu.name, share.units))
            else:
                params.add(Param("matmul", share.pu.name, share.units, obs.case.weights))
    if fit_token:
        params.add(Param("token"))
    return sorted(params)


def apply(soc: SoC, values: dict[Param, float], source: str = "fitted") -> SoC:
    """The SoC with these values as its measured bandwidths, matmul rates and per-token cost."""
    pus = []
    for pu in soc.pus:
        bandwidth = {p.units: p for p in pu.bandwidth_measured}
        matmul = {fmt: {p.units: p for p in points} for fmt, points in pu.matmul_measured.items()}
        for param, value in values.items():
            if param.pu != pu.name:
                continue
            point = Measured(param.units, value, source)
            if param.kind == "bandwidth":
                bandwidth[param.units] = point
            else:
                matmul.setdefault(param.fmt, {})[param.units] = point
        pus.append(replace(pu, bandwidth_measured=tuple(bandwidth[k] for k in sorted(bandwidth)),
                           matmul_measured={f: tuple(m[k] for k in sorted(m)) for f, m in matmul.items()}))
    token = values.get(Param("token"))
    return replace(soc, pus=tuple(pus), token_overhead_s=soc.token_overhead_s if token is None else token,
                   token_overhead_source=soc.token_overhead_source if token is None else source)


def _initial(soc: SoC, param: Param) -> float:
    if param.kind == "token":
        return 1.0                                   # ms
    pu = soc.pu(param.pu)
    if param.kind == "bandwidth":
        return math.log(min(pu.spec_bandwidth(param.units), soc.dram.usable_B_s))
    return math.log(pu.spec_flop_rate("int8", "matmul", param.units))


_LOG_RANGE = (math.log(1e6), math.log(1e15))     # 1 MB/s .. 1 PB/s, 1 MFLOP/s .. 1 PFLOP/s: far outside any SoC


def _clamp(params: list[Param], x: np.ndarray) -> np.ndarray:
    """Keep a trial inside the physical range: a host cost >= 0, rates within _LOG_RANGE."""
    lo = np.array([0.0 if p.kind == "token" else _LOG_RANGE[0] for p in params])
    hi = np.array([1e6 if p.kind == "token" else _LOG_RANGE[1] for p in params])
    return np.clip(x, lo, hi)


def _values(params: list[Param], x: np.ndarray) -> dict[Param, float]:
    return {p: (v * MS if p.kind == "token" else math.exp(v)) for p, v in zip(params, _clamp(params, x))}


def fit(soc: SoC, observations: list[Observation], token_overhead_s: float | None = None,
        where: str = "calibrate", fixed: dict[Param, float] | None = None) -> FitResult:
    """Fit the unknowns to the observations. Given a token_overhead_s, the host cost is held at it; `fixed`
    values (a bandwidth measured by a microbenchmark) are held too."""
    if token_overhead_s is not None:
        soc = replace(soc, token_overhead_s=token_overhead_s)
    fixed = fixed or {}
    soc = apply(soc, fixed, "measured") if fixed else soc
    params = [p for p in parameters(soc, observations, token_overhead_s is None) if p not in fixed]
    measured = np.log([o.tokens_per_s for o in observations])

    def residuals(x: np.ndarray) -> np.ndarray:
        fitted = apply(soc, _values(params, x))
        return np.log([predict_tokens_per_s(fitted, o.case, sampled=True) for o in observations]) - measured

    def jacobian(x: np.ndarray, r: np.ndarray) -> np.ndarray:
        cols = []
        for j in range(len(x)):
            h = 1e-6 * max(1.0, abs(x[j]))
            dx = x.copy()
            dx[j] += h
            cols.append((residuals(dx) - r) / h)
        return np.array(cols).T

    if len(params) > len(observations):
        _refuse(where, params, len(observations))
    x = np.array([_initial(soc, p) for p in params])
    r = residuals(x)
    jac = jacobian(x, r)
    damping = 1e-3
    lower = _clamp(params, np.full(len(params), -np.inf))
    for _ in range(500):
        step = _step(jac, r, damping)
        pinned = (x <= lower) & (step < 0)          # a host cost at 0 that would go below: hold it there
        if pinned.any():
            free = ~pinned
            step = np.zeros_like(step)
            step[free] = _step(jac[:, free], r, damping)
        trial = _clamp(params, x + step)
        r_trial = residuals(trial)
        cost, trial_cost = r @ r, r_trial @ r_trial
        if trial_cost < cost:
            x, r, damping = trial, r_trial, max(damping / 3, 1e-12)
            if np.max(np.abs(step)) < 1e-10 or cost - trial_cost <= 1e-12 * cost:
                break                                      # converged: the step or the gain is nothing
            jac = jacobian(x, r)
        else:
            damping *= 5
            if damping > 1e12:
                break                                      # no step downhill: at the minimum
    _check_rank(where, params, jacobian(x, r))
    values = _values(params, x)
    fitted = apply(soc, values)
    values = {**fixed, **values}
    return FitResult(values, fitted, tuple((o, predict_tokens_per_s(fitted, o.case)) for o in observations))


def _step(jac: np.ndarray, r: np.ndarray, damping: float) -> np.ndarray:
    """The Levenberg-Marquardt step: (J'J + damping diag(J'J)) step = -J'r."""
    a = jac.T @ jac
    return np.linalg.solve(a + damping * np.diag(np.diag(a) + 1e-12), -(jac.T @ r))


def _refuse(where: str, params: list[Param], equations: int, unresolved: list[Param] | None = None) -> None:
    names = ", ".join(p.label for p in (unresolved or params))
    remedies = "; or ".join(sorted({p.remedy for p in (unresolved or params)}))
    raise InputError(where, f"underdetermined: the tests cannot separate {names} ({len(params)} unknowns, "
                            f"{equations} independent measurements); add {remedies}")


def _check_rank(where: str, params: list[Param], jac: np.ndarray) -> None:
    """Refuse unless every unknown moves the residuals independently of the others (full column rank)."""
    _u, sv, vt = np.linalg.svd(jac, full_matrices=True)
    if len(sv) == len(params) and sv[-1] > 1e-6 * max(sv[0], 1e-300):
        return
    rank = int(np.sum(sv > 1e-6 * max(sv[0], 1e-300)))
    null = vt[rank:]
    weight = np.sqrt(np.sum(null ** 2, axis=0))
    _refuse(where, params, rank, [p for p, w in zip(params, weight) if w > 0.1])
