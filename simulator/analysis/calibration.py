"""From llama-bench records to a calibrated SoC file: which model and placement each test ran, the fit, the file.

A record names its model only by description, size and parameter count: it is matched to the candidate
models (the bundled graphs, or those given) whose parameter count is within 2% of the record's, and must
match exactly one. Its weight format comes from the description ("Q4_K - Medium" is q4_k_m). A CPU test on
t threads runs on `cpu:t` (the big cluster first, spanning clusters beyond it, as the OS places llama.cpp's
busy threads); a test with GPU layers offloaded runs on the GPU. Token rates are taken to the 0.01 tok/s
llama-bench prints in its tables, so every output form of the same runs gives the same fit and the same file.

The fitted values go into the SoC file's `calibration:` section, each with its source (board, engine and
build, date, the tests it rests on), rounded to 4 significant digits; other calibration keys are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from simulator.analysis.benchmodel import BenchCase
from simulator.analysis.fit import FitResult, Observation, Param
from simulator.analysis.llamabench import BenchRecord
from simulator.common.errors import InputError
from simulator.hw.soc import SoC
from simulator.llm.model import ModelSpec

_GPU_BACKENDS = ("cuda", "vulkan", "opencl", "metal", "sycl", "kompute", "rpc")


@dataclass(frozen=True)
class Provenance:
    board: str
    date: str
    engine: str

    def source(self, tests: str) -> str:
        return f"fitted: {self.board}, {self.engine}, {self.date}; {tests}"


def match_model(record: BenchRecord, models: list[ModelSpec]) -> ModelSpec:
    near = [m for m in models if abs(m.parameters() / record.n_params - 1) <= 0.02]
    if len(near) != 1:
        known = ", ".join(f"{m.name} ({m.parameters() / 1e9:.2f} B)" for m in models)
        what = "matches no" if not near else f"matches {len(near)}"
        raise InputError(record.source, f"{record.model_type!r} with {record.n_params / 1e9:.2f} B parameters {what} "
                                        f"model within 2% (candidates: {known}); give its model with --model")
    return near[0]


def case_of(record: BenchRecord, models: list[ModelSpec]) -> BenchCase:
    weights = record.weight_format
    if weights is None:
        raise InputError(record.source, f"{record.model_type!r}: weight format not recognised")
    gpu = any(b in record.backend.lower() for b in _GPU_BACKENDS) and (record.n_gpu_layers or 0) > 0
    device = "gpu" if gpu else f"cpu:{record.threads}"
    tokens = record.n_prompt if record.kind == "pp" else record.n_gen
    return BenchCase(match_model(record, models), weights, device, record.kind, tokens, record.n_depth)


def observations(records: list[BenchRecord], models: list[ModelSpec], soc: SoC) -> list[Observation]:
    out = []
    for r in records:
        case = case_of(r, models)
        try:
            case.placement(soc)
        except InputError as err:
            raise InputError(r.source, f"{r.threads} threads: {err.problem}") from None
        out.append(Observation(case, round(r.tokens_per_s, 2), r.source))
    return out


def engine_of(records: list[BenchRecord]) -> str:
    builds = sorted({r.build for r in records if r.build})
    return "llama.cpp " + (f"build {', '.join(builds)}" if builds else "(build not recorded)")


def _sig(value: float) -> float:
    return float(f"{value:.4g}")


def from_measurements(measurements, soc: SoC) -> list[Observation]:
    """The entries of a measurements file taken on this SoC, as observations citing their source."""
    out = [Observation(m.case, m.tokens_per_s, f"{m.board}, {m.engine}, {m.source}")
           for m in measurements if m.soc == soc.name]
    if not out:
        raise InputError("--measurements", f"no measurement names SoC {soc.name!r}")
    return out


def _tests_of(param: Param, obs: list[Observation], soc: SoC, cite: bool) -> str:
    """The tests a parameter rests on, for its source."""
    used = []
    for o in obs:
        if param.kind == "token" or any(s.pu.name == param.pu and s.units == param.units
                                        for s in o.case.placement(soc).shares):
            if param.kind == "matmul" and (o.case.kind != "pp" or o.case.weights != param.fmt):
                continue
            if param.kind == "bandwidth" and o.case.kind != "tg":
                continue
            used.append(f"{o.case.label} {o.tokens_per_s:g} tok/s" + (f" ({o.source})" if cite else ""))
    return "from " + "; ".join(dict.fromkeys(used))


def calibration_section(result: FitResult, obs: list[Observation], soc: SoC, prov: Provenance,
                        existing: dict | None, fixed: dict[Param, float], cite: bool = False,
                        held_token_s: float | None = None) -> dict:
    """The `calibration:` mapping with the fitted values merged into `existing` (kept otherwise)."""
    section = {"against": "", **(existing or {})}
    if held_token_s is not None:
        section["token_overhead_us"] = {"value": _sig(held_token_s * 1e6), "source": (
            f"assumption: held at {held_token_s * 1e6:g} us when fitting (--token-overhead-us): with one model per "
            "thread count the tests cannot separate it from bandwidth")}
    models = ", ".join(dict.fromkeys(o.case.model.name for o in obs))
    section["against"] = f"{prov.board} ({prov.engine}, {prov.date}): {len(obs)} tests of {models}"
    for param, value in sorted(result.values.items()):
        src = (f"measured: {prov.board}, bandwidth microbenchmark, {prov.date}" if param in fixed
               else prov.source(_tests_of(param, obs, soc, cite)))
        if param.kind == "token":
            section["token_overhead_us"] = {"value": _sig(value * 1e6), "source": src}
            continue
        pu = section.setdefault(param.pu, {})
        if param.kind == "bandwidth":
            pu.setdefault("bandwidth_gb_s", {})[param.units] = {"value": _sig(value / 1e9), "source": src}
        else:
            pu.setdefault("matmul_gflop_s", {}).setdefault(param.fmt, {})[param.units] = {
                "value": _sig(value / 1e9), "source": src}
    return section


_TOP_KEY = re.compile(r"^[A-Za-z_]")


def with_calibration(text: str, section: dict) -> str:
    """The SoC file's text with its `calibration:` block (to the next top-level key) replaced by `section`."""
    lines = text.splitlines()
    out, skipping = [], False
    for line in lines:
        if line.startswith("calibration:"):
            skipping = True
            continue
        if skipping and _TOP_KEY.match(line):
            skipping = False
        if not skipping:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    block = yaml.safe_dump({"calibration": section}, sort_keys=False, width=160, allow_unicode=True)
    return "\n".join(out) + "\n\n" + block


