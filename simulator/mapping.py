"""Placements: which processing unit, and which of its cores, run a model.

Device strings: `cpu:K` (K cores of the SoC's first CPU cluster), `cpu` (all of them), `NAME:K` or `NAME`
for a named cluster (`a76:4` on big.LITTLE SoCs), `gpu` or the GPU's name. An op takes every core of its
placement; a GPU op takes the whole GPU, whose kernels run in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError
from .soc import SoC, ProcessingUnit


@dataclass(frozen=True)
class Placement:
    pu: ProcessingUnit
    cores: tuple[int, ...]      # core indices within a CPU cluster; (0,) for a GPU (one in-order queue)

    @property
    def units(self) -> int:
        """Cores (CPU) or shader cores (GPU) an op on this placement computes with."""
        return len(self.cores) if self.pu.kind == "cpu" else self.pu.units

    @property
    def label(self) -> str:
        return f"{self.pu.name}:{len(self.cores)}" if self.pu.kind == "cpu" else self.pu.name

    def overlaps(self, other: "Placement") -> bool:
        return self.pu.name == other.pu.name and bool(set(self.cores) & set(other.cores))


@dataclass(frozen=True)
class DeviceRequest:
    pu: ProcessingUnit
    cores: int


def parse_device(soc: SoC, text: str, flag: str = "--target-device") -> DeviceRequest:
    name, colon, count = text.partition(":")
    if colon and not count:
        raise InputError(flag, f"{text!r}: give a core count after ':' or drop the ':'")
    if name == "cpu":
        pu = soc.first("cpu")
    elif name == "gpu":
        pu = soc.first("gpu")
        if pu is None:
            raise InputError(flag, f"SoC {soc.name} has no GPU")
    else:
        try:
            pu = soc.pu(name)
        except KeyError:
            names = ", ".join(["cpu", "gpu"] + [p.name for p in soc.pus])
            raise InputError(flag, f"SoC {soc.name} has no processing unit {name!r} (known: {names})") from None
    if pu.kind == "gpu":
        if count:
            raise InputError(flag, f"{text!r}: a GPU is placed whole; write {name!r} without a core count")
        return DeviceRequest(pu, 1)
    if not count:
        return DeviceRequest(pu, pu.units)
    if not count.isdigit() or not 1 <= int(count) <= pu.units:
        raise InputError(flag, f"{text!r}: core count must be 1..{pu.units} on cluster {pu.name}")
    return DeviceRequest(pu, int(count))


def place(requests: list[DeviceRequest]) -> list[Placement]:
    """Give each request its cores: in order, from the lowest free core of its cluster; when a cluster has too
    few free cores, the request starts again from core 0 and shares cores with the earlier ones."""
    used: dict[str, int] = {}
    out = []
    for req in requests:
        if req.pu.kind == "gpu":
            out.append(Placement(req.pu, (0,)))
            continue
        start = used.get(req.pu.name, 0)
        if start + req.cores > req.pu.units:
            start = 0
        out.append(Placement(req.pu, tuple(range(start, start + req.cores))))
        used[req.pu.name] = start + req.cores
    return out
