"""SoC descriptions: processing units (CPU clusters, GPUs), the shared DRAM and the CPU-GPU interconnect.

A processing unit (PU) is what an op is mapped to. It computes at
    effective units x clock x FLOP-per-cycle(dtype) x efficiency(op class)
where a CPU op on k cores has 1 + (k - 1) x parallel_efficiency effective cores and a GPU op always uses all
its shader cores. A dtype the PU cannot run is promoted as its `promote` map says (IREE runs INT8 on the
Mali as FP32). Every PU pulls DRAM bytes through a cap: k x per-core bandwidth up to the cluster's own cap
for a CPU, one cap for a GPU. The DRAM itself delivers peak x achievable fraction to all PUs together.

Values are SI (Hz, bytes/s, seconds), validated once when a file is read (socfile.py), trusted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

OP_CLASSES = ("matmul", "attention", "elementwise")


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
