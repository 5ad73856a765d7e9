"""Switching an effect off removes exactly that effect."""

from __future__ import annotations

import pytest

from simulator.run.builder import ScenarioSpec
from simulator.run.scenario import Effects
from simulator.run.simulate import simulate


def test_overheads_off_removes_every_ops_dispatch_overhead():
    """Llama 3.2 3B on one A55 core, 4 tokens after a 4-token prompt, op granularity: 4 passes of 452 ops (28 layers
    x 16 + the embedding + 3 head ops), each with the A55's 5 us dispatch; on the host's own cores there is no
    handoff and the i.MX 95 has no per-token cost: with overheads off the run is 4 x 452 x 5 us shorter."""
    spec = dict(draft="none", new_tokens=4, prompt_tokens=4, granularity="op")
    on = simulate(ScenarioSpec(**spec).build())
    off = simulate(ScenarioSpec(**spec, effects=Effects(overheads=False)).build())
    assert on.total_time_s - off.total_time_s == pytest.approx(4 * 452 * 5e-6, rel=1e-9)
