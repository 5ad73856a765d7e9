"""Speculative decoding as a simpy process: draft/verify rounds replayed from an acceptance trace.

A round: the drafter proposes g drafts, one forward pass each; the target verifies them in one pass that
computes logits for g + 1 positions; the trace says how many drafts agree (n); the round emits n + 1 tokens
(the accepted drafts and the target's own next token); both KV caches roll back to the accepted prefix.
g is gamma, shortened at the end of a sample so that exactly its output length is emitted.

Each model's state is two positions of the committed-or-drafted sequence: `fed` (positions in its KV cache)
and, for the drafter, `have` (positions it knows: committed tokens and its own drafts). A pass that must
produce position q feeds every position from `fed` to q - 1: one token in steady state, the whole prompt
first (the prefill), two after a fully accepted round (its last draft was never fed, then the bonus token).
Without a KV cache the same shapes recompute the whole sequence (graph.PassShape).

The first round verifies the prompt together with the first drafts, as Hugging Face assisted generation
(and so Spec-Bench) does and as the trace format assumes (every output token comes from a round): the
first token therefore arrives after the drafter's prefill and first drafts, later than the baseline's.

Sequential mode (the paper) drafts, then verifies. Overlap mode lets the drafter go on while the target
verifies, assuming every draft is accepted and guessing the target's bonus token itself: it pre-drafts up to
g + 1 positions, never the sample's last token (always the target's). The work is kept when all g drafts are
accepted and the guess agrees with the trace at the bonus position; otherwise it is thrown away: a pre-draft
pass still running, or still queued for cores, is abandoned at its next op boundary once the verify ends (at
model granularity a pass is one op, so it runs to its end). Tokens reach the host as soon as the verify ends.
On cores or a GPU shared by both models the two interleave op by op, first come first served.

Drafts cross to the target, and the verdict back to the drafter, through engine handoffs when the two models
sit on different PUs; emitted tokens go to the host CPU.

How each pass runs (alone in closed form, on the DRAM's clock, or op by op) is the engine's business; the loop
only says which pre-draft passes to abandon, and when: once the verify has ended, unless the work is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.decode.runtime import Job, Runtime
from simulator.engine.eventlog import us_span
from simulator.traces.replay import Replay


@dataclass(frozen=True)
class Round:
    """One draft/verify round as it ran; renders itself as a timeline marker."""

    sample: int
    index: int
    start_s: float
    end_s: float
    drafts: int          # g: drafts verified in this round
    accepted: int        # n: drafts accepted
    kept_predrafts: int  # overlap: pre-drafted positions carried into the next round

    @property
    def tokens(self) -> int:
        return self.accepted + 1

    def trace_event(self, pid: int, tid: int) -> dict:
        """This round as a Chrome-trace complete event: a marker spanning the round, named by its verdict."""
        return {"name": f"round {self.index}: {self.accepted}/{self.drafts} accepted", "cat": "round", "ph": "X",
                "pid": pid, "tid": tid, **dict(zip(("ts", "dur"), us_span(self.start_s, self.end_s))),
                "args": {"sample": self.sample, "round": self.index, "drafts": self.drafts, "accepted": self.accepted,
                         "tokens": self.tokens, "kept_predrafts": self.kept_predrafts}}


@dataclass
class SpecLog:
    """What the speculative loop adds to the engine's event log."""

    rounds: list[Round] = field(default_factory=list)
    discarded_passes: set[str] = field(default_factory=set)   # labels of pre-draft passes thrown away
    drawn_positions: int = 0         # unknown agreements drawn from the seeded generator


@dataclass
class _Sample:
    """Where one sample stands, in positions of the committed-or-drafted sequence."""

    index: int
    prompt_tokens: int
    output_tokens: int
    replay: Replay
    committed: int          # L: prompt + emitted tokens
    have: int               # drafter: positions it knows (committed tokens and its own drafts)
    fed: int = 0            # drafter: positions in its KV cache
    target_fed: int = 0     # target: positions in its KV cache
    emitted: int = 0

    @property
    def last_draftable(self) -> int:
        """The last output token is always the target's."""
        return self.prompt_tokens + self.output_tokens - 1


class Speculative:
    """Speculative decoding with one drafter and one target on one runtime; `log` collects every round."""

    def __init__(self, rt: Runtime, draft: Job, target: Job, gamma: int, overlap: bool):
        self.rt = rt
        self.draft = draft
        self.target = target
        self.gamma = gamma
        self.overlap = overlap
        self.log = SpecLog()

    def decode(self, sample: int, prompt_tokens: int, output_tokens: int, replay: Replay):
        """Process body: decode sample number `sample`; logs its token times and rounds."""
        rt, env = self.rt, self.rt.engine.env
        start = rt.now
        tag = f"s{sample}"
        yield from rt.handoff(f"target.{tag}.prompt", rt.host, self.target, prompt_tokens)
        yield from rt.handoff(f"draft.{tag}.prompt", rt.host, self.draft, prompt_tokens)
        s = _Sample(sample, prompt_tokens, output_tokens, replay, committed=prompt_tokens, have=prompt_tokens)
        times: list[float] = []
        index = 0
        while s.emitted < output_tokens:
            g = min(self.gamma, output_tokens - s.emitted - 1)
            round_start = env.now
            j = 0
            while s.have < s.committed + g:
                yield from self._draft(s, f"draft.{tag}.r{index}.d{j}")
                j += 1
            if g:
                yield from rt.handoff(f"draft.{tag}.r{index}.drafts", self.draft, self.target, g)
            n = replay.accepted(s.emitted, g)
            keep = self.overlap and n == g and replay.agrees(s.emitted + g)
            verify_shape = rt.shaping.shape(s.committed - s.target_fed, s.target_fed, prompt_tokens, drafts=g)
            budget = min(g + 1, s.last_draftable - s.have) if self.overlap else 0
            labels: list[str] = []
            verifying = rt.forward(self.target, verify_shape, f"target.{tag}.r{index}.verify")
            if budget > 0:      # the drafter drafts on beside the verify: each its own process
                verify = env.process(verifying)
                drafting = env.process(self._predraft(s, index, budget, verify, keep, labels))
                yield verify
            else:               # nothing runs beside it: the verify is this process's next step
                drafting = None
                yield from verifying
            previous = s.committed
            s.committed += n + 1
            s.emitted += n + 1
            s.target_fed = s.committed - 1
            yield from rt.handoff(f"target.{tag}.r{index}.tokens", self.target, rt.host, n + 1)
            times.extend([env.now] * (n + 1))
            round_end = env.now
            if s.emitted < output_tokens:
                yield from rt.handoff(f"target.{tag}.r{index}.verdict", self.target, self.draft)
            if drafting is not None:
                yield drafting
            if not keep:
                self.log.discarded_passes.update(labels)
                s.fed = min(s.fed, previous + n)
                s.have = s.committed
            self.log.rounds.append(Round(sample, index, round_start, round_end, g, n, max(0, s.have - s.committed)))
            index += 1
        self.log.drawn_positions += replay.drawn
        rt.tokens.add(start, times)

    def _draft(self, s: _Sample, label: str, abandon=None):
        """Process body: the drafter's token at position `have`; False if the pass was abandoned."""
        q = s.have
        shape = self.rt.shaping.shape(q - s.fed, s.fed, s.prompt_tokens)
        done = yield from self.rt.forward(self.draft, shape, label, abandon)
        if done:
            s.fed, s.have = q, q + 1
        return done

    def _predraft(self, s: _Sample, index: int, budget: int, verify, keep: bool, labels: list[str]):
        """Process body (overlap): draft on while the verify runs; the work is abandoned once the verify has
        ended unless it is kept (every draft accepted and the bonus token guessed)."""
        for i in range(budget):
            if verify.triggered:
                return
            labels.append(f"draft.s{s.index}.r{index}.pre{i}")
            if not (yield from self._draft(s, labels[-1], abandon=None if keep else verify)):
                return
