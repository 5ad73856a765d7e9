"""Every speed-up gives exactly the results of the straightforward path."""

from __future__ import annotations

import pytest

from simulator.llm.costs import Planner, plan_pass
from simulator.llm.graph import GRANULARITIES, PassShape
from simulator.hw.placement import Placement
from simulator.llm.model import Precision, load_model
from simulator.hw.soc import load_soc

SOC = load_soc("imx95")


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("model,dtype", [("llama-3.2-3b", "int8"), ("qwen2.5-0.5b", "q4_0")])
@pytest.mark.parametrize("shape", [PassShape(63, 0, False), PassShape(1, 80, True), PassShape(6, 70, True, 6),
                                   PassShape(2, 100, False, 1)])
@pytest.mark.parametrize("pu,cores", [("a55", (0,)), ("a55", (0, 1, 2, 3)), ("mali-g310", (0,))])
def test_planner_layout_path_equals_the_dag_path(granularity, model, dtype, shape, pu, cores):
    m, p, place = load_model(model), Precision.resolve(dtype), Placement(SOC.pu(pu), cores)
    fast, reference = Planner(SOC, granularity).plan(m, p, shape, place), plan_pass(m, p, shape, place, SOC, granularity)
    assert fast.tasks == reference.tasks
    assert (fast.alone_s, fast.bytes, fast.flops) == pytest.approx((reference.alone_s, reference.bytes, reference.flops))


def _scenario_args(extra):
    from simulator.cli.main import _build_parser
    from simulator.cli.common import scenario_from_args
    return scenario_from_args(_build_parser().parse_args(["run", *extra]))


BUNDLED = {
    "default": ["--samples", "2"],
    "default-layer": ["--samples", "2", "--granularity", "layer"],
    "trace": ["--trace", "translation-semiquant", "--samples", "3", "--granularity", "layer"],
    "kv-cpu": ["--kv-cache", "--target-device", "cpu:4", "--draft-device", "cpu:2@4", "--draft-dtype", "int8",
               "--alpha", "0.9", "--gamma", "3", "--samples", "2"],
    "plain": ["--draft", "none", "--kv-cache", "--target-device", "cpu:6", "--new-tokens", "32"],
    "overlap": ["--mode", "overlap", "--kv-cache", "--target-device", "cpu:4", "--samples", "1", "--granularity",
                "layer", "--alpha", "0.9"],
    # passes run on the DRAM's clock (passrun.py): overlap with the two models on cores or PUs of their own
    "overlap-op": ["--mode", "overlap", "--kv-cache", "--target-device", "cpu:4", "--samples", "1", "--new-tokens",
                   "40", "--alpha", "0.9", "--gamma", "3"],
    "overlap-split-cluster": ["--mode", "overlap", "--kv-cache", "--target-device", "cpu:4", "--draft-device",
                              "cpu:2@4", "--draft-dtype", "int8", "--alpha", "0.7", "--samples", "2", "--new-tokens",
                              "30"],
    "overlap-no-kv": ["--mode", "overlap", "--samples", "1", "--new-tokens", "12", "--granularity", "layer"],
    "overlap-shared-cores": ["--mode", "overlap", "--kv-cache", "--target-device", "cpu:2", "--draft-device", "cpu:2",
                             "--draft-dtype", "int8", "--samples", "1", "--new-tokens", "20", "--granularity", "layer"],
}


@pytest.mark.parametrize("name", list(BUNDLED))
def test_closed_form_passes_give_the_event_by_event_results(name):
    """Bundled scenarios' results unchanged (1e-9 relative) by the solo fast path (and the layout planner)."""
    from dataclasses import replace
    from simulator.run.simulate import simulate
    scenario = _scenario_args(BUNDLED[name])
    fast, slow = simulate(scenario), simulate(replace(scenario, fast=False))
    _assert_close(fast, slow)


def _assert_close(a, b, path="results"):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


def test_replayed_solo_events_and_counter_equal_the_event_by_event_ones():
    from dataclasses import replace
    from simulator.run.simulate import simulate_recorded
    scenario = _scenario_args(["--samples", "1", "--new-tokens", "12", "--granularity", "layer"])
    (_, fast), (_, slow) = simulate_recorded(scenario), simulate_recorded(replace(scenario, fast=False))
    a, b = fast.engine.log.ops, slow.engine.log.ops
    assert [(e.pass_label, e.name, e.pu, e.cores) for e in a] == [(e.pass_label, e.name, e.pu, e.cores) for e in b]
    for x, y in zip(a, b):
        assert (x.start_s, x.end_s) == pytest.approx((y.start_s, y.end_s), rel=1e-9)
    sa, sb = fast.engine.dram.samples, slow.engine.dram.samples
    assert len(sa) == len(sb)
    for x, y in zip(sa, sb):
        assert x.time_s == pytest.approx(y.time_s, rel=1e-9) and x.rates_B_s == pytest.approx(y.rates_B_s)


def _sorted_ops(log):
    return sorted(log.ops, key=lambda e: (e.start_s, e.end_s, e.pass_label, e.name))


def _counter_at(samples, times):
    """Total DRAM rate of the bandwidth counter just after each time."""
    import bisect
    starts = [s.time_s for s in samples]
    return [samples[max(bisect.bisect_right(starts, t) - 1, 0)].total_B_s for t in times]


@pytest.mark.parametrize("extra", [
    ["--target-device", "cpu:4"],
    ["--target-device", "cpu:4", "--draft-device", "cpu:2@4", "--draft-dtype", "int8", "--alpha", "0.6"],
])
def test_passes_on_the_drams_clock_give_the_event_by_event_ops_and_counter(extra):
    """Overlap with contention throughout, at op granularity: every op's start and end, and the DRAM counter,
    as simpy gives them op by op."""
    from dataclasses import replace
    from simulator.run.simulate import simulate_recorded
    scenario = _scenario_args(["--mode", "overlap", "--kv-cache", "--samples", "1", "--new-tokens", "24",
                               "--gamma", "3", *extra])
    (res, fast), (_, slow) = simulate_recorded(scenario), simulate_recorded(replace(scenario, fast=False))
    assert res["dram_contention_s"] > 0.01 * res["total_time_s"]     # the case is contended, not a solo stretch
    a, b = _sorted_ops(fast.engine.log), _sorted_ops(slow.engine.log)
    assert [(e.pass_label, e.name) for e in a] == [(e.pass_label, e.name) for e in b]
    for x, y in zip(a, b):
        assert (x.start_s, x.end_s) == pytest.approx((y.start_s, y.end_s), rel=1e-9)
    probes = sorted({e.start_s for e in a} | {e.end_s for e in a})
    probes = [(p + q) / 2 for p, q in zip(probes, probes[1:])]      # between instants: no tie to break
    assert _counter_at(fast.engine.dram.samples, probes) == pytest.approx(_counter_at(slow.engine.dram.samples, probes),
                                                                          rel=1e-9)


def test_handoff_copies_stream_beside_passes_on_the_drams_clock(tmp_path):
    """Memory not shared: handoff copies are flows simpy processes wait on, mixed with passes run on the DRAM's
    clock; results equal the event-by-event path's."""
    from dataclasses import replace
    from simulator.common.bundled import bundled_dir
    from simulator.run.simulate import simulate
    text = (bundled_dir("socs") / "imx95.yaml").read_text()
    assert "shared_memory: true" in text
    soc = tmp_path / "imx95-copies.yaml"
    soc.write_text(text.replace("shared_memory: true", "shared_memory: false\n  copy_bandwidth_gb_s: 4"))
    scenario = _scenario_args(["--soc", str(soc), "--mode", "overlap", "--kv-cache", "--target-device", "cpu:4",
                               "--samples", "1", "--new-tokens", "20", "--alpha", "0.9"])
    _assert_close(simulate(scenario), simulate(replace(scenario, fast=False)))
