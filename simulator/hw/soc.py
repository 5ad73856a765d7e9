"""SoC descriptions: processing units (CPU clusters, GPUs, NPUs), the shared DRAM and the interconnect.

A processing unit (PU) is what an op is mapped to. Measured rates come first, spec-derived ones are the
labelled fallback:
- Compute. A matmul whose weight format has a measured rate on this PU (FLOP/s at some core counts, fitted
  to prefill measurements by `specsoc calibrate`) runs at it, interpolated linearly between measured core
  counts and scaled by effective cores outside them. Otherwise an op computes at the spec rate
      effective units x clock x FLOP-per-cycle(dtype) x efficiency(op class)
  where a CPU op on k cores has 1 + (k - 1) x parallel_efficiency effective cores and a GPU op always uses
  all its shader cores. A dtype the PU cannot run is promoted as its `promote` map says (IREE runs INT8 on
  the Mali as FP32).
- Bandwidth. An op on k cores pulls DRAM bytes at most at the bandwidth the PU was measured to stream at
  with k cores (linear between measured counts, flat above the highest, and below the lowest never above
  k x the per-core figure); without a measurement, at k x per-core bandwidth up to the cluster's own cap for
  a CPU, one cap for a GPU. The DRAM itself delivers peak x achievable fraction to all PUs together.
Every measured value keeps its source (board, engine and version, date, where it was published).

An NPU is placed whole, as a GPU is. Its file gives its peak op rate per data type (vendor TOPS, spread over its
cores and clock), so its spec rate is the same product; it runs only the op classes its file lists (`runs`) and
reads only the weight formats it lists (`weight_formats`, after its promotions): other ops fall back to another
placement (llm/partition.py), other formats are refused.

Values are SI (Hz, bytes/s, seconds), validated once when a file is read (socfile.py), trusted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

OP_CLASSES = ("matmul", "attention", "elementwise")


@dataclass(frozen=True)
class Measured:
    """A rate measured (or fitted to measurements) at a number of cores, with where it comes from."""

    units: int
    value: float        # bytes/s or FLOP/s
    source: str


def _interpolate(points: tuple[Measured, ...], units: int, outside) -> float:
    """Linear between measured core counts; `outside(point, units)` beyond them (points ascending by units)."""
    if units <= points[0].units:
        return outside(points[0], units)
    if units >= points[-1].units:
        return outside(points[-1], units)
    for lo, hi in zip(points, points[1:]):
        if lo.units <= units <= hi.units:
            return lo.value + (hi.value - lo.value) * (units - lo.units) / (hi.units - lo.units)
    raise AssertionError("unreachable: points ascend")


@dataclass(frozen=True, eq=False)
class ProcessingUnit:
    """A CPU cluster (kind "cpu"), a GPU ("gpu") or an NPU ("npu"). Compared and hashed by identity: loaded once
    per run."""

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
    first_core: int = 0                 # a CPU cluster's first core in the SoC-wide numbering (clusters in file order)
    isa: tuple[str, ...] = ()           # CPU instruction-set features (dotprod, i8mm, fp16); () when not stated
    bandwidth_measured: tuple[Measured, ...] = ()           # streaming bandwidth by cores used, ascending
    matmul_measured: dict[str, tuple[Measured, ...]] = field(default_factory=dict)   # weight format -> FLOP/s
    runs: tuple[str, ...] = OP_CLASSES  # the op classes it can run (an NPU: those its file lists)
    weight_formats: tuple[str, ...] = ()   # the weight formats it reads, after promotion (() = any)

    def runs_class(self, op_class: str) -> bool:
        return op_class in self.runs

    def reads(self, weights: str) -> bool:
        """Does it read weights in this format (after its promotions)?"""
        return not self.weight_formats or weights in self.weight_formats

    def compute_dtype(self, dtype: str) -> str:
        return self.promote.get(dtype, dtype)

    def effective_units(self, units: int) -> float:
        return 1.0 + (units - 1) * self.parallel_efficiency

    def spec_flop_rate(self, dtype: str, op_class: str, units: int) -> float:
        """FLOP/s from the spec sheet: effective units x clock x FLOP/cycle x efficiency (x any dtype multiplier)."""
        dtype = self.compute_dtype(dtype)
        return (self.effective_units(units) * self.clock_hz * self.flop_per_cycle[dtype] * self.efficiency[op_class]
                * self.dtype_efficiency.get(dtype, 1.0))

    def flop_rate(self, dtype: str, op_class: str, units: int, weight_format: str = "") -> float:
        """FLOP/s an op of this class and compute dtype achieves on `units` cores of this PU: a matmul in a
        weight format measured here at its measured rate, anything else at the spec rate."""
        points = self.matmul_measured.get(weight_format) if op_class == "matmul" else None
        if points:
            return _interpolate(points, units, lambda p, k: p.value * self.effective_units(k) / self.effective_units(p.units))
        return self.spec_flop_rate(dtype, op_class, units)

    def spec_bandwidth(self, units: int) -> float:
        """Bytes/s from the spec fallback: units x per-core bandwidth up to the cluster's cap (a GPU: its cap)."""
        if self.bandwidth_per_unit_B_s is None:
            return self.bandwidth_cap_B_s
        return min(units * self.bandwidth_per_unit_B_s, self.bandwidth_cap_B_s)

    def op_bandwidth_cap(self, units: int) -> float:
        """The most DRAM bytes/s one op on `units` cores can pull, before sharing with anyone."""
        if not self.bandwidth_measured:
            return self.spec_bandwidth(units)
        return _interpolate(self.bandwidth_measured, units,
                            lambda p, k: p.value if k >= p.units else min(p.value, self.spec_bandwidth(k)))


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
    calibration: str = ""     # what the calibrated values were fitted to ("" = spec values only)
    token_overhead_s: float = 0.0   # fixed host cost of every forward pass (sampling, graph launch, short ops)
    token_overhead_source: str = ""

    def without_overheads(self) -> "SoC":
        """The same SoC with no dispatch, launch, per-token or handoff latency (copies still cost bandwidth)."""
        return replace(self, pus=tuple(replace(pu, overhead_s=0.0) for pu in self.pus), token_overhead_s=0.0,
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
            "token_overhead_s": self.token_overhead_s,
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
                     "dtype_efficiency": dict(pu.dtype_efficiency), "isa": list(pu.isa),
                     "bandwidth_measured_B_s": [_point(p) for p in pu.bandwidth_measured],
                     **({"runs": list(pu.runs), "weight_formats": list(pu.weight_formats)} if pu.kind == "npu" else {}),
                     "matmul_measured_flop_s": {f: [_point(p) for p in points] for f, points in pu.matmul_measured.items()}}
                    for pu in self.pus],
        }


def _point(p: Measured) -> dict:
    return {"units": p.units, "value": p.value, "source": p.source}
