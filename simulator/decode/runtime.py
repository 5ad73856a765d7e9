"""What the decoding loops drive: the engine, a planner that costs passes, the host CPU, and how passes are shaped.

The loops know models, tokens and roles (drafter, target); the engine knows only plans and labels. A pass is
labelled "<role>.<sample>...", so its role is the label's first part (`role_of`); the loops write down when
each output token reached the host (TokenLog), since the engine never sees a token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.engine.engine import Engine
from simulator.hw.placement import Placement
from simulator.llm.planner import Planner
from simulator.llm.partition import Partition
from simulator.llm.graph import PassShape
from simulator.llm.model import ModelSpec, Precision

TOKEN_BYTES = 4  # a token id crossing PUs (int32)
ROLES = ("draft", "target")


def role_of(label: str) -> str:
    """The role of a pass from its label: "draft" or "target"."""
    return label.split(".", 1)[0]


@dataclass(frozen=True)
class Job:
    """One model on its placement, in one role."""

    model: ModelSpec
    precision: Precision
    placement: Placement | Partition
    role: str           # "target" or "draft": prefixes every pass label in the event log


@dataclass(frozen=True)
class Shaping:
    """How passes are shaped: with or without KV caches, and two effects of the real loop that can be switched
    off to isolate the others (run.scenario.Effects): the verify pass growing with its drafts, and the sequence
    growing as tokens are generated."""

    kv_cache: bool
    verify_grows: bool = True
    sequence_growth: bool = True

    def shape(self, new: int, past: int, prompt: int, drafts: int = 0) -> PassShape:
        """The pass that feeds `new` tokens after `past` positions, plus `drafts` drafts to verify (it then
        keeps logits for drafts + 1 positions). Without verify growth the drafts are not costed; without
        sequence growth every pass is one token after the prompt."""
        if not self.verify_grows:
            drafts = 0
        if not self.sequence_growth:
            new, past = 1, prompt - 1
        return PassShape(new + drafts, past, self.kv_cache, logits=drafts + 1)


@dataclass
class TokenLog:
    """Per sample: when it started, and when each of its output tokens reached the host."""

    starts_s: list[float] = field(default_factory=list)
    samples: list[list[float]] = field(default_factory=list)

    def add(self, start_s: float, times: list[float]) -> None:
        self.starts_s.append(start_s)
        self.samples.append(times)


class Runtime:
    """The engine and planner of one run, the host CPU that receives tokens, and the token log."""

    def __init__(self, engine: Engine, planner: Planner, host: Placement, shaping: Shaping):
        self.engine = engine
        self.planner = planner
        self.host = host
        self.shaping = shaping
        self.tokens = TokenLog()

    @property
    def now(self) -> float:
        return self.engine.env.now

    def forward(self, job: Job, shape: PassShape, label: str, abandon=None):
        """Process body: one forward pass of the job's model; False if it was abandoned (`abandon`, a simpy
        event, fired before it ended: it stops at the next op boundary)."""
        plan = self.planner.plan(job.model, job.precision, shape, job.placement)
        return (yield from self.engine.run_pass(plan, label, abandon))

    def handoff(self, label: str, src: Job | Placement, dst: Job | Placement, tokens: int = 1):
        """Process body: `tokens` token ids cross from one PU to another (nothing happens on the same PU); a
        partitioned model receives them where its first op runs and sends them from where its last one does."""
        src = src.placement if isinstance(src, Job) else src
        dst = dst.placement if isinstance(dst, Job) else dst
        src = src.exit if isinstance(src, Partition) else src
        dst = dst.entry if isinstance(dst, Partition) else dst
        yield from self.engine.handoff(label, src, dst, tokens * TOKEN_BYTES)
