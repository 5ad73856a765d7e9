"""Decoding loops as simpy processes. This module knows models and tokens; the engine knows only tasks.

Autoregressive decoding: the prefill pass feeds the prompt and yields the first token; decode pass i feeds
token i after prompt + i - 1 positions. With a KV cache a decode pass computes one position and reads the
cache; without one (the seed paper's setting) it recomputes all prompt + i positions. A model on a PU other
than the host CPU cluster pays a handoff to receive the prompt and one to return each token to the host.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.llm.costs import Planner
from simulator.engine.engine import Engine
from simulator.llm.graph import PassShape
from simulator.hw.placement import Placement
from simulator.run.scenario import Effects, ModelRun

TOKEN_BYTES = 4  # a token id crossing PUs (int32)


@dataclass(frozen=True)
class Job:
    """One model on its placement, as the decoding loops see it."""

    run: ModelRun
    placement: Placement
    label: str          # "target" or "draft": prefixes every pass label in the event log


class Runtime:
    """What the decoding loops drive: the engine, a planner that costs passes, the host CPU, and how passes
    are shaped (KV cache or not, and which effects are on)."""

    def __init__(self, engine: Engine, planner: Planner, host: Placement, kv_cache: bool, effects: Effects = Effects(),
                 solo: bool = False, fast: bool = False):
        self.engine = engine
        self.planner = planner
        self.host = host
        self.kv_cache = kv_cache
        self.effects = effects
        self.solo = solo       # one pass at a time: passes run in closed form (Engine.run_pass)
        self.fast = solo or fast  # closed form wherever a loop can promise a pass is alone

    def shape(self, new: int, past: int, prompt: int, drafts: int = 0) -> PassShape:
        """The pass that feeds `new` tokens after `past` positions, plus `drafts` drafts to verify (it then
        keeps logits for drafts + 1 positions). Effects switched off simplify it: without verify growth the
        drafts are not costed; without sequence growth every pass is one token after the prompt."""
        if not self.effects.verify_grows:
            drafts = 0
        if not self.effects.sequence_growth:
            new, past = 1, prompt - 1
        return PassShape(new + drafts, past, self.kv_cache, logits=drafts + 1)

    @property
    def now(self) -> float:
        return self.engine.env.now

    def forward(self, job: Job, shape: PassShape, label: str, stop=None, solo: bool | None = None, alone=None,
                exclusive: bool = False):
        """Process body: one forward pass of the job's model; False if `stop` made it abandon the pass.

        `solo` (default: the runtime's), `alone` and `exclusive` are promises about concurrency (Engine.run_pass);
        the last two are taken only on the fast path."""
        plan = self.planner.plan(job.run.spec, job.run.precision, shape, job.placement)
        solo = (self.solo if solo is None else solo) and stop is None
        return (yield from self.engine.run_pass(plan, label, stop, solo, alone if self.fast else None,
                                                exclusive and self.fast))

    def to_host(self, job: Job, label: str, tokens: int = 1):
        yield from self.engine.handoff(label, job.placement, self.host, tokens * TOKEN_BYTES)

    def from_host(self, job: Job, label: str, tokens: int = 1):
        yield from self.engine.handoff(label, self.host, job.placement, tokens * TOKEN_BYTES)


def autoregressive(rt: Runtime, job: Job, prompt_tokens: int, new_tokens: int, sample: int = 0):
    """Process body: generate `new_tokens` tokens one pass each; records when each reaches the host."""
    tag = f"{job.label}.s{sample}"
    yield from rt.from_host(job, f"{tag}.prompt", prompt_tokens)
    times = []
    for i in range(new_tokens):
        if i == 0:
            shape, label = rt.shape(prompt_tokens, 0, prompt_tokens), f"{tag}.prefill"
        else:
            shape, label = rt.shape(1, prompt_tokens + i - 1, prompt_tokens), f"{tag}.decode.{i}"
        yield from rt.forward(job, shape, label)
        yield from rt.to_host(job, f"{label}.token")
        times.append(rt.now)
    rt.engine.log.samples.append(times)
