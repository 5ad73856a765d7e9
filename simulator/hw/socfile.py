"""Reading SoC files (socs/*.yaml): every key known, every number typed and in range, converted to SI.

Files are YAML with units in every key name (`clock_ghz`, `bandwidth_per_core_gb_s`, `launch_overhead_us`).

A CPU cluster or GPU without an `int16` rate (none of the bundled ones has one: no engine they run has int16
kernels) runs int16 arithmetic as fp32 (an assumption; int16 comes from NPUs' w8a16 and w16 modes).

A CPU cluster may state its instruction-set features (`isa: [dotprod, i8mm, fp16]`): without `dotprod` int8
arithmetic runs as fp32 (no int8 dot product: a Cortex-A72), without `fp16` fp16 arithmetic runs as fp32.

An NPU (`npus:`) is described by what its vendor states and what its runtime can run: `peak_tops` per compute
dtype (the whole NPU's; int8 where only one figure is published), the op classes it `runs`, the weight formats
it reads (`weight_formats`), `promote` for formats its converter re-quantizes (a float model run in int8), an
`invocation_overhead_us` per op it is handed, and the `bandwidth_gb_s` of its DRAM port. A dtype it has no rate
for and no promotion is refused when a model is placed on it.

A file may carry a `calibration:` section, values fitted to measurements (`against` says which), applied on
top of the spec-derived values when the SoC is loaded calibrated (the default) and left out with
`calibrated=False` (`--uncalibrated`). Per PU:
- `bandwidth_gb_s: {CORES: {value: GB/s, source: ...}}`: the bandwidth it streams at with that many cores;
- `matmul_gflop_s: {FORMAT: {CORES: {value: GFLOP/s, source: ...}}}`: its matmul rate in a weight format;
- `efficiency_scale` multiplies every op-class efficiency, `dtype_efficiency` the FLOP rate of one compute
  dtype (kernels of one dtype doing better or worse);
and for the SoC `token_overhead_us: {value: us, source: ...}`, a fixed host cost of every forward pass.
Every value's `source` says "measured: ..." (board, engine and version, date, where) or "assumption: ...".
A CPU cluster with no measured rate for a format that another cluster has takes that cluster's rate per
effective core, scaled by the ratio of their spec peaks for the format's arithmetic (a labelled assumption).
"""

from __future__ import annotations

import re
from dataclasses import replace

from simulator.common.bundled import resolve_file
from simulator.common.config import Section, read_mapping
from simulator.hw.dtypes import COMPUTE_DTYPES, WEIGHT_FORMATS, base_format
from simulator.hw.soc import (
    OP_CLASSES,
    Dram,
    Interconnect,
    Measured,
    ProcessingUnit,
    SoC,
)

GB = 1e9
US = 1e-6
RESERVED = ("cpu", "gpu", "npu")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ISA_FEATURES = ("dotprod", "i8mm", "fp16")
_NEEDS = {"int8": "dotprod", "fp16": "fp16"}    # compute dtype -> the feature a CPU needs to run it natively


def _isa(sec: Section, fpc: dict) -> tuple[tuple[str, ...], dict]:
    """The cluster's features, and the promotions they imply (dtypes it has no instructions for run as fp32)."""
    if not sec.has("isa"):
        return (), {}
    raw = sec.raw("isa")
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise sec.fail("isa", f"must be a list of features ({', '.join(ISA_FEATURES)})")
    for feature in raw:
        if feature not in ISA_FEATURES:
            raise sec.fail("isa", f"unknown feature {feature[:40]!r} (known: {', '.join(ISA_FEATURES)})")
    if len(set(raw)) != len(raw):
        raise sec.fail("isa", "lists a feature twice")
    promote = {}
    for dtype, feature in _NEEDS.items():
        if feature not in raw:
            if dtype in fpc:
                raise sec.fail(f"flop_per_cycle.{dtype}", f"a {dtype} rate, but isa lacks {feature}: it would run as fp32")
            promote[dtype] = "fp32"
    return tuple(raw), promote


def _compute_section(sec: Section, units_key: str, overhead_key: str, kind: str) -> dict:
    fpc = sec.number_map("flop_per_cycle", COMPUTE_DTYPES)
    isa, isa_promote = _isa(sec, fpc) if kind == "cpu" else ((), {})
    promote_raw = sec.raw("promote", {})
    if not isinstance(promote_raw, dict):
        raise sec.fail("promote", "must be a mapping dtype -> dtype")
    if isa_promote and promote_raw:
        raise sec.fail("promote", "give either isa (promotions follow from it) or promote, not both")
    promote_raw = promote_raw or isa_promote
    for src, dst in promote_raw.items():
        if not isinstance(dst, str):
            raise sec.fail(f"promote.{src}", f"must name one dtype, got {dst!r}")
        if src in fpc:
            raise sec.fail(f"promote.{src}", f"{src} has its own flop_per_cycle; a PU either runs a dtype or promotes it")
        if src not in COMPUTE_DTYPES or dst not in fpc:
            raise sec.fail(f"promote.{src}", f"must map one of {', '.join(COMPUTE_DTYPES)} to a dtype listed in flop_per_cycle")
    promote_raw = dict(promote_raw)
    if "int16" not in fpc and "int16" not in promote_raw and "fp32" in fpc:
        promote_raw["int16"] = "fp32"     # see the module docstring: int16 is an NPU's
    missing = [d for d in COMPUTE_DTYPES if d not in fpc and d not in promote_raw]
    if missing:
        raise sec.fail("flop_per_cycle", f"no rate and no promotion for {', '.join(missing)}")
    return dict(
        name=sec.string("name"),
        kind=kind,
        units=sec.number(units_key, positive=True, integer=True),
        clock_hz=sec.number("clock_ghz", positive=True) * 1e9,
        flop_per_cycle=fpc,
        efficiency=sec.number_map("efficiency", OP_CLASSES, max=1.0, required=OP_CLASSES),
        overhead_s=sec.number(overhead_key, min=0.0) * US,
        promote=dict(promote_raw),
        isa=isa,
    )


def _cpu(sec: Section) -> ProcessingUnit:
    args = _compute_section(sec, "cores", "dispatch_overhead_us", "cpu")
    pu = ProcessingUnit(
        **args,
        bandwidth_per_unit_B_s=sec.number("bandwidth_per_core_gb_s", positive=True) * GB,
        bandwidth_cap_B_s=sec.number("bandwidth_cluster_gb_s", positive=True) * GB,
        parallel_efficiency=sec.number("parallel_efficiency", min=0.0, max=1.0),
    )
    sec.done()
    return pu


def _gpu(sec: Section) -> ProcessingUnit:
    args = _compute_section(sec, "shader_cores", "launch_overhead_us", "gpu")
    pu = ProcessingUnit(**args, bandwidth_cap_B_s=sec.number("bandwidth_gb_s", positive=True) * GB)
    sec.done()
    return pu


TOPS = 1e12


def _npu(sec: Section) -> ProcessingUnit:
    """An NPU: its peak op rate per dtype spread over its cores and clock (flop_per_cycle per core, so that the
    spec rate is the same product as a CPU's or GPU's), only the op classes it runs, the formats it reads."""
    cores = sec.number("cores", positive=True, integer=True, max=1024)
    clock_hz = sec.number("clock_ghz", positive=True, max=100.0) * 1e9
    tops = sec.number_map("peak_tops", COMPUTE_DTYPES, max=1e4)
    if not tops:
        raise sec.fail("peak_tops", "give the op rate of at least one dtype")
    runs = _names(sec, "runs", OP_CLASSES)
    efficiency = sec.number_map("efficiency", runs, max=1.0, required=runs)
    promote = sec.raw("promote", {})
    if not isinstance(promote, dict):
        raise sec.fail("promote", "must be a mapping dtype -> dtype")
    for src, dst in promote.items():
        if src not in COMPUTE_DTYPES or src in tops or dst not in tops:
            raise sec.fail(f"promote.{str(src)[:40]}", "must map a dtype without a peak_tops rate to one with "
                                                       f"({', '.join(tops)})")
    formats = _names(sec, "weight_formats", WEIGHT_FORMATS)
    pu = ProcessingUnit(name=sec.string("name"), kind="npu", units=cores, clock_hz=clock_hz,
                        flop_per_cycle={d: t * TOPS / (clock_hz * cores) for d, t in tops.items()},
                        efficiency=efficiency, overhead_s=sec.number("invocation_overhead_us", min=0.0, max=1e7) * US,
                        bandwidth_cap_B_s=sec.number("bandwidth_gb_s", positive=True, max=1e5) * GB,
                        promote=dict(promote), runs=runs, weight_formats=formats)
    sec.done()
    return pu


def _names(sec: Section, key: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty list of distinct names from `known`."""
    raw = sec.raw(key)
    if not isinstance(raw, list) or not raw or not all(isinstance(n, str) for n in raw):
        raise sec.fail(key, f"must be a non-empty list of names ({', '.join(known[:12])}{', ...' if len(known) > 12 else ''})")
    for name in raw:
        if name not in known:
            raise sec.fail(key, f"unknown {name[:40]!r} (known: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''})")
    if len(set(raw)) != len(raw):
        raise sec.fail(key, "lists a name twice")
    return tuple(raw)


def _source(entry: Section) -> str:
    source = entry.string("source")
    if not source.startswith(("measured:", "assumption:", "fitted:")):
        raise entry.fail("source", 'must start with "measured:", "fitted:" or "assumption:"')
    return source


def _measured(sec: Section, key: str, scale: float, max_units: int, max_value: float) -> tuple[Measured, ...]:
    """`{CORES: {value: V, source: S}}` -> Measured points (V x scale, SI), ascending by cores; 1e-3 <= V <=
    max_value (in the file's unit)."""
    sub = sec.section(key)
    points = []
    for units in sub._data:
        if isinstance(units, str) and units.isascii() and units.isdigit():
            raise sub.fail(units, "write the core count as a number (4:), not a string ('4':)")
        if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= max_units:
            raise sub.fail(str(units)[:40], f"must be a core count 1..{max_units}")
        entry = Section(sub.source, sub.raw(units), sub._key(str(units)))
        value = entry.number("value", min=1e-3, max=max_value) * scale
        source = _source(entry)
        entry.done()
        points.append(Measured(units, value, source))
    if not points:
        raise sec.fail(key, "give at least one core count")
    return tuple(sorted(points, key=lambda p: p.units))


MAX_GFLOP_S = 1e7      # 10 PFLOP/s: no SoC's matmul
MAX_TOKEN_US = 1e7     # 10 s of host cost per token: no SoC's


def _calibrate_pu(pu: ProcessingUnit, sub: Section, dram: Dram) -> ProcessingUnit:
    scale = sub.number("efficiency_scale", 1.0, positive=True, max=1e3)
    dtype_eff = sub.number_map("dtype_efficiency", COMPUTE_DTYPES, {}, max=1e3)
    peak_gb_s = dram.peak_bandwidth_B_s / GB     # no PU streams faster than the DRAM's peak
    bandwidth = _measured(sub, "bandwidth_gb_s", GB, pu.units, peak_gb_s) if sub.has("bandwidth_gb_s") else ()
    matmul = {}
    if sub.has("matmul_gflop_s"):
        formats = sub.section("matmul_gflop_s")
        for fmt in formats._data:
            if fmt not in WEIGHT_FORMATS:
                raise formats.fail(str(fmt), f"unknown weight format (known: {', '.join(WEIGHT_FORMATS)})")
            matmul[fmt] = _measured(formats, fmt, GB, pu.units, MAX_GFLOP_S)
        formats.done()
    sub.done()
    return replace(pu, efficiency={k: min(1.0, v * scale) for k, v in pu.efficiency.items()},
                   dtype_efficiency=dtype_eff, bandwidth_measured=bandwidth, matmul_measured=matmul)


def _calibrate(pus: tuple[ProcessingUnit, ...], sec: Section, dram: Dram) -> tuple[tuple[ProcessingUnit, ...], str, tuple[float, str]]:
    """Apply a `calibration:` section to the PUs it names; returns them, `against`, and the per-token cost."""
    against = sec.string("against")
    token = (0.0, "")
    if sec.has("token_overhead_us"):
        entry = sec.section("token_overhead_us")
        token = (entry.number("value", min=0.0, max=MAX_TOKEN_US) * US, _source(entry))
        entry.done()
    by_name = {pu.name: pu for pu in pus}
    for name in list(sec._data):
        if name in ("against", "token_overhead_us"):
            continue
        if name not in by_name:
            raise sec.fail(str(name), f"no processing unit of that name (known: {', '.join(by_name)})")
        by_name[name] = _calibrate_pu(by_name[name], sec.section(name), dram)
    sec.done()
    return _borrow_rates(tuple(by_name[pu.name] for pu in pus)), against, token


def _peak(pu: ProcessingUnit, fmt: str) -> float:
    dtype = pu.compute_dtype(base_format(fmt).compute)
    return pu.clock_hz * pu.flop_per_cycle[dtype]


def _borrow_rates(pus: tuple[ProcessingUnit, ...]) -> tuple[ProcessingUnit, ...]:
    """CPU clusters without a measured rate for a format another cluster has: that cluster's rate per effective
    core at its lowest measured count, scaled by the ratio of spec peaks, as a labelled assumption."""
    cpus = [pu for pu in pus if pu.kind == "cpu"]
    out = []
    for pu in pus:
        borrowed = {}
        if pu.kind == "cpu":
            for other in cpus:
                for fmt, points in other.matmul_measured.items():
                    if fmt in pu.matmul_measured or fmt in borrowed:
                        continue
                    p = points[0]
                    ratio = _peak(pu, fmt) / _peak(other, fmt)
                    per_core = p.value / other.effective_units(p.units) * ratio
                    borrowed[fmt] = (Measured(1, per_core, f"assumption: {other.name}'s rate per core "
                                              f"({p.source}) x {ratio:.3f}, the ratio of spec peaks (clock x FLOP/cycle)"),)
        out.append(replace(pu, matmul_measured={**pu.matmul_measured, **borrowed}) if borrowed else pu)
    return tuple(out)


def parse_soc(data: dict, source: str, calibrated: bool = True) -> SoC:
    top = Section(source, data)
    name = top.string("name")
    description = top.string("description", "")
    cpus, first = [], 0
    for sec in top.sections("cpu_clusters"):
        cpus.append(replace(_cpu(sec), first_core=first))
        first += cpus[-1].units
    pus = tuple(cpus) + tuple(_gpu(s) for s in top.sections("gpus", [])) + tuple(_npu(s) for s in top.sections("npus", []))
    if not any(pu.kind == "cpu" for pu in pus):
        raise top.fail("cpu_clusters", "at least one CPU cluster is needed (it hosts the runtime)")
    names = [pu.name for pu in pus]
    for n in names:
        if names.count(n) > 1:
            raise top.fail("name", f"two processing units are called {n!r}")
        if n in RESERVED or not _NAME.fullmatch(n):
            raise top.fail("name", f"{n[:40]!r}: a processing unit's name is letters, digits, '.', '_' and '-' (a "
                                   f"device string names it), and not {', '.join(RESERVED)} (they name the first of a kind)")
    d = top.section("dram")
    dram = Dram(peak_bandwidth_B_s=d.number("peak_bandwidth_gb_s", positive=True) * GB,
                achievable_fraction=d.number("achievable_fraction", positive=True, max=1.0),
                kind=d.string("type", ""))
    d.done()
    i = top.section("interconnect")
    shared = i.boolean("shared_memory")
    copy = i.number("copy_bandwidth_gb_s", None, positive=True)
    if not shared and copy is None:
        raise i.fail("copy_bandwidth_gb_s", "required when shared_memory is false")
    inter = Interconnect(handoff_latency_s=i.number("handoff_latency_us", min=0.0) * US, shared_memory=shared,
                         copy_bandwidth_B_s=copy * GB if copy is not None else None)
    i.done()
    calibration, token = "", (0.0, "")
    if top.has("calibration"):
        calibrated_pus, against, fitted_token = _calibrate(pus, top.section("calibration"), dram)
        if calibrated:
            pus, calibration, token = calibrated_pus, against, fitted_token
    host = top.string("host", next(pu.name for pu in pus if pu.kind == "cpu"))
    if host not in names or next(pu for pu in pus if pu.name == host).kind != "cpu":
        raise top.fail("host", f"must name a CPU cluster, got {host!r}")
    top.done()
    return SoC(name=name, description=description, source=source, pus=pus, dram=dram, interconnect=inter, host=host,
               calibration=calibration, token_overhead_s=token[0], token_overhead_source=token[1])


def load_soc(name_or_path: str, calibrated: bool = True) -> SoC:
    """A bundled SoC by name (socs/NAME.yaml) or a YAML file by path; calibrated=False ignores its calibration."""
    path, label = resolve_file("socs", name_or_path, (".yaml", ".yml"))
    return parse_soc(read_mapping(path), label, calibrated)
