"""Autoregressive decoding: one forward pass per token.

The prefill pass feeds the prompt and yields the first token; decode pass i feeds token i after prompt + i - 1
positions. With a KV cache a decode pass computes one position and reads the cache; without one (the seed
paper's setting) it recomputes all prompt + i positions. A model on a PU other than the host CPU cluster pays a
handoff to receive the prompt and one to return each token to the host.
"""

from __future__ import annotations

from simulator.decode.runtime import Job, Runtime


def autoregressive(rt: Runtime, job: Job, sample: int, prompt_tokens: int, new_tokens: int):
    """Process body: generate `new_tokens` tokens for sample number `sample`; logs when each reaches the host."""
    start = rt.now
    tag = f"{job.role}.s{sample}"
    yield from rt.handoff(f"{tag}.prompt", rt.host, job, prompt_tokens)
    times = []
    for i in range(new_tokens):
        if i == 0:
            shape, label = rt.shaping.shape(prompt_tokens, 0, prompt_tokens), f"{tag}.prefill"
        else:
            shape, label = rt.shaping.shape(1, prompt_tokens + i - 1, prompt_tokens), f"{tag}.decode.{i}"
        yield from rt.forward(job, shape, label)
        yield from rt.handoff(f"{label}.token", job, rt.host)
        times.append(rt.now)
    rt.tokens.add(start, times)
