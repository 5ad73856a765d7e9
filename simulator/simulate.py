"""One simulation end to end: a Scenario in, a results dict out."""

from __future__ import annotations

from .decode import autoregressive
from .engine import Engine
from .graph import PassShape, weight_bytes
from .costs import precision_on
from .metrics import decoding_results
from .scenario import Scenario


def simulate(scenario: Scenario) -> dict:
    """Autoregressive decoding of the target on its placement; returns the "results" block."""
    engine = Engine(scenario.soc)
    placement = scenario.target_placement()
    engine.run(autoregressive(engine, scenario.target, placement, scenario.host_placement(), scenario.prompt_tokens,
                              scenario.new_tokens, scenario.kv_cache, scenario.granularity))
    decode_shape = PassShape(1, scenario.prompt_tokens, scenario.kv_cache)
    wbytes = weight_bytes(scenario.target.spec, precision_on(scenario.target.precision, placement), decode_shape)
    return decoding_results(engine, wbytes)
