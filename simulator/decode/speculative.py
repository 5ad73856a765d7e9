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
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.decode.runtime import Job, Runtime
from simulator.traces.trace import Replay


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
                "pid": pid, "tid": tid, "ts": round(self.start_s * 1e6, 3), "dur": round((self.end_s - self.start_s) * 1e6, 3),
                "args": {"sample": self.sample, "round": self.index, "drafts": self.drafts, "accepted": self.accepted,
                         "tokens": self.tokens, "kept_predrafts": self.kept_predrafts}}


@dataclass
class SpecLog:
    """What the speculative loop adds to the engine's event log."""

    rounds: list[Round] = field(default_factory=list)
    discarded_passes: set[str] = field(default_factory=set)   # labels of pre-draft passes thrown away
    drawn_positions: int = 0         # unknown agreements drawn from the seeded generator


def speculative(rt: Runtime, draft: Job, target: Job, replay: Replay, prompt_tokens: int, output_tokens: int,
                gamma: int, overlap: bool, spec: SpecLog, sample: int = 0):
    """Process body: decode one sample speculatively; appends its token times to the engine log."""
    env = rt.engine.env
    tag = f"s{sample}"
    yield from rt.from_host(target, f"target.{tag}.prompt", prompt_tokens)
    yield from rt.from_host(draft, f"draft.{tag}.prompt", prompt_tokens)
    times: list[float] = []
    committed = prompt_tokens       # L: prompt + emitted tokens
    emitted = 0
    target_fed = 0
    last_draftable = prompt_tokens + output_tokens - 1   # the last output token is always the target's
    state = {"fed": 0, "have": prompt_tokens}

    # Closed-form passes need DRAM traffic only from passes: handoff copies (memory not shared) would stream too.
    can_be_alone = rt.engine.soc.interconnect.shared_memory
    # No pass queues for another's cores when the two models never run at once, or run on cores of their own.
    exclusive = not overlap or not draft.placement.shares_cores(target.placement)

    def draft_step(label, stop=None, solo=None, alone=None):
        """Produce the drafter's token at position `have`; False if abandoned by `stop`."""
        q = state["have"]
        done = yield from rt.forward(draft, rt.shape(q - state["fed"], state["fed"], prompt_tokens), label, stop,
                                     solo, alone, exclusive)
        if done:
            state["fed"], state["have"] = q, q + 1
        return done

    def predraft(index, budget, verify, keep, labels):
        """Process body (overlap): draft on while the verify runs; stop at its end unless the work is kept."""
        for i in range(budget):
            if verify.triggered:
                return
            labels.append(f"draft.{tag}.r{index}.pre{i}")
            # once the verify has ended (and the work is kept), the main loop only waits for this process
            if not (yield from draft_step(labels[-1], stop=lambda: verify.triggered and not keep,
                                          alone=(lambda: verify.triggered) if can_be_alone else None)):
                return

    index = 0
    while emitted < output_tokens:
        g = min(gamma, output_tokens - emitted - 1)
        start = env.now
        j = 0
        while state["have"] < committed + g:   # nothing else runs while the round drafts: solo when allowed
            yield from draft_step(f"draft.{tag}.r{index}.d{j}", solo=rt.fast and can_be_alone)
            j += 1
        if g:
            yield from rt.engine.handoff(f"draft.{tag}.r{index}.drafts", draft.placement, target.placement, 4 * g)
        n = replay.accepted(emitted, g)
        keep = overlap and n == g and replay.agrees(emitted + g)
        verify_shape = rt.shape(committed - target_fed, target_fed, prompt_tokens, drafts=g)
        budget = min(g + 1, last_draftable - state["have"]) if overlap else 0
        labels: list[str] = []
        box: list = [None]   # the pre-drafting process, once started
        verify = env.process(rt.forward(target, verify_shape, f"target.{tag}.r{index}.verify", alone=(
            lambda: box[0] is None or box[0].triggered) if can_be_alone else None, exclusive=exclusive))
        drafting = box[0] = env.process(predraft(index, budget, verify, keep, labels)) if budget > 0 else None
        yield verify
        previous = committed
        committed += n + 1
        emitted += n + 1
        target_fed = committed - 1
        yield from rt.to_host(target, f"target.{tag}.r{index}.tokens", n + 1)
        times.extend([env.now] * (n + 1))
        end = env.now
        if emitted < output_tokens:
            yield from rt.engine.handoff(f"target.{tag}.r{index}.verdict", target.placement, draft.placement, 4)
        if drafting is not None:
            yield drafting
        if not keep:
            spec.discarded_passes.update(labels)
            state["fed"] = min(state["fed"], previous + n)
            state["have"] = committed
        spec.rounds.append(Round(sample, index, start, end, g, n, max(0, state["have"] - committed)))
        index += 1
    spec.drawn_positions += replay.drawn
    rt.engine.log.samples.append(times)
