"""Costing: the planner's plans against costing every node of the pass DAG at its own shape, and weight bytes."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from simulator.hw.placement import Placement, parse_device, place
from simulator.hw.socfile import load_soc
from simulator.common.bundled import bundled_names
from simulator.llm.costs import layout, make_task, precision_on
from simulator.llm.planner import Planner
from simulator.llm.graph import GRANULARITIES, PassShape, bilinear_ops, pass_graph, run_order, template_ops
from simulator.llm.model import Precision
from simulator.llm.modelfile import load_model
from tests.support import TINY, cpu, hand_soc

SOC = load_soc("imx95")


def dag_tasks(model, precision, shape, placement, soc, granularity):
    """The reference: the DAG built at this very shape, every node costed on its own, in run order."""
    graph = pass_graph(model, precision_on(precision, placement), shape, granularity)
    return [make_task(name, kind, ops, placement, soc) for name, kind, ops, _keys in run_order(graph)]


def _check_plan(plan, reference):
    assert list(plan.names) == [t.name for t in reference]
    got = [replace(plan.unique[i], name=n) for i, n in zip(plan.order, plan.names)]
    assert len(got) == len(reference)
    for g, r in zip(got, reference):     # a coarse node sums its distinct ops x counts: the same to rounding
        for f in fields(r):
            a, b = getattr(g, f.name), getattr(r, f.name)
            assert a == (pytest.approx(b, rel=1e-12) if isinstance(b, float) else b), (r.name, f.name)


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("model,dtype", [("llama-3.2-3b", "int8"), ("qwen2.5-0.5b", "q4_0")])
@pytest.mark.parametrize("shape", [PassShape(63, 0, False), PassShape(1, 80, True), PassShape(6, 70, True, 6),
                                   PassShape(2, 100, False, 1)])
@pytest.mark.parametrize("pu,cores", [("a55", (0,)), ("a55", (0, 1, 2, 3)), ("mali-g310", (0,))])
def test_planner_plan_equals_costing_the_dag_node_by_node(granularity, model, dtype, shape, pu, cores):
    m, p, place = load_model(model), Precision.resolve(dtype), Placement(SOC.pu(pu), cores)
    plan = Planner(SOC, granularity).plan(m, p, shape, place)
    reference = dag_tasks(m, p, shape, place, SOC, granularity)
    _check_plan(plan, reference)
    assert (plan.alone_s, plan.bytes, plan.flops) == pytest.approx(
        (sum(t.alone_s for t in reference), sum(t.bytes for t in reference), sum(t.flops for t in reference)))


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("shape", [PassShape(40, 0, False), PassShape(1, 77, True), PassShape(4, 50, True, 4)])
def test_a_placement_spanning_clusters_is_planned_as_costing_the_dag_node_by_node(granularity, shape):
    # cpu:8 on the RK3588: its 4 A76 and 4 A55 cores, each op split evenly and ending with the slower share
    soc = load_soc("rk3588")
    span, = place([parse_device(soc, "cpu:8")])
    assert span.spill
    m, p = load_model("llama-3.2-1b"), Precision.resolve("q4_0")
    plan = Planner(soc, granularity).plan(m, p, shape, span)
    _check_plan(plan, dag_tasks(m, p, shape, span, soc, granularity))


BUNDLED = bundled_names("graphs", ".yaml")


@pytest.mark.parametrize("model", BUNDLED)
def test_the_layout_costing_reads_is_the_dags_run_order(model):
    # layout reads the op nodes in the order they join the DAG, without building it: the same nodes, kinds, member
    # keys and order as the DAG's own run order, at every granularity, for every bundled model
    m = load_model(model)
    for weights in ("fp16", "q4_0"):
        for granularity in GRANULARITIES:
            graph = pass_graph(m, Precision.resolve(weights), PassShape(3, 5, True), granularity)
            reference = tuple((name, kind, keys) for name, kind, _ops, keys in run_order(graph))
            assert layout(m, weights, granularity) == reference


@pytest.mark.parametrize("model", BUNDLED)
@pytest.mark.parametrize("kv_cache", [True, False])
def test_bilinear_coefficients_give_every_ops_flops_and_bytes_at_any_shape(model, kv_cache):
    m, p = load_model(model), Precision.resolve("q4_0")
    ops = bilinear_ops(m, p, kv_cache, 3)
    for new, past in [(1, 0), (1, 511), (7, 90), (300, 0), (3, 4000)]:
        shape = PassShape(new, past, kv_cache, 3)
        T, S = shape.tokens, shape.context
        for key, op in template_ops(m, p, shape).items():
            _op, flops, nbytes = ops[key]
            assert flops[0] + flops[1] * T + flops[2] * S + flops[3] * T * S == pytest.approx(op.flops, rel=1e-15, abs=0)
            assert nbytes[0] + nbytes[1] * T + nbytes[2] * S + nbytes[3] * T * S == pytest.approx(op.bytes, rel=1e-15, abs=0)


def test_weight_bytes_of_a_decode_pass_count_every_weight_once():
    # int8: each matmul weight 1 byte; norm gains 4 bytes; the tied table is read whole by the LM head, one row
    # gathered by the embedding.
    layer = 12 * 6 + 2 * 12 * 2 + 6 * 12 + 3 * 12 * 20          # 912 matmul weights
    expected = 2 * (layer + 2 * 12 * 4) + 12 * 4 + 12 * 40 + 12   # 2 layers with norms, final norm, LM head, one row
    assert expected == 2556
    soc = hand_soc()
    for granularity in GRANULARITIES:
        planner = Planner(soc, granularity)
        assert planner.weight_bytes(TINY, Precision.resolve("int8"), PassShape(1, 10, True), cpu(soc)) == expected
