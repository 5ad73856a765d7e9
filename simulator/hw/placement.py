"""Placements: which processing unit, and which of its cores, run a model.

Device strings: `cpu:K` (K cores of the SoC's first CPU cluster), `cpu` (all of them), `NAME:K` or `NAME`
for a named cluster (`a76:4` on big.LITTLE SoCs), `gpu` or the GPU's name, `npu` or the NPU's name. K cores are cores 0..K-1 unless
`@FIRST` says where they start: `cpu:2@4` is cores 4 and 5. So a drafter and a target both on `cpu:1` share
core 0 (the paper's homogeneous mapping), while `cpu:1` and `cpu:1@1` run side by side. An op takes every
core of its placement; a GPU (or NPU) op takes the whole GPU (NPU), whose kernels run in order.

`cpu:K` with K above the first cluster's cores spans clusters, in file order, as llama.cpp's threads do when
there are more of them than big cores: `cpu:8` on the RK3588 is its 4 A76 and its 4 A55 cores. Every op is
then split evenly over the cores (one share per cluster) and ends when its slowest share ends.

All CPU cores of a SoC are numbered once (`slots`: cluster after cluster), so that placements on different
clusters, or spanning them, hold exactly the cores they use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from simulator.common.errors import InputError
from simulator.hw.soc import ProcessingUnit, SoC


@dataclass(frozen=True)
class Placement:
    pu: ProcessingUnit
    cores: tuple[int, ...]      # core indices within a CPU cluster; (0,) for a GPU (one in-order queue)
    spill: tuple["Placement", ...] = ()   # the further clusters a placement spanning clusters runs on

    @property
    def units(self) -> int:
        """Cores (CPU, over every cluster it spans) or shader cores (GPU) an op on this placement computes with."""
        if self.pu.kind != "cpu":
            return self.pu.units
        return len(self.cores) + sum(len(s.cores) for s in self.spill)

    def flop_rate(self, dtype: str, op_class: str, weight_format: str = "") -> float:
        """The PU's FLOP/s for this op class, dtype and weight format on this placement's cores (memoised: a
        pure function of them, asked for every op of every pass planned)."""
        key = (dtype, op_class, weight_format)
        rate = self._rates.get(key)
        if rate is None:
            rate = self._rates[key] = self.pu.flop_rate(dtype, op_class, self.units, weight_format)
        return rate

    @cached_property
    def _rates(self) -> dict[tuple[str, str, str], float]:
        return {}

    @cached_property
    def bandwidth_cap_B_s(self) -> float:
        """The most DRAM bytes/s one op on this placement can pull alone (the sum over the clusters it spans)."""
        if self.spill:
            return sum(share.bandwidth_cap_B_s for share in self.shares)
        return self.pu.op_bandwidth_cap(self.units)

    @cached_property
    def shares(self) -> tuple["Placement", ...]:
        """One placement per cluster it runs on (itself when it spans none)."""
        return (self,) if not self.spill else (Placement(self.pu, self.cores),) + self.spill

    @property
    def label(self) -> str:
        if self.pu.kind != "cpu":
            return self.pu.name
        return "+".join(f"{s.pu.name}:{len(s.cores)}" + (f"@{s.cores[0]}" if s.cores[0] else "") for s in self.shares)

    @cached_property
    def lock(self) -> str:
        """The engine's lock its cores belong to: one for all CPU cores, one per GPU."""
        return "cpu" if self.pu.kind == "cpu" else self.pu.name

    @cached_property
    def slots(self) -> tuple[int, ...]:
        """Its cores in the SoC-wide numbering of its lock."""
        return tuple(s.pu.first_core + c for s in self.shares for c in s.cores)

    @cached_property
    def group(self) -> str:
        """Its DRAM group: its PU's name, or the spanned clusters' names joined by '+'."""
        return "+".join(s.pu.name for s in self.shares)


@dataclass(frozen=True)
class DeviceRequest:
    pu: ProcessingUnit
    cores: int
    first_core: int = 0
    spill: tuple[tuple[ProcessingUnit, int], ...] = ()   # further clusters and core counts (cpu:K spanning)


def parse_device(soc: SoC, text: str, flag: str = "--target-device") -> DeviceRequest:
    text_cores, at, first_text = text.partition("@")
    name, colon, count = text_cores.partition(":")
    if colon and not count:
        raise InputError(flag, f"{text!r}: give a core count after ':' or drop the ':'")
    if name == "cpu":
        pu = soc.first("cpu")
    elif name in ("gpu", "npu"):
        pu = soc.first(name)
        if pu is None:
            raise InputError(flag, f"SoC {soc.name} has no {name.upper()}")
    else:
        try:
            pu = soc.pu(name)
        except KeyError:
            names = ", ".join(["cpu", "gpu", "npu"] + [p.name for p in soc.pus])
            raise InputError(flag, f"SoC {soc.name} has no processing unit {name!r} (known: {names})") from None
    if pu.kind != "cpu":
        if count or at:
            raise InputError(flag, f"{text!r}: a{'n NPU' if pu.kind == 'npu' else ' GPU'} is placed whole; write {name!r} without cores")
        return DeviceRequest(pu, 1)
    if not count:
        cores = pu.units
    elif name == "cpu" and _whole(count) and int(count) > pu.units:
        if at and first_text != "0":
            raise InputError(flag, f"{text!r}: cpu:{count} spans clusters from core 0; '@' cannot move it")
        return _spanning(soc, text, int(count), flag)
    elif not _whole(count) or not 1 <= int(count) <= pu.units:
        total = sum(p.units for p in soc.pus if p.kind == "cpu")
        more = f" (cpu:K up to {total} spans clusters)" if name == "cpu" and total > pu.units else ""
        raise InputError(flag, f"{text!r}: core count must be 1..{pu.units} on cluster {pu.name}{more}")
    else:
        cores = int(count)
    first = 0
    if at:
        if not _whole(first_text):
            raise InputError(flag, f"{text!r}: after '@' give the first core's number (0..{pu.units - 1})")
        if int(first_text) + cores > pu.units:
            raise InputError(flag, f"{text!r}: cores {first_text}..+{cores} do not fit the {pu.units} cores of {pu.name}")
        first = int(first_text)
    return DeviceRequest(pu, cores, first)


def _spanning(soc: SoC, text: str, count: int, flag: str) -> DeviceRequest:
    """`cpu:K` over more cores than the first cluster has: whole clusters in file order, the rest on the next."""
    clusters = [p for p in soc.pus if p.kind == "cpu"]
    if count > sum(p.units for p in clusters):
        raise InputError(flag, f"{text!r}: SoC {soc.name} has {sum(p.units for p in clusters)} CPU cores")
    shares = []
    left = count
    for pu in clusters:
        take = min(left, pu.units)
        if take:
            shares.append((pu, take))
        left -= take
    (first, cores), *spill = shares
    return DeviceRequest(first, cores, 0, tuple(spill))


def _whole(text: str) -> bool:
    """A whole number in ASCII digits (str.isdigit alone also takes '²', which int() refuses)."""
    return text.isascii() and text.isdigit()


def place(requests: list[DeviceRequest]) -> list[Placement]:
    """Each request's cores: `cores` of them from `first_core`; a GPU request gets the GPU's one queue."""
    return [Placement(r.pu, (0,)) if r.pu.kind != "cpu" else
            Placement(r.pu, tuple(range(r.first_core, r.first_core + r.cores)),
                      tuple(Placement(pu, tuple(range(n))) for pu, n in r.spill))
            for r in requests]
