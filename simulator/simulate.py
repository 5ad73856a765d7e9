"""One simulation end to end: a Scenario in, a results dict out."""

from __future__ import annotations

from .costs import Planner, precision_on
from .decode import Job, Runtime, autoregressive
from .engine import Engine
from .graph import PassShape, weight_bytes
from .metrics import decoding_results
from .scenario import Scenario


def runtime_for(scenario: Scenario) -> Runtime:
    """A fresh engine and planner on the scenario's SoC."""
    return Runtime(Engine(scenario.soc), Planner(scenario.soc, scenario.granularity), scenario.host_placement())


def simulate(scenario: Scenario) -> dict:
    """Autoregressive decoding of the target on its placement; returns the "results" block."""
    rt = runtime_for(scenario)
    job = Job(scenario.target, scenario.target_placement(), "target")
    rt.engine.run(autoregressive(rt, job, scenario.prompt_tokens, scenario.new_tokens, scenario.kv_cache))
    decode_shape = PassShape(1, scenario.prompt_tokens, scenario.kv_cache)
    wbytes = weight_bytes(scenario.target.spec, precision_on(scenario.target.precision, job.placement), decode_shape)
    return decoding_results(rt.engine, wbytes)
