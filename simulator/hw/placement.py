"""Placements: which processing unit, and which of its cores, run a model.

Device strings: `cpu:K` (K cores of the SoC's first CPU cluster), `cpu` (all of them), `NAME:K` or `NAME`
for a named cluster (`a76:4` on big.LITTLE SoCs), `gpu` or the GPU's name. K cores are cores 0..K-1 unless
`@FIRST` says where they start: `cpu:2@4` is cores 4 and 5. So a drafter and a target both on `cpu:1` share
core 0 (the paper's homogeneous mapping), while `cpu:1` and `cpu:1@1` run side by side. An op takes every
core of its placement; a GPU op takes the whole GPU, whose kernels run in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.common.errors import InputError
from simulator.hw.soc import ProcessingUnit, SoC


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
        if self.pu.kind != "cpu":
            return self.pu.name
        return f"{self.pu.name}:{len(self.cores)}" + (f"@{self.cores[0]}" if self.cores[0] else "")


@dataclass(frozen=True)
class DeviceRequest:
    pu: ProcessingUnit
    cores: int
    first_core: int = 0


def parse_device(soc: SoC, text: str, flag: str = "--target-device") -> DeviceRequest:
    text_cores, at, first_text = text.partition("@")
    name, colon, count = text_cores.partition(":")
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
        if count or at:
            raise InputError(flag, f"{text!r}: a GPU is placed whole; write {name!r} without cores")
        return DeviceRequest(pu, 1)
    if not count:
        cores = pu.units
    elif not _whole(count) or not 1 <= int(count) <= pu.units:
        raise InputError(flag, f"{text!r}: core count must be 1..{pu.units} on cluster {pu.name}")
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


def _whole(text: str) -> bool:
    """A whole number in ASCII digits (str.isdigit alone also takes '²', which int() refuses)."""
    return text.isascii() and text.isdigit()


def place(requests: list[DeviceRequest]) -> list[Placement]:
    """Each request's cores: `cores` of them from `first_core`; a GPU request gets the GPU's one queue."""
    return [Placement(r.pu, (0,)) if r.pu.kind == "gpu" else Placement(r.pu, tuple(range(r.first_core, r.first_core + r.cores)))
            for r in requests]
