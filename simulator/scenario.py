"""A scenario: every resolved input of one simulation, validated once, as one plain value."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError
from .graph import GRANULARITIES
from .mapping import DeviceRequest, Placement, place
from .model import ModelSpec, Precision
from .soc import SoC


@dataclass(frozen=True)
class ModelRun:
    """One model as it runs: shapes, formats and where."""

    spec: ModelSpec
    precision: Precision
    device: DeviceRequest
    device_text: str

    def describe(self) -> dict:
        return {"model": self.spec.describe(), "parameters": self.spec.parameters(),
                "weights_dtype": self.precision.weights, "activations_dtype": self.precision.activations,
                "kv_cache_dtype": self.precision.kv_cache, "device": self.device_text}


@dataclass(frozen=True)
class Scenario:
    soc: SoC
    target: ModelRun
    prompt_tokens: int
    new_tokens: int
    kv_cache: bool = True
    granularity: str = "op"

    def __post_init__(self):
        if self.prompt_tokens < 1:
            raise InputError("--prompt-tokens", f"must be >= 1, got {self.prompt_tokens}")
        if self.new_tokens < 1:
            raise InputError("--new-tokens", f"must be >= 1, got {self.new_tokens}")
        if self.granularity not in GRANULARITIES:
            raise InputError("--granularity", f"must be one of {', '.join(GRANULARITIES)}")

    def target_placement(self) -> Placement:
        return place([self.target.device])[0]

    def host_placement(self) -> Placement:
        return Placement(self.soc.pu(self.soc.host), (0,))

    def describe(self) -> dict:
        placement = self.target_placement()
        target = {**self.target.describe(), "placement": placement.label, "cores": list(placement.cores)}
        return {"soc": self.soc.describe(), "target": target, "draft": "none",
                "prompt_tokens": self.prompt_tokens, "new_tokens": self.new_tokens, "kv_cache": self.kv_cache,
                "granularity": self.granularity}
