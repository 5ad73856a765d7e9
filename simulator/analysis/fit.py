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
            return f"a prefill (pp) test of {self.fmt} on {self.pu}"
        return "a generation (tg) test of a model of another size on the same cores, or a given per-token cost"


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
    """A starting point: 1 ms of host cost; the spec bandwidth (at most the DRAM's); the spec int8 rate."""
    if param.kind == "token":
        return 1.0                                   # ms
    pu = soc.pu(param.pu)
    if param.kind == "bandwidth":
        return math.log(min(pu.spec_bandwidth(param.units), soc.dram.usable_B_s))
    return math.log(pu.spec_flop_rate("int8", "matmul", param.units))


_LOG_RANGE = (math.log(1e6), math.log(1e15))     # 1 MFLOP/s .. 1 PFLOP/s: far outside any SoC either way
_MAX_TOKEN_MS = 10_000.0                          # a host cost of 10 s per token is no SoC


def _bounds(soc: SoC, params: list[Param]) -> tuple[np.ndarray, np.ndarray]:
    """Physical range of each unknown, as fitted: a host cost 0..10 s (ms), a matmul rate 1 MFLOP/s..1 PFLOP/s,
    a bandwidth 1 MB/s..the DRAM's usable bandwidth (no PU streams faster than the DRAM delivers), in log."""
    lo = [0.0 if p.kind == "token" else _LOG_RANGE[0] for p in params]
    hi = [_MAX_TOKEN_MS if p.kind == "token" else
          math.log(soc.dram.usable_B_s) if p.kind == "bandwidth" else _LOG_RANGE[1] for p in params]
    return np.array(lo), np.array(hi)


def _values(params: list[Param], x: np.ndarray) -> dict[Param, float]:
    return {p: (float(v) * MS if p.kind == "token" else math.exp(v)) for p, v in zip(params, x)}


def fit(soc: SoC, observations: list[Observation], token_overhead_s: float | None = None,
        where: str = "calibrate", fixed: dict[Param, float] | None = None) -> FitResult:
    """Fit the unknowns to the observations. Given a token_overhead_s, the host cost is held at it; `fixed`
    values (a bandwidth measured by a microbenchmark) are held too. A fit that ends outside the physical range,
    does not converge, or cannot separate its unknowns is refused with one line."""
    if token_overhead_s is not None:
        soc = replace(soc, token_overhead_s=token_overhead_s)
    fixed = fixed or {}
    soc = apply(soc, fixed, "measured") if fixed else soc
    params = [p for p in parameters(soc, observations, token_overhead_s is None) if p not in fixed]
    if len(params) > len(observations):
        _refuse(where, params, len(observations))
    lower, upper = _bounds(soc, params)
    measured = np.log([o.tokens_per_s for o in observations])

    def residuals(x: np.ndarray) -> np.ndarray:
        fitted = apply(soc, _values(params, x))
        r = np.log([predict_tokens_per_s(fitted, o.case, sampled=True) for o in observations]) - measured
        if not np.all(np.isfinite(r)):
            raise InputError(where, "the fit left the range the simulator can compute: check the measured rates")
        return r

    def jacobian(x: np.ndarray, r: np.ndarray) -> np.ndarray:
        cols = []
        for j in range(len(x)):
            h = 1e-6 * max(1.0, abs(x[j]))
            dx = x.copy()
            dx[j] += h if dx[j] + h <= upper[j] else -h
            cols.append((residuals(dx) - r) / (dx[j] - x[j]))
        return np.array(cols).T

    try:
        x = _minimise(residuals, jacobian, np.clip([_initial(soc, p) for p in params], lower, upper), lower, upper)
    except np.linalg.LinAlgError:
        raise InputError(where, "the fit did not converge: the measured rates contradict each other or the "
                                "simulator's model of them; check the residuals of a smaller set") from None
    if x is None:
        raise InputError(where, "the fit did not converge in 500 steps: the measured rates contradict each other "
                                "or the simulator's model of them")
    r = residuals(x)
    _check_range(where, soc, params, x, lower, upper)
    _check_rank(where, params, jacobian(x, r))
    values = _values(params, x)
    fitted = apply(soc, values)
    values = {**fixed, **values}
    return FitResult(values, fitted, tuple((o, predict_tokens_per_s(fitted, o.case)) for o in observations))


def _minimise(residuals, jacobian, x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray | None:
    """Levenberg-Marquardt within bounds: an unknown at a bound that the step would push out is held there."""
    r = residuals(x)
    jac = jacobian(x, r)
    damping = 1e-3
    for _ in range(500):
        step = _step(jac, r, damping)
        pinned = ((x <= lower) & (step < 0)) | ((x >= upper) & (step > 0))
        if pinned.any():
            free = ~pinned
            step = np.zeros_like(step)
            if free.any():
                step[free] = _step(jac[:, free], r, damping)
        trial = np.clip(x + step, lower, upper)
        r_trial = residuals(trial)
        cost, trial_cost = r @ r, r_trial @ r_trial
        if trial_cost < cost:
            x, r, damping = trial, r_trial, max(damping / 3, 1e-12)
            if np.max(np.abs(step)) < 1e-10 or cost - trial_cost <= 1e-12 * cost:
                return x                                   # converged: the step or the gain is nothing
            jac = jacobian(x, r)
        else:
            damping *= 5
            if damping > 1e12:
                return x                                   # no step downhill: at the minimum
    return None


def _check_range(where: str, soc: SoC, params: list[Param], x: np.ndarray, lower: np.ndarray,
                 upper: np.ndarray) -> None:
    """Refuse a fit that ends against a physical bound: the measurements imply what no SoC does."""
    for p, v, lo, hi in zip(params, x, lower, upper):
        if p.kind == "token" and v <= lo:
            continue                                       # no host cost at all: a legitimate answer
        if v <= lo + 1e-9 or v >= hi - 1e-9:
            what = ("above the DRAM's usable bandwidth (peak x achievable fraction "
                    f"= {soc.dram.usable_B_s / 1e9:.3g} GB/s): check the SoC file's dram section"
                    if p.kind == "bandwidth" and v >= hi - 1e-9 else "outside any physical range")
            raise InputError(where, f"the measured rates put {p.label} {what}; check the measurements "
                                    "(a contradiction, a unit, a wrong thread count) or the held values")


def _step(jac: np.ndarray, r: np.ndarray, damping: float) -> np.ndarray:
    """The Levenberg-Marquardt step: (J'J + damping diag(J'J)) step = -J'r."""
    a = jac.T @ jac
    return np.linalg.solve(a + damping * np.diag(np.diag(a) + 1e-12), -(jac.T @ r))


def _refuse(where: str, params: list[Param], equations: int, unresolved: list[Param] | None = None) -> None:
    named = unresolved or params
    names = ", ".join(p.label for p in named[:4]) + (f" and {len(named) - 4} more" if len(named) > 4 else "")
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
