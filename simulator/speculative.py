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

Sequential mode (the paper) drafts, then verifies. Overlap mode lets the drafter go on while the target
verifies, assuming every draft is accepted and guessing the target's bonus token itself: it pre-drafts up to
g + 1 positions. The work is kept when all g drafts are accepted and the guess agrees with the trace at the
bonus position; otherwise it is thrown away, and a pre-draft pass in flight is abandoned at its next op
boundary once the verify has finished.

Drafts cross to the target, and the verdict back to the drafter, through engine handoffs when the two models
sit on different PUs; emitted tokens go to the host CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .decode import Job, Runtime
from .traces import Replay


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


@dataclass
class SpecLog:
    """What the speculative loop adds to the engine's event log."""

    rounds: list[Round] = field(default_factory=list)
    wasted_draft_s: float = 0.0      # drafter time spent on pre-drafts that were thrown away
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
    state = {"fed": 0, "have": prompt_tokens}

    def draft_step(label, stop=None):
        """Produce the drafter's token at position `have`; False if abandoned by `stop`."""
        q = state["have"]
        done = yield from rt.forward(draft, rt.shape(q - state["fed"], state["fed"], prompt_tokens), label, stop)
        if done:
            state["fed"], state["have"] = q, q + 1
        return done

    index = 0
    while emitted < output_tokens:
        g = min(gamma, output_tokens - emitted - 1)
        start = env.now
        j = 0
        while state["have"] < committed + g:
            yield from draft_step(f"draft.{tag}.r{index}.d{j}")
            j += 1
        if g:
            yield from rt.engine.handoff(f"draft.{tag}.r{index}.drafts", draft.placement, target.placement, 4 * g)
        n = replay.accepted(emitted, g)
        keep = overlap and n == g and replay.agrees(emitted + g)
        verify_shape = rt.shape(committed - target_fed, target_fed, prompt_tokens, drafts=g)
        verify = env.process(rt.forward(target, verify_shape, f"target.{tag}.r{index}.verify"))
        predrafted, predraft_s = 0, 0.0
        budget = min(g + 1, prompt_tokens + output_tokens - state["have"]) if overlap else 0
        while predrafted < budget and not verify.triggered:
            t0 = env.now
            done = yield from draft_step(f"draft.{tag}.r{index}.pre{predrafted}",
                                         stop=lambda: verify.triggered and not keep)
            predraft_s += env.now - t0
            if not done:
                break
            predrafted += 1
        yield verify
        previous = committed
        committed += n + 1
        emitted += n + 1
        target_fed = committed - 1
        if not keep:
            spec.wasted_draft_s += predraft_s
            state["fed"] = min(state["fed"], previous + n)
            state["have"] = committed
        yield from rt.to_host(target, f"target.{tag}.r{index}.tokens", n + 1)
        yield from rt.engine.handoff(f"target.{tag}.r{index}.verdict", target.placement, draft.placement, 4)
        times.extend([env.now] * (n + 1))
        spec.rounds.append(Round(sample, index, start, env.now, g, n, max(0, state["have"] - committed)))
        index += 1
    spec.drawn_positions += replay.drawn
    rt.engine.log.samples.append(times)
