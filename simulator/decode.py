"""Autoregressive decoding as a simpy process: prefill the prompt, then one pass per generated token.

The prefill pass feeds the prompt and yields the first token; decode pass i feeds token i after
prompt + i - 1 positions. With a KV cache a decode pass computes one position and reads the cache; without
one (the seed paper's setting) it recomputes all prompt + i positions. A model on a PU other than the host
CPU cluster pays a handoff to receive the prompt and one to return each token to the host.
"""

from __future__ import annotations

from .costs import plan_pass
from .engine import Engine
from .graph import PassShape
from .mapping import Placement
from .scenario import ModelRun

TOKEN_BYTES = 4  # a token id crossing PUs (int32)


def autoregressive(engine: Engine, run: ModelRun, placement: Placement, host: Placement, prompt_tokens: int,
                   new_tokens: int, kv_cache: bool, granularity: str, label: str = "target"):
    env, soc = engine.env, engine.soc
    yield from engine.handoff(f"{label}.prompt", host, placement, prompt_tokens * TOKEN_BYTES)
    for i in range(new_tokens):
        if i == 0:
            shape, pass_label = PassShape(prompt_tokens, 0, kv_cache), f"{label}.prefill"
        else:
            shape, pass_label = PassShape(1, prompt_tokens + i - 1, kv_cache), f"{label}.decode.{i}"
        plan = plan_pass(run.spec, run.precision, shape, placement, soc, granularity)
        yield from engine.run_pass(plan, pass_label)
        yield from engine.handoff(f"{pass_label}.token", placement, host, TOKEN_BYTES)
        engine.log.tokens_s.append(env.now)
