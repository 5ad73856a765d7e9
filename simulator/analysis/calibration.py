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

import math
import re
from dataclasses import dataclass

import yaml

from simulator.analysis.benchmodel import BenchCase
from simulator.analysis.fit import FitResult, Observation, Param
from simulator.analysis.llamabench import BenchRecord
from simulator.common.errors import InputError
from simulator.hw.dtypes import WEIGHT_FORMATS
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


MAX_TESTS = 100          # distinct tests in one fit: a board's worth; each costs a few ms per step of the fit
SAME_TEST_SPREAD = 1.10  # repeats of one test may differ by run-to-run noise, not by more than 10%


def match_model(record: BenchRecord, models: list[ModelSpec]) -> ModelSpec:
    near = [m for m in models if abs(m.parameters() / record.n_params - 1) <= 0.02]
    if len(near) != 1:
        known = ", ".join(f"{m.name} ({m.parameters() / 1e9:.2f} B)" for m in models)
        what = "matches no model" if not near else f"matches {len(near)} models"
        raise InputError(record.source, f"{record.model_type[:80]!r} with {record.n_params / 1e9:.3g} B parameters "
                                        f"{what} within 2% (candidates: {known}); give its model with --model")
    return near[0]


def case_of(record: BenchRecord, models: list[ModelSpec]) -> BenchCase:
    weights = record.weight_format
    if weights is None or weights not in WEIGHT_FORMATS:
        raise InputError(record.source, f"{record.model_type[:80]!r}: weight format {weights or '?'} is not one "
                                        f"specsoc models (known: {', '.join(WEIGHT_FORMATS)})")
    # a GPU backend offloads every layer unless the test says otherwise (llama-bench's default -ngl is 99)
    gpu = any(b in record.backend.lower() for b in _GPU_BACKENDS) and (record.n_gpu_layers is None or record.n_gpu_layers > 0)
    device = "gpu" if gpu else f"cpu:{record.threads}"
    tokens = record.n_prompt if record.kind == "pp" else record.n_gen
    try:
        return BenchCase(match_model(record, models), weights, device, record.kind, tokens, record.n_depth)
    except InputError as err:
        raise InputError(record.source, err.problem) from None


def merged(obs: list[Observation], where: str) -> list[Observation]:
    """Repeats of one test become one observation at their geometric mean; repeats further apart than run-to-run
    noise contradict each other and are refused. At most MAX_TESTS distinct tests."""
    groups: dict[BenchCase, list[Observation]] = {}
    for o in obs:
        groups.setdefault(o.case, []).append(o)
    if len(groups) > MAX_TESTS:
        raise InputError(where, f"{len(groups)} distinct tests; calibrate with at most {MAX_TESTS} (one board at a time)")
    out = []
    for case, same in groups.items():
        rates = [o.tokens_per_s for o in same]
        if max(rates) > SAME_TEST_SPREAD * min(rates):
            lo, hi = min(same, key=lambda o: o.tokens_per_s), max(same, key=lambda o: o.tokens_per_s)
            raise InputError(hi.source, f"{case.label} measured at {hi.tokens_per_s:g} tok/s here but "
                                        f"{lo.tokens_per_s:g} at {lo.source}: more than 10% apart for the same test")
        mean = math.exp(sum(math.log(r) for r in rates) / len(rates))
        out.append(Observation(case, round(mean, 2), same[0].source if len(same) == 1
                               else f"{same[0].source} (mean of {len(same)})"))
    return out


def observations(records: list[BenchRecord], models: list[ModelSpec], soc: SoC, where: str = "calibrate") -> list[Observation]:
    out = []
    for r in records:
        case = case_of(r, models)
        try:
            case.placement(soc)
        except InputError as err:
            raise InputError(r.source, f"{case.device} ({r.threads} threads, backend {r.backend or '?'}): {err.problem}") from None
        if r.tokens_per_s < 0.01:
            raise InputError(r.source, f"{r.tokens_per_s:.3g} tok/s: below the 0.01 tok/s llama-bench resolves")
        out.append(Observation(case, round(r.tokens_per_s, 2), r.source))
    return merged(out, where)


def engine_of(records: list[BenchRecord]) -> str:
    builds = sorted({r.build for r in records if r.build})
    return "llama.cpp " + (f"build {', '.join(builds)}" if builds else "(build not recorded)")


def _sig(value: float) -> float:
    return float(f"{value:.4g}")


def from_measurements(measurements, soc: SoC, names: tuple[str, ...] = ()) -> list[Observation]:
    """The entries of a measurements file taken on this SoC (its `soc` is the SoC's name, or one of `names`: how
    the user named it), as observations citing their source."""
    out = [Observation(m.case, m.tokens_per_s, f"{m.board}, {m.engine}, {m.source}")
           for m in measurements if m.soc == soc.name or m.soc in names]
    if not out:
        raise InputError("--measurements", f"no measurement names SoC {soc.name!r}")
    return merged(out, "--measurements")


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
    """The `calibration:` mapping: the fitted (and held) values, each with its source; from `existing`, the
    earlier calibration, only the fitted multipliers (efficiency_scale, dtype_efficiency) are kept, and
    `against` says so: earlier measured values go, since they were fitted together with those replaced."""
    section = {"against": ""}
    kept = []
    for key, value in (existing or {}).items():        # earlier measured values go; fitted multipliers stay
        if key in ("against", "token_overhead_us"):
            continue
        if isinstance(value, dict):
            rest = {k: v for k, v in value.items() if k not in ("bandwidth_gb_s", "matmul_gflop_s")}
            if rest:
                section[key] = rest
                kept.append(key)
    if held_token_s is not None:
        section["token_overhead_us"] = {"value": _sig(held_token_s * 1e6), "source": (
            f"assumption: held at {held_token_s * 1e6:g} us when fitting (--token-overhead-us), e.g. because one "
            "model per thread count cannot separate it from bandwidth")}
    models = ", ".join(dict.fromkeys(o.case.model.name for o in obs))
    section["against"] = f"{prov.board} ({prov.engine}, {prov.date}): {len(obs)} tests of {models}" + (
        f"; kept from the earlier calibration ({str((existing or {}).get('against', ''))[:200]}): the multipliers "
        f"of {', '.join(kept)}" if kept else "")
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


def soc_text(original: str, data: dict, section: dict) -> str:
    """The SoC file's text with `section` as its calibration: its own text and comments kept when it is block
    YAML with a top-level `calibration:` key or none; otherwise (flow style, several documents ...) the whole
    mapping written anew."""
    want = {**{k: v for k, v in data.items() if k != "calibration"}, "calibration": section}
    text = with_calibration(original, section)
    try:
        if yaml.safe_load(text) == want:
            return text
    except yaml.YAMLError:
        pass
    return "# written by specsoc calibrate (the original was not block YAML it could edit in place)\n" + \
        yaml.safe_dump(want, sort_keys=False, width=160, allow_unicode=True)


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


