"""Every fast path of the engine gives the results of running every pass op by op through simpy.

The engine decides alone how a pass runs (engine.Engine._path): closed form when nothing else can run, on the
DRAM's clock when its cores are its own, op by op otherwise. `fast_paths=False` forces op by op everywhere.
"""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.common.bundled import bundled_dir
from simulator.run.builder import ScenarioSpec
from simulator.run.simulate import simulate, simulate_recorded

BUNDLED = {
    "default": ScenarioSpec(samples=2),
    "default-layer": ScenarioSpec(samples=2, granularity="layer"),
    "trace": ScenarioSpec(trace="translation-semiquant", samples=3, granularity="layer"),
    "kv-cpu": ScenarioSpec(kv_cache=True, target_device="cpu:4", draft_device="cpu:2@4", draft_dtype="int8",
                           alpha=0.9, gamma=3, samples=2),
    "plain": ScenarioSpec(draft=None, kv_cache=True, target_device="cpu:6", new_tokens=32),
    "overlap": ScenarioSpec(mode="overlap", kv_cache=True, target_device="cpu:4", samples=1, granularity="layer",
                            alpha=0.9),
    # passes run on the DRAM's clock (passrun.py): overlap with the two models on cores or PUs of their own
    "overlap-op": ScenarioSpec(mode="overlap", kv_cache=True, target_device="cpu:4", samples=1, new_tokens=40,
                               alpha=0.9, gamma=3),
    "overlap-split-cluster": ScenarioSpec(mode="overlap", kv_cache=True, target_device="cpu:4",
                                          draft_device="cpu:2@4", draft_dtype="int8", alpha=0.7, samples=2,
                                          new_tokens=30),
    "overlap-no-kv": ScenarioSpec(mode="overlap", samples=1, new_tokens=12, granularity="layer"),
    # the two models share cores: a pass that starts on the DRAM's clock hands its cores over to the other
    "overlap-shared-cores": ScenarioSpec(mode="overlap", kv_cache=True, target_device="cpu:2", draft_device="cpu:2",
                                         draft_dtype="int8", samples=1, new_tokens=20, granularity="layer"),
    "overlap-shared-cores-op": ScenarioSpec(mode="overlap", kv_cache=True, target_device="cpu:1",
                                            draft_device="cpu:1", alpha=0.8, samples=2, new_tokens=16),
}


@pytest.mark.parametrize("name", list(BUNDLED))
def test_fast_paths_give_the_op_by_op_results(name):
    """Bundled scenarios' results unchanged (1e-9 relative) by the engine's fast paths."""
    scenario = BUNDLED[name].build()
    _assert_close(simulate(scenario).to_json(), simulate(scenario, fast_paths=False).to_json())


def _assert_close(a, b, path="results"):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


def test_replayed_alone_events_and_counter_equal_the_op_by_op_ones():
    scenario = ScenarioSpec(samples=1, new_tokens=12, granularity="layer").build()
    (_, fast), (_, slow) = simulate_recorded(scenario), simulate_recorded(scenario, fast_paths=False)
    a, b = fast.engine.log.ops, slow.engine.log.ops
    assert [(e.pass_label, e.name, e.pu, e.cores) for e in a] == [(e.pass_label, e.name, e.pu, e.cores) for e in b]
    for x, y in zip(a, b):
        assert (x.start_s, x.end_s) == pytest.approx((y.start_s, y.end_s), rel=1e-9)
    sa, sb = fast.engine.dram.bandwidth_steps, slow.engine.dram.bandwidth_steps
    assert len(sa) == len(sb)
    for x, y in zip(sa, sb):
        assert x.time_s == pytest.approx(y.time_s, rel=1e-9) and x.rates_B_s == pytest.approx(y.rates_B_s)


def _sorted_ops(log):
    return sorted(log.ops, key=lambda e: (e.start_s, e.end_s, e.pass_label, e.name))


def _counter_at(samples, times):
    """Total DRAM rate of the bandwidth counter just after each time."""
    starts = [s.time_s for s in samples]
    return [samples[max(bisect.bisect_right(starts, t) - 1, 0)].total_B_s for t in times]


@pytest.mark.parametrize("fields", [
    {"target_device": "cpu:4"},
    {"target_device": "cpu:4", "draft_device": "cpu:2@4", "draft_dtype": "int8", "alpha": 0.6},
])
def test_passes_on_the_drams_clock_give_the_op_by_op_ops_and_counter(fields):
    """Overlap with contention throughout, at op granularity: every op's start and end, and the DRAM counter,
    as simpy gives them op by op."""
    scenario = ScenarioSpec(**{"mode": "overlap", "kv_cache": True, "samples": 1, "new_tokens": 24, "gamma": 3,
                               **fields}).build()
    (res, fast), (_, slow) = simulate_recorded(scenario), simulate_recorded(scenario, fast_paths=False)
    assert res.dram_contention_s > 0.01 * res.total_time_s     # the case is contended, not an alone stretch
    a, b = _sorted_ops(fast.engine.log), _sorted_ops(slow.engine.log)
    assert [(e.pass_label, e.name) for e in a] == [(e.pass_label, e.name) for e in b]
    for x, y in zip(a, b):
        assert (x.start_s, x.end_s) == pytest.approx((y.start_s, y.end_s), rel=1e-9)
    probes = sorted({e.start_s for e in a} | {e.end_s for e in a})
    probes = [(p + q) / 2 for p, q in zip(probes, probes[1:])]      # between instants: no tie to break
    assert _counter_at(fast.engine.dram.bandwidth_steps, probes) == pytest.approx(_counter_at(slow.engine.dram.bandwidth_steps, probes),
                                                                          rel=1e-9)


def test_handoff_copies_stream_beside_passes_on_the_drams_clock(tmp_path):
    """Memory not shared: handoff copies are flows simpy processes wait on, mixed with passes run on the DRAM's
    clock; results equal the op-by-op path's."""
    text = (bundled_dir("socs") / "imx95.yaml").read_text()
    assert "shared_memory: true" in text
    soc = tmp_path / "imx95-copies.yaml"
    soc.write_text(text.replace("shared_memory: true", "shared_memory: false\n  copy_bandwidth_gb_s: 4"))
    scenario = ScenarioSpec(soc=str(soc), mode="overlap", kv_cache=True, target_device="cpu:4", samples=1,
                            new_tokens=20, alpha=0.9).build()
    _assert_close(simulate(scenario).to_json(), simulate(scenario, fast_paths=False).to_json())


DEVICES = {"imx95": ["cpu:1", "cpu:2", "cpu:4", "cpu:1@1", "cpu:2@2", "gpu"],
           "rk3588": ["a76:2", "a76:4", "a55:2", "a76:1@1", "gpu"], "rpi5": ["cpu:1", "cpu:2", "cpu:2@2", "cpu:4"]}


@st.composite
def small_scenarios(draw):
    """Small scenarios of every kind the decoding loops make: shared, split and separate placements, overlap or not,
    every granularity, KV caches on and off, synthetic and bundled traces."""
    soc = draw(st.sampled_from(sorted(DEVICES)))
    trace = draw(st.sampled_from([None, None, "translation-semiquant", "vllm-writing"]))
    return ScenarioSpec(soc=soc, target=draw(st.sampled_from(["qwen2.5-1.5b", "llama-3.2-1b"])),
                        draft=draw(st.sampled_from(["qwen2.5-0.5b", None])),
                        target_dtype=draw(st.sampled_from(["int8", "fp16", "q4_0"])),
                        target_device=draw(st.sampled_from(DEVICES[soc])), draft_device=draw(st.sampled_from(DEVICES[soc])),
                        gamma=draw(st.integers(1, 6)), mode=draw(st.sampled_from(["sequential", "overlap"])),
                        kv_cache=draw(st.booleans()), granularity=draw(st.sampled_from(["op", "layer", "model"])),
                        samples=draw(st.integers(1, 2)), prompt_tokens=draw(st.integers(4, 32)),
                        new_tokens=draw(st.integers(2, 16)), trace=trace,
                        alpha=None if trace else draw(st.floats(0.0, 1.0)))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(small_scenarios())
def test_fast_paths_give_the_op_by_op_results_on_generated_scenarios(spec):
    scenario = spec.build()
    _assert_close(simulate(scenario).to_json(), simulate(scenario, fast_paths=False).to_json())
