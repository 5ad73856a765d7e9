"""Reading SoC files (socs/*.yaml): every key known, every number typed and in range, converted to SI.

Files are YAML with units in every key name (`clock_ghz`, `bandwidth_per_core_gb_s`, `launch_overhead_us`).

A file may carry a `calibration:` section: per-PU multipliers fitted to measurements (`against` says which),
applied on top of the spec-derived values when the SoC is loaded calibrated (the default) and left out with
`calibrated=False` (`--uncalibrated`): `efficiency_scale` multiplies every op-class efficiency of the PU,
`dtype_efficiency` multiplies the FLOP rate of one compute dtype (kernels of one dtype doing better or worse).
"""

from __future__ import annotations

from dataclasses import replace

from simulator.common.bundled import resolve_file
from simulator.common.config import Section, read_mapping
from simulator.hw.dtypes import COMPUTE_DTYPES
from simulator.hw.soc import OP_CLASSES, Dram, Interconnect, ProcessingUnit, SoC

GB = 1e9
US = 1e-6


def _compute_section(sec: Section, units_key: str, overhead_key: str, kind: str) -> dict:
    fpc = sec.number_map("flop_per_cycle", COMPUTE_DTYPES)
    promote_raw = sec.raw("promote", {})
    if not isinstance(promote_raw, dict):
        raise sec.fail("promote", "must be a mapping dtype -> dtype")
    for src, dst in promote_raw.items():
        if not isinstance(dst, str):
            raise sec.fail(f"promote.{src}", f"must name one dtype, got {dst!r}")
        if src in fpc:
            raise sec.fail(f"promote.{src}", f"{src} has its own flop_per_cycle; a PU either runs a dtype or promotes it")
        if src not in COMPUTE_DTYPES or dst not in fpc:
            raise sec.fail(f"promote.{src}", f"must map one of {', '.join(COMPUTE_DTYPES)} to a dtype listed in flop_per_cycle")
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


def _calibrate(pus: tuple[ProcessingUnit, ...], sec: Section) -> tuple[tuple[ProcessingUnit, ...], str]:
    """Apply a `calibration:` section's multipliers to the PUs it names."""
    against = sec.string("against")
    by_name = {pu.name: pu for pu in pus}
    for name in list(sec._data):
        if name == "against":
            continue
        if name not in by_name:
            raise sec.fail(name, f"no processing unit of that name (known: {', '.join(by_name)})")
        sub = sec.section(name)
        pu = by_name[name]
        scale = sub.number("efficiency_scale", 1.0, positive=True)
        dtype_eff = sub.number_map("dtype_efficiency", COMPUTE_DTYPES, {})
        sub.done()
        by_name[name] = replace(pu, efficiency={k: min(1.0, v * scale) for k, v in pu.efficiency.items()},
                                dtype_efficiency=dtype_eff)
    sec.done()
    return tuple(by_name[pu.name] for pu in pus), against


def parse_soc(data: dict, source: str, calibrated: bool = True) -> SoC:
    top = Section(source, data)
    name = top.string("name")
    description = top.string("description", "")
    pus = tuple(_cpu(s) for s in top.sections("cpu_clusters")) + tuple(_gpu(s) for s in top.sections("gpus", []))
    if not any(pu.kind == "cpu" for pu in pus):
        raise top.fail("cpu_clusters", "at least one CPU cluster is needed (it hosts the runtime)")
    names = [pu.name for pu in pus]
    for n in names:
        if names.count(n) > 1:
            raise top.fail("name", f"two processing units are called {n!r}")
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
    calibration = ""
    if top.has("calibration"):
        calibrated_pus, against = _calibrate(pus, top.section("calibration"))
        if calibrated:
            pus, calibration = calibrated_pus, against
    host = top.string("host", next(pu.name for pu in pus if pu.kind == "cpu"))
    if host not in names or next(pu for pu in pus if pu.name == host).kind != "cpu":
        raise top.fail("host", f"must name a CPU cluster, got {host!r}")
    top.done()
    return SoC(name=name, description=description, source=source, pus=pus, dram=dram, interconnect=inter, host=host,
               calibration=calibration)


def load_soc(name_or_path: str, calibrated: bool = True) -> SoC:
    """A bundled SoC by name (socs/NAME.yaml) or a YAML file by path; calibrated=False ignores its calibration."""
    path, label = resolve_file("socs", name_or_path, (".yaml", ".yml"))
    return parse_soc(read_mapping(path), label, calibrated)
