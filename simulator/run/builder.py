"""Building a Scenario from plain values, as a user writes them: names, paths, device strings and numbers.

ScenarioSpec is what `specsoc run` and `specsoc check` take, one field per flag (`--target-device` is
`target_device`), with the same defaults: the seed paper's validated setup. `build()` reads the files and checks
every value, raising an InputError that names the flag; the Scenario it returns is trusted from then on.

    from simulator.run.builder import ScenarioSpec
    from simulator.run.simulate import simulate

    results = simulate(ScenarioSpec(kv_cache=True, target_device="cpu:4", mode="overlap", alpha=0.9).build())
    print(results.speedup, results.baseline.total_time_s)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import get_args, get_type_hints

from simulator.common.errors import InputError
from simulator.hw.placement import parse_device
from simulator.hw.soc import SoC
from simulator.hw.socfile import load_soc
from simulator.llm.model import ModelSpec, Precision
from simulator.llm.partition import is_partition, parse_partition
from simulator.llm.partitioned import PartitionedForm
from simulator.llm.modelfile import load_model
from simulator.run.scenario import Effects, ModelRun, Scenario, Speculation, Workload
from simulator.traces.synth import MAX_SYNTHETIC_TOKENS, Iid, Lengths, generate
from simulator.traces.trace import MAX_SAMPLES, MAX_TOKENS, load_trace

DEFAULT_ALPHA = 0.94          # the paper's measured acceptance on its translation pair
DEFAULT_WEIGHTS = {"target": "int8", "draft": "fp16"}   # the paper's semi-quantized pair
DEFAULT_SAMPLES = 64          # synthetic samples with a drafter (1 without): the README's "why 64 samples"
MAX_DRAFTS = 64               # gamma of a run: Eq. 1 saturates long before (explore and figure take as many)


def weight_format(model: ModelSpec, given: str | None, default: str, flag: str) -> str:
    """The weight format a model runs in: the one given, else the one its file implies, else `default`; a file
    that stores each tensor's format (GGUF) takes no other than its own."""
    if model.stored is not None and given not in (None, model.default_weights):
        raise InputError(flag, f"{model.source} stores its weights as {model.default_weights} (per tensor): "
                               f"drop {flag} or give {model.default_weights}")
    return given or model.default_weights or default


@dataclass(frozen=True)
class ScenarioSpec:
    """Every input of a scenario as plain values; defaults are `specsoc run`'s (the paper's validated setup:
    Llama 3.2 3B int8 on one A55 core verifying, Llama 3.2 1B fp16 drafting on the Mali-G310, gamma 5, no KV
    cache, 63-token prompts and outputs, i.i.d. acceptance at alpha 0.94)."""

    soc: str = "imx95"                  # bundled SoC name or YAML path
    calibrated: bool = True             # False: ignore the SoC file's calibration section (--uncalibrated)
    target: str = "llama-3.2-3b"        # bundled model, graphs YAML or HF config.json path
    target_dtype: str | None = None     # None: the model file's own format (GGUF, quantized checkpoint), else int8
    target_act_dtype: str | None = None
    target_kv_dtype: str | None = None
    target_device: str = "cpu:1"
    draft: str | None = "llama-3.2-1b"  # None (or "none"): plain autoregressive decoding
    draft_dtype: str | None = None      # None: the model file's own format, else fp16
    draft_act_dtype: str | None = None
    draft_kv_dtype: str | None = None
    draft_device: str = "gpu"
    gamma: int = 5
    mode: str = "sequential"
    trace: str | None = None            # acceptance trace (bundled name or JSONL path); else synthetic i.i.d.
    alpha: float | None = None          # i.i.d. acceptance of synthetic samples (default DEFAULT_ALPHA)
    samples: int | None = None          # the first N samples of the trace, or N synthetic ones
    seed: int = 0
    prompt_tokens: int = 63             # synthetic samples' prompt and output lengths
    new_tokens: int = 63
    kv_cache: bool = False
    granularity: str = "op"
    effects: Effects = Effects()

    @property
    def speculative(self) -> bool:
        return self.draft not in (None, "none")

    def build(self, soc: SoC | None = None) -> Scenario:
        """The scenario: every file read and every value checked (an InputError names the flag of a bad one).
        `soc`, when given, replaces the SoC file (a sweep's variant of it)."""
        self.check()
        soc = soc or self.load_soc()
        target = self.model_run(soc, "target")
        speculation = None
        if self.speculative:
            speculation = Speculation(self.model_run(soc, "draft"), self.gamma, self.mode)
        return Scenario(soc=soc, target=target, workload=self.workload(),
                        kv_cache=self.kv_cache, granularity=self.granularity, speculation=speculation,
                        effects=self.effects)

    def load_soc(self) -> SoC:
        return load_soc(self.soc, calibrated=self.calibrated)

    def model_run(self, soc: SoC, role: str) -> ModelRun:
        """The target or drafter model with its formats and device. Its weight format defaults to the one its file
        implies, else DEFAULT_WEIGHTS; a file that stores each tensor's format (GGUF) takes no other."""
        device = getattr(self, f"{role}_device")
        model = load_model(getattr(self, role))
        weights = weight_format(model, getattr(self, f"{role}_dtype"), DEFAULT_WEIGHTS[role], f"--{role}-dtype")
        precision = Precision.resolve(weights, getattr(self, f"{role}_act_dtype"), getattr(self, f"{role}_kv_dtype"), role)
        flag = f"--{role}-device"
        if not is_partition(device):
            request = parse_device(soc, device, flag)
            if request.pu.kind != "npu":
                return ModelRun(model, precision, request, device)
        # a partition, or a whole model on an NPU (which may not run every op): checked against the model here
        partition = parse_partition(soc, device, flag)
        form = PartitionedForm(model, precision, self.kv_cache, 1, partition, soc, self.granularity, flag)
        return ModelRun(model, precision, partition, device, form.describe())

    def synthetic_samples(self) -> int:
        """How many synthetic samples the workload has (without a trace)."""
        return self.samples or (DEFAULT_SAMPLES if self.speculative else 1)

    def synthetic_tokens(self) -> int:
        """Output tokens of the synthetic workload over all its samples: the work of a run, before it is made."""
        return self.synthetic_samples() * self.new_tokens

    def check(self) -> None:
        """Each value of the right type and range, before any file is read (a flag's value comes in typed from
        the command line; this is for Python callers)."""
        for name, (kind, optional) in _field_kinds().items():
            value = getattr(self, name)
            flag = "--uncalibrated" if name == "calibrated" else "--" + name.replace("_", "-")
            if value is None and optional:
                continue
            if kind is float:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            elif kind is int:
                ok = isinstance(value, int) and not isinstance(value, bool)
            else:
                ok = isinstance(value, kind)
            if not ok:
                raise InputError(flag, f"must be {_NAMES[kind]}, got {value!r}")
            if kind is str and not value.strip():
                raise InputError(flag, "must not be empty or blank")
        for name, low, high in (("gamma", 1, MAX_DRAFTS), ("samples", 1, MAX_SAMPLES), ("seed", 0, 2**32 - 1),
                                ("prompt_tokens", 1, MAX_TOKENS), ("new_tokens", 1, MAX_TOKENS)):
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise InputError("--" + name.replace("_", "-"), f"must be in {low}..{high:,}, got {str(value)[:20]}")
        if self.trace is None and self.synthetic_tokens() > MAX_SYNTHETIC_TOKENS:
            raise InputError("--samples", f"{self.synthetic_tokens():,} synthetic output tokens ({self.synthetic_samples():,} "
                                          f"samples of {self.new_tokens:,}): at most {MAX_SYNTHETIC_TOKENS:,}")
        if self.prompt_tokens + self.new_tokens > MAX_TOKENS:
            raise InputError("--prompt-tokens + --new-tokens", f"must fit {MAX_TOKENS:,} tokens together (the longest "
                                                               f"context of any model), got {self.prompt_tokens + self.new_tokens:,}")
        if self.alpha is not None and not 0.0 <= self.alpha <= 1.0:
            raise InputError("--alpha", f"must be in 0..1, got {self.alpha}")
        if self.trace is not None and self.alpha is not None:
            raise InputError("--alpha", "give either --trace or --alpha, not both (a trace says its acceptance)")

    def workload(self) -> Workload:
        """The samples: the first `samples` of the trace, or `samples` synthetic i.i.d. ones at `alpha`."""
        if self.trace is not None:
            trace = load_trace(self.trace)
            if self.samples is not None and self.samples > len(trace.samples):
                raise InputError("--samples", f"{self.trace} has {len(trace.samples)} samples, asked for {self.samples}")
            samples = trace.samples[: self.samples] if self.samples else trace.samples
            return Workload(trace, samples, self.seed)
        alpha = DEFAULT_ALPHA if self.alpha is None else self.alpha
        samples = self.synthetic_samples()
        trace = generate(Iid(alpha=alpha), samples, Lengths(self.prompt_tokens, 0, self.new_tokens, 0), self.seed)
        return Workload(trace, trace.samples, self.seed)


_NAMES = {str: "a string", bool: "true or false", int: "a whole number", float: "a finite number",
          Effects: "an Effects"}


@cache
def _field_kinds() -> dict[str, tuple[type, bool]]:
    """Each field's type, read off its annotation, and whether it may be None (`str | None`)."""
    out = {}
    for name, hint in get_type_hints(ScenarioSpec).items():
        kinds = [k for k in get_args(hint) if k is not type(None)] or [hint]
        out[name] = (kinds[0], hint is not kinds[0])
    return out
