"""Replaying a trace sample: how many drafts a round starting at any output position accepts, at any gamma.

An agreement record says, per output token, whether the drafter predicts it; an accepted record converts
exactly to such a stream (see trace.py), except at positions it cannot know (UNKNOWN): the target's bonus token
after a fully accepted round. Those are drawn, when first consulted, from a seeded generator at the trace's
acceptance rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.traces.trace import TraceSample

UNKNOWN = -1  # an agreement the record does not know (the bonus position after a fully accepted round)


def agreement_stream(sample: TraceSample, gamma: int | None) -> list[int]:
    """The sample's per-position agreement, with UNKNOWN at positions the record cannot know."""
    if sample.agreement:
        return list(sample.agreement)
    stream: list[int] = []
    for n in sample.accepted:
        stream.extend([1] * n)
        stream.append(0 if n < gamma else UNKNOWN)
    return stream[: sample.output_tokens]


@dataclass
class Replay:
    """Replays one sample: how many drafts a round starting at an output position accepts.

    A position the record does not know is drawn, when first consulted, from the seeded generator at the
    trace's acceptance rate; `drawn` counts them (zero when an accepted record is replayed at its own gamma
    in sequential mode).
    """

    stream: list[int]
    alpha: float
    rng: np.random.Generator
    drawn: int = 0

    @classmethod
    def of(cls, sample: TraceSample, trace_gamma: int | None, alpha: float, rng: np.random.Generator) -> "Replay":
        return cls(agreement_stream(sample, trace_gamma), alpha, rng)

    def agrees(self, position: int) -> bool:
        """Does the drafter predict output token `position` (False past the end of the sample)?"""
        if position >= len(self.stream):
            return False
        bit = self.stream[position]
        if bit == UNKNOWN:
            bit = self.stream[position] = int(self.rng.random() < self.alpha)
            self.drawn += 1
        return bool(bit)

    def accepted(self, position: int, gamma: int) -> int:
        """The run of agreements from `position`, capped at gamma (and at the end of the sample)."""
        n = 0
        while n < gamma and self.agrees(position + n):
            n += 1
        return n

    def rounds(self, gamma: int) -> list[int]:
        """The accepted length of every round when the sample is decoded sequentially at `gamma` from position 0.

        A round at position p accepts n drafts and emits n + 1 tokens, so the next starts at p + n + 1. The last
        round drafts no further than the output's end (gamma is cut to the tokens left minus one, as the decoding
        loop does), so the rounds emit exactly the sample's output tokens: sum(n + 1) == len(stream).
        """
        out: list[int] = []
        p = 0
        while p < len(self.stream):
            n = self.accepted(p, min(gamma, len(self.stream) - p - 1))
            out.append(n)
            p += n + 1
        return out
