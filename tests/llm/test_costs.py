"""Costing: the planner's plans against costing every node of the pass DAG at its own shape, and weight bytes."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from simulator.hw.placement import Placement
from simulator.hw.socfile import load_soc
from simulator.llm.costs import Planner, make_task, precision_on, run_order
from simulator.llm.graph import GRANULARITIES, PassShape, pass_graph
from simulator.llm.model import Precision
from simulator.llm.modelfile import load_model
from tests.support import TINY, cpu, hand_soc

SOC = load_soc("imx95")


def dag_tasks(model, precision, shape, placement, soc, granularity):
    """The reference: the DAG built at this very shape, every node costed on its own, in run order."""
    graph = pass_graph(model, precision_on(precision, placement), shape, granularity)
    return [make_task(name, kind, ops, placement, soc) for name, kind, ops, _keys in run_order(graph)]


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("model,dtype", [("llama-3.2-3b", "int8"), ("qwen2.5-0.5b", "q4_0")])
@pytest.mark.parametrize("shape", [PassShape(63, 0, False), PassShape(1, 80, True), PassShape(6, 70, True, 6),
                                   PassShape(2, 100, False, 1)])
@pytest.mark.parametrize("pu,cores", [("a55", (0,)), ("a55", (0, 1, 2, 3)), ("mali-g310", (0,))])
def test_planner_plan_equals_costing_the_dag_node_by_node(granularity, model, dtype, shape, pu, cores):
    m, p, place = load_model(model), Precision.resolve(dtype), Placement(SOC.pu(pu), cores)
    plan = Planner(SOC, granularity).plan(m, p, shape, place)
    reference = dag_tasks(m, p, shape, place, SOC, granularity)
    assert list(plan.names) == [t.name for t in reference]
    got = [replace(plan.unique[i], name=n) for i, n in zip(plan.order, plan.names)]
    assert len(got) == len(reference)
    for g, r in zip(got, reference):     # a coarse node sums its distinct ops x counts: the same to rounding
        for f in fields(r):
            a, b = getattr(g, f.name), getattr(r, f.name)
            assert a == (pytest.approx(b, rel=1e-12) if isinstance(b, float) else b), (r.name, f.name)
    assert (plan.alone_s, plan.bytes, plan.flops) == pytest.approx(
        (sum(t.alone_s for t in reference), sum(t.bytes for t in reference), sum(t.flops for t in reference)))


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
