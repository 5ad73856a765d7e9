"""Decoding loops as simpy processes. This module knows models and tokens; the engine knows only tasks.

Autoregressive decoding: the prefill pass feeds the prompt and yields the first token; decode pass i feeds
token i after prompt + i - 1 positions. With a KV cache a decode pass computes one position and reads the
cache; without one (the seed paper's setting) it recomputes all prompt + i positions. A model on a PU other
than the host CPU cluster pays a handoff to receive the prompt and one to return each token to the host.
"""

from __future__ import annotations

from dataclasses import dataclass

from .costs import Planner
from .engine import Engine
from .graph import PassShape
from .mapping import Placement
from .scenario import ModelRun

TOKEN_BYTES = 4  # a token id crossing PUs (int32)


@dataclass(frozen=True)
class Job:
    """One model on its placement, as the decoding loops see it."""

    run: ModelRun
    placement: Placement
    label: str          # "target" or "draft": prefixes every pass label in the event log


class Runtime:
    """What the decoding loops drive: the engine, a planner that costs passes, and the host CPU."""

    def __init__(self, engine: Engine, planner: Planner, host: Placement):
        self.engine = engine
        self.planner = planner
        self.host = host

    @property
    def now(self) -> float:
        return self.engine.env.now

    def forward(self, job: Job, shape: PassShape, label: str):
        """Process body: one forward pass of the job's model."""
        plan = self.planner.plan(job.run.spec, job.run.precision, shape, job.placement)
        yield from self.engine.run_pass(plan, label)

    def to_host(self, job: Job, label: str, tokens: int = 1):
        yield from self.engine.handoff(label, job.placement, self.host, tokens * TOKEN_BYTES)

    def from_host(self, job: Job, label: str, tokens: int = 1):
        yield from self.engine.handoff(label, self.host, job.placement, tokens * TOKEN_BYTES)


def autoregressive(rt: Runtime, job: Job, prompt_tokens: int, new_tokens: int, kv_cache: bool):
    """Process body: generate `new_tokens` tokens one pass each; records when each reaches the host."""
    yield from rt.from_host(job, f"{job.label}.prompt", prompt_tokens)
    for i in range(new_tokens):
        if i == 0:
            shape, label = PassShape(prompt_tokens, 0, kv_cache), f"{job.label}.prefill"
        else:
            shape, label = PassShape(1, prompt_tokens + i - 1, kv_cache), f"{job.label}.decode.{i}"
        yield from rt.forward(job, shape, label)
        yield from rt.to_host(job, f"{label}.token")
        rt.engine.log.token_times_s.append(rt.now)
