"""Without a timeline the engine keeps each pass's totals and the DRAM counter's peak, not every op's times and
counter step (memory that does not grow with the run); every result is the same either way."""

from __future__ import annotations

import json

import pytest

from simulator.engine.eventlog import PassSummary, TimedPass
from simulator.run.builder import ScenarioSpec
from simulator.run.simulate import simulate, simulate_recorded

SCENARIOS = {
    "overlap, contended": ScenarioSpec(kv_cache=True, target_device="cpu:4", draft_device="gpu", mode="overlap",
                                       alpha=0.9, gamma=3, samples=2, new_tokens=40, granularity="op"),
    "overlap, same cores": ScenarioSpec(kv_cache=True, target_device="cpu:2", draft_device="cpu:1", mode="overlap",
                                        alpha=0.8, samples=2, new_tokens=24, granularity="layer"),
    "sequential default": ScenarioSpec(samples=3, new_tokens=24),
    "plain": ScenarioSpec(draft=None, kv_cache=True, target_device="cpu:6", samples=2, new_tokens=16),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_results_are_the_same_with_and_without_what_a_timeline_needs(name):
    scenario = SCENARIOS[name].build()
    kept, record = simulate_recorded(scenario, keep_timeline=True)
    lean, lean_record = simulate_recorded(scenario, keep_timeline=False)
    assert json.dumps(kept.to_json(), sort_keys=True) == json.dumps(lean.to_json(), sort_keys=True)
    assert json.dumps(simulate(scenario).to_json(), sort_keys=True) == json.dumps(kept.to_json(), sort_keys=True)
    entries = lean_record.engine.log.entries
    assert not any(isinstance(e, TimedPass) for e in entries)
    assert len(lean_record.engine.dram._times) == 1              # the counter's initial step only
    if name == "overlap, contended":                              # passes on the DRAM's clock: kept as totals
        assert any(isinstance(e, PassSummary) for e in entries)
        assert any(isinstance(e, TimedPass) for e in record.engine.log.entries)
    with pytest.raises(RuntimeError, match="keep_timeline"):
        lean_record.engine.dram.bandwidth_steps
