"""SoC descriptions: processing units (CPU clusters, GPUs), the shared DRAM and the CPU-GPU interconnect.

A processing unit (PU) is what an op is mapped to. It computes at
    effective units x clock x FLOP-per-cycle(dtype) x efficiency(op class)
where a CPU op on k cores has 1 + (k - 1) x parallel_efficiency effective cores and a GPU op always uses all
its shader cores. A dtype the PU cannot run is promoted as its `promote` map says (IREE runs INT8 on the
Mali as FP32). Every PU pulls DRAM bytes through a cap: k x per-core bandwidth up to the cluster's own cap
for a CPU, one cap for a GPU. The DRAM itself delivers peak x achievable fraction to all PUs together.

Files are YAML in socs/ with units in every key name; loading converts to SI (Hz, bytes/s, seconds) and
validates every key once, so the rest of the simulator trusts these values.

A file may carry a `calibration:` section: per-PU multipliers fitted to measurements (`against` says which),
applied on top of the spec-derived values when the SoC is loaded calibrated (the default) and left out with
`calibrated=False` (`--uncalibrated`): `efficiency_scale` multiplies every op-class efficiency of the PU,
`dtype_efficiency` multiplies the FLOP rate of one compute dtype (kernels of one dtype doing better or worse).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.common.config import Section, read_mapping
from simulator.hw.dtypes import COMPUTE_DTYPES
from simulator.common.bundled import resolve_file

OP_CLASSES = ("matmul", "attention", "elementwise")
GB = 1e9
US = 1e-6


@dataclass(frozen=True, eq=False)
class ProcessingUnit:
    """A CPU cluster (kind "cpu") or a GPU (kind "gpu"). Compared and hashed by identity: loaded once per run."""

    name: str
    kind: str
    units: int                          # CPU cores, or GPU shader cores
    clock_hz: float
    flop_per_cycle: dict[str, float]    # per core (CPU) or per shader core (GPU), by compute dtype
    efficiency: dict[str, float]        # achieved fraction of peak FLOP rate, by op class
    overhead_s: float                   # CPU per-op dispatch, or GPU kernel launch
    bandwidth_cap_B_s: float            # the whole PU's cap on DRAM traffic
    bandwidth_per_unit_B_s: float | None = None   # CPU per-core cap; None for a GPU
    parallel_efficiency: float = 1.0    # CPU: each core beyond the first adds this fraction of a core
    promote: dict[str, str] = field(default_factory=dict)
    dtype_efficiency: dict[str, float] = field(default_factory=dict)   # calibrated per-dtype multiplier (default 1)

    def compute_dtype(self, dtype: str) -> str:
        return self.promote.get(dtype, dtype)

    def effective_units(self, units: int) -> float:
        return 1.0 + (units - 1) * self.parallel_efficiency

    def flop_rate(self, dtype: str, op_class: str, units: int) -> float:
        """FLOP/s an op of this class and compute dtype achieves on `units` cores of this PU."""
        dtype = self.compute_dtype(dtype)
        return (self.effective_units(units) * self.clock_hz * self.flop_per_cycle[dtype] * self.efficiency[op_class]
                * self.dtype_efficiency.get(dtype, 1.0))

    def op_bandwidth_cap(self, units: int) -> float:
        """The most DRAM bytes/s one op on `units` cores can pull, before sharing with anyone."""
        if self.bandwidth_per_unit_B_s is None:
            return self.bandwidth_cap_B_s
        return min(units * self.bandwidth_per_unit_B_s, self.bandwidth_cap_B_s)


@dataclass(frozen=True)
class Dram:
    peak_bandwidth_B_s: float
    achievable_fraction: float
    kind: str = ""

    @property
    def usable_B_s(self) -> float:
        return self.peak_bandwidth_B_s * self.achievable_fraction


@dataclass(frozen=True)
class Interconnect:
    """Crossing PUs: a fixed latency (fence, cache maintenance, runtime call) plus a copy where memory is not shared."""

    handoff_latency_s: float
    shared_memory: bool
    copy_bandwidth_B_s: float | None

    def handoff_s(self, nbytes: float, dram_B_s: float) -> float:
        """Alone on the SoC: the latency, plus the copy at the copy engine's or the DRAM's rate, the lower."""
        if self.shared_memory or nbytes <= 0:
            return self.handoff_latency_s
        return self.handoff_latency_s + nbytes / min(self.copy_bandwidth_B_s, dram_B_s)


@dataclass(frozen=True, eq=False)
class SoC:
    name: str
    description: str
    source: str
    pus: tuple[ProcessingUnit, ...]
    dram: Dram
    interconnect: Interconnect
    host: str                 # the CPU cluster that runs the runtime and talks to the GPU
    calibration: str = ""     # what the calibrated multipliers were fitted to ("" = spec values only)

    def without_overheads(self) -> "SoC":
        """The same SoC with no dispatch, launch or handoff latency (copies still cost bandwidth)."""
        from dataclasses import replace
        return replace(self, pus=tuple(replace(pu, overhead_s=0.0) for pu in self.pus),
                       interconnect=replace(self.interconnect, handoff_latency_s=0.0))

    def pu(self, name: str) -> ProcessingUnit:
        for pu in self.pus:
            if pu.name == name:
                return pu
        raise KeyError(name)

    def first(self, kind: str) -> ProcessingUnit | None:
        return next((pu for pu in self.pus if pu.kind == kind), None)

    def describe(self) -> dict:
        """Every resolved parameter, SI units in key names, for the JSON scenario block."""
        return {
            "name": self.name,
            "source": self.source,
            "host": self.host,
            "calibration": self.calibration or "none: spec-derived values and stated assumptions only",
            "dram": {"peak_bandwidth_B_s": self.dram.peak_bandwidth_B_s,
                     "achievable_fraction": self.dram.achievable_fraction,
                     "usable_bandwidth_B_s": self.dram.usable_B_s},
            "interconnect": {"handoff_latency_s": self.interconnect.handoff_latency_s,
                             "shared_memory": self.interconnect.shared_memory,
                             "copy_bandwidth_B_s": self.interconnect.copy_bandwidth_B_s},
            "pus": [{"name": pu.name, "kind": pu.kind, "units": pu.units, "clock_hz": pu.clock_hz,
                     "flop_per_cycle": dict(pu.flop_per_cycle), "efficiency": dict(pu.efficiency),
                     "overhead_s": pu.overhead_s, "bandwidth_cap_B_s": pu.bandwidth_cap_B_s,
                     "bandwidth_per_unit_B_s": pu.bandwidth_per_unit_B_s,
                     "parallel_efficiency": pu.parallel_efficiency, "promote": dict(pu.promote),
                     "dtype_efficiency": dict(pu.dtype_efficiency)}
                    for pu in self.pus],
        }


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
    from dataclasses import replace
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
