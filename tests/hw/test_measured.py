"""Measured hardware: bandwidth by cores used, matmul rates by weight format, instruction sets, per-token host
cost, and placements spanning two clusters, against hand arithmetic on the hand SoC (tests/support.py)."""

from __future__ import annotations

import copy

import pytest

from simulator.common.errors import InputError
from simulator.engine.engine import Engine
from simulator.engine.plan import Plan
from simulator.hw.placement import parse_device, place
from simulator.hw.socfile import parse_soc
from simulator.llm.costs import make_task
from simulator.llm.planner import Planner
from simulator.llm.graph import Op, PassShape
from simulator.llm.model import Precision
from tests.support import HAND_SOC, TINY, cpu, hand_soc


def point(value, source="measured: test"):
    return {"value": value, "source": source}


def two_clusters(calibration=None, **d_changes):
    """The hand SoC plus a cluster "d": 2 cores at 0.5 GHz (0.5 GFLOP/s each), 1 GB/s per core, 2 GB/s cap."""
    data = copy.deepcopy(HAND_SOC)
    d = {**data["cpu_clusters"][0], "name": "d", "clock_ghz": 0.5, "bandwidth_per_core_gb_s": 1.0,
         "bandwidth_cluster_gb_s": 2.0, **d_changes}
    data["cpu_clusters"].append(d)
    if calibration:
        data["calibration"] = {"against": "test", **calibration}
    return parse_soc(data, "two.yaml")


def test_measured_bandwidth_replaces_the_spec_cap_by_cores_used():
    soc = hand_soc(calibration={"against": "test", "c": {"bandwidth_gb_s": {2: point(5.0)}}})
    c = soc.pu("c")
    # 2 cores: the measured 5 GB/s; 1 core: never above the 4 GB/s per-core figure nor the 2-core measurement
    assert (c.op_bandwidth_cap(2), c.op_bandwidth_cap(1)) == (5e9, 4e9)
    both = hand_soc(calibration={"against": "test", "c": {"bandwidth_gb_s": {1: point(3.0), 2: point(5.0)}}})
    assert (both.pu("c").op_bandwidth_cap(1), both.pu("c").op_bandwidth_cap(2)) == (3e9, 5e9)
    assert hand_soc().pu("c").op_bandwidth_cap(2) == 8e9          # uncalibrated: spec 2 x 4 GB/s


def test_a_measured_matmul_rate_applies_to_its_weight_format_only():
    soc = hand_soc(calibration={"against": "test", "c": {"matmul_gflop_s": {"q4_0": {2: point(3.0)}}}})
    c = soc.pu("c")
    assert c.flop_rate("int8", "matmul", 2, "q4_0") == 3e9
    assert c.flop_rate("int8", "matmul", 1, "q4_0") == 1.5e9       # 1 effective core of 2 (parallel efficiency 1)
    assert c.flop_rate("int8", "matmul", 2, "q8_0") == 2e9         # another format: spec 2 cores x 1 GFLOP/s
    assert c.flop_rate("int8", "attention", 2, "q4_0") == 2e9      # not a matmul: spec


def test_calibration_values_need_a_source_and_a_valid_core_count():
    with pytest.raises(InputError, match=r"calibration\.c\.bandwidth_gb_s\.2\.source: must start with"):
        hand_soc(calibration={"against": "t", "c": {"bandwidth_gb_s": {2: point(5.0, "blog")}}})
    with pytest.raises(InputError, match=r"bandwidth_gb_s\.3: must be a core count 1\.\.2"):
        hand_soc(calibration={"against": "t", "c": {"bandwidth_gb_s": {3: point(5.0)}}})
    with pytest.raises(InputError, match=r"matmul_gflop_s\.q9: unknown weight format"):
        hand_soc(calibration={"against": "t", "c": {"matmul_gflop_s": {"q9": {1: point(1.0)}}}})


def test_the_instruction_set_decides_which_dtypes_run_natively():
    a72 = hand_soc(cpu={"flop_per_cycle": {"fp32": 1}, "isa": []})      # no dot product, no fp16 arithmetic
    assert a72.pu("c").compute_dtype("int8") == a72.pu("c").compute_dtype("fp16") == "fp32"
    with pytest.raises(InputError, match="int8 rate, but isa lacks dotprod"):
        hand_soc(cpu={"isa": ["fp16"]})
    with pytest.raises(InputError, match="unknown feature 'sve'"):
        hand_soc(cpu={"isa": ["sve"]})


def test_a_cluster_without_a_measured_rate_borrows_one_scaled_by_spec_peaks():
    soc = two_clusters({"c": {"matmul_gflop_s": {"q4_0": {2: point(3.0)}}}})
    d = soc.pu("d")
    # c: 3 GFLOP/s on 2 effective cores = 1.5 per core; d's int8 peak is half c's (0.5 vs 1 GHz): 0.75 per core
    assert d.flop_rate("int8", "matmul", 1, "q4_0") == pytest.approx(0.75e9)
    assert d.flop_rate("int8", "matmul", 2, "q4_0") == pytest.approx(1.5e9)
    assert d.matmul_measured["q4_0"][0].source.startswith("assumption:")


def test_cpu_k_beyond_the_first_cluster_spans_clusters():
    soc = two_clusters()
    (p,) = place([parse_device(soc, "cpu:3")])
    assert p.label == "c:2+d:1" and p.units == 3 and p.slots == (0, 1, 2) and p.group == "c+d"
    with pytest.raises(InputError, match="has 4 CPU cores"):
        parse_device(soc, "cpu:5")


def test_a_split_op_ends_when_its_slowest_share_ends():
    soc = two_clusters()
    (span,) = place([parse_device(soc, "cpu:4")])
    # 4 GFLOP and 2 GB split evenly: c's half takes max(2 GFLOP / 2 GFLOP/s, 1 GB / 8 GB/s) = 1 s; d's half
    # max(2 GFLOP / 1 GFLOP/s, 1 GB / 2 GB/s) = 2 s; together they stream 2 GB at min(8 + 2, 10) GB/s = 0.2 s
    task = make_task("x", "x", (Op("x", "x", "matmul", "fp16", 4e9, weights=2e9),), span, soc)
    assert task.alone_s == pytest.approx(2.0)
    # memory-bound: d's half of 2 GB at its 2 GB/s cap = 0.5 s, c's at 8 GB/s = 0.125 s
    task = make_task("y", "y", (Op("y", "y", "matmul", "fp16", 0.0, weights=2e9),), span, soc)
    assert task.alone_s == pytest.approx(0.5)


def test_a_spanning_pass_holds_the_cores_of_both_clusters_in_the_engine():
    soc = two_clusters()
    span, d1 = place([parse_device(soc, "cpu:4"), parse_device(soc, "d:1")])
    x = Op("x", "x", "matmul", "fp16", 4e9)
    a = Plan.of(span, [make_task("x", "x", (x,), span, soc)])        # 2 s (d's share)
    b = Plan.of(d1, [make_task("x", "x", (x,), d1, soc)])            # 4 GFLOP at 0.5 GFLOP/s: 8 s
    for fast in (False, True):
        engine = Engine(soc, fast_paths=fast)
        engine.env.process(engine.run_pass(a, "a"))
        engine.env.process(engine.run_pass(b, "b"))
        engine.env.run()
        assert engine.env.now == pytest.approx(10.0)      # b waits for d's core 2: 2 s + 8 s


def test_the_per_token_host_cost_starts_every_pass():
    soc = hand_soc(calibration={"against": "t", "token_overhead_us": point(50.0)})
    bare = hand_soc()
    shape, prec = PassShape(1, 4, True), Precision.resolve("fp16")
    with_cost = Planner(soc, "layer").plan(TINY, prec, shape, cpu(soc))
    without = Planner(bare, "layer").plan(TINY, prec, shape, cpu(bare))
    assert with_cost.names[0] == "host"
    assert with_cost.alone_s == pytest.approx(without.alone_s + 50e-6, rel=1e-12)
