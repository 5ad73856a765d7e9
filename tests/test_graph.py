"""FLOPs and bytes of every op kind, derived by hand for the tiny config (d=8, F=16, qd=8, kd=4, H=2, V=32)."""

from __future__ import annotations

import networkx as nx
import pytest

from simulator.graph import BYTE_KINDS, GRANULARITIES, PassShape, node_totals, pass_graph, weight_bytes
from simulator.model import Precision
from tests.conftest import TINY

FP16 = Precision("fp16", "fp16", "fp16")  # every element 2 bytes

# T=3 new tokens after 5 cached: S=8 attended positions, one logit position.
# (flops, weights, act_in, act_out, kv_read, kv_write), each worked out from graph.py's table:
WITH_CACHE = {
    "attn_norm":     (4 * 3 * 8,      8 * 4,      3 * 8 * 2,            3 * 8 * 2,      0,          0),
    "q_proj":        (2 * 3 * 8 * 8,  8 * 8 * 2,  3 * 8 * 2,            3 * 8 * 2,      0,          0),
    "k_proj":        (2 * 3 * 8 * 4,  8 * 4 * 2,  3 * 8 * 2,            3 * 4 * 2,      0,          0),
    "v_proj":        (2 * 3 * 8 * 4,  8 * 4 * 2,  3 * 8 * 2,            3 * 4 * 2,      0,          3 * 4 * 2),
    "rotary":        (3 * 3 * 12,     0,          3 * 12 * 2,           3 * 8 * 2,      0,          3 * 4 * 2),
    "attn_scores":   (2 * 3 * 8 * 8,  0,          3 * 8 * 2,            2 * 3 * 8 * 2,  8 * 4 * 2,  0),
    "softmax":       (5 * 2 * 3 * 8,  0,          2 * 3 * 8 * 2,        2 * 3 * 8 * 2,  0,          0),
    "attn_values":   (2 * 3 * 8 * 8,  0,          2 * 3 * 8 * 2,        3 * 8 * 2,      8 * 4 * 2,  0),
    "o_proj":        (2 * 3 * 8 * 8,  8 * 8 * 2,  3 * 8 * 2,            3 * 8 * 2,      0,          0),
    "attn_residual": (3 * 8,          0,          2 * 3 * 8 * 2,        3 * 8 * 2,      0,          0),
    "mlp_norm":      (4 * 3 * 8,      8 * 4,      3 * 8 * 2,            3 * 8 * 2,      0,          0),
    "gate":          (2 * 3 * 8 * 16, 8 * 16 * 2, 3 * 8 * 2,            3 * 16 * 2,     0,          0),
    "up":            (2 * 3 * 8 * 16, 8 * 16 * 2, 3 * 8 * 2,            3 * 16 * 2,     0,          0),
    "act_mul":       (5 * 3 * 16,     0,          2 * 3 * 16 * 2,       3 * 16 * 2,     0,          0),
    "down":          (2 * 3 * 16 * 8, 16 * 8 * 2, 3 * 16 * 2,           3 * 8 * 2,      0,          0),
    "mlp_residual":  (3 * 8,          0,          2 * 3 * 8 * 2,        3 * 8 * 2,      0,          0),
}
HEAD = {  # T=3 for the embedding; the final norm, LM head and sampling see only the 1 logit position
    "embedding":  (0,          3 * 8 * 2,  0,          3 * 8 * 2,  0, 0),
    "final_norm": (4 * 1 * 8,  8 * 4,      1 * 8 * 2,  1 * 8 * 2,  0, 0),
    "lm_head":    (2 * 8 * 32, 8 * 32 * 2, 1 * 8 * 2,  1 * 32 * 2, 0, 0),
    "sample":     (32,         0,          1 * 32 * 2, 4,          0, 0),
}


def _costs(op):
    return (op.flops, op.weights, op.act_in, op.act_out, op.kv_read, op.kv_write)


def test_every_op_kind_with_kv_cache_matches_hand_derivation():
    g = pass_graph(TINY, FP16, PassShape(new_tokens=3, past_tokens=5, kv_cache=True))
    for layer in range(TINY.num_layers):
        for kind, expected in WITH_CACHE.items():
            (op,) = g.nodes[f"L{layer}.{kind}"]["ops"]
            assert _costs(op) == pytest.approx(expected), kind
    for name, expected in HEAD.items():
        (op,) = g.nodes[name]["ops"]
        assert _costs(op) == pytest.approx(expected), name
    assert g.number_of_nodes() == 16 * 2 + 4


def test_without_kv_cache_the_whole_sequence_is_recomputed():
    # No cache: T = S = 8 positions; K and V are activations, nothing read from or written to a cache.
    g = pass_graph(TINY, FP16, PassShape(new_tokens=3, past_tokens=5, kv_cache=False))
    ops = {data["ops"][0].kind: data["ops"][0] for _, data in g.nodes(data=True)}
    assert _costs(ops["q_proj"]) == pytest.approx((2 * 8 * 8 * 8, 8 * 8 * 2, 8 * 8 * 2, 8 * 8 * 2, 0, 0))
    assert _costs(ops["attn_scores"]) == pytest.approx((2 * 8 * 8 * 8, 0, 8 * 8 * 2 + 8 * 4 * 2, 2 * 8 * 8 * 2, 0, 0))
    assert _costs(ops["rotary"]) == pytest.approx((3 * 8 * 12, 0, 8 * 12 * 2, 8 * 8 * 2 + 8 * 4 * 2, 0, 0))
    assert sum(op.kv_read + op.kv_write for op in ops.values()) == 0


def test_int8_weights_compute_in_int8_and_block_formats_carry_their_scales():
    int8 = pass_graph(TINY, Precision.resolve("int8"), PassShape(1, 0, True))
    (q,) = int8.nodes["L0.q_proj"]["ops"]
    assert (q.dtype, q.weights, q.act_in) == ("int8", 8 * 8 * 1, 1 * 8 * 1)
    q4 = pass_graph(TINY, Precision.resolve("q4_0"), PassShape(1, 0, True))
    (q,) = q4.nodes["L0.q_proj"]["ops"]
    assert (q.dtype, q.weights, q.act_in) == ("int8", 8 * 8 * 4.5 / 8, 8 * 2)  # 4.5 bits/weight, fp16 activations


def test_dag_is_acyclic_and_respects_the_layer_dataflow():
    g = pass_graph(TINY, FP16, PassShape(1, 4, True))
    assert nx.is_directed_acyclic_graph(g)
    assert nx.has_path(g, "L0.v_proj", "L0.attn_values")
    assert nx.has_path(g, "L1.mlp_residual", "lm_head")
    assert not nx.has_path(g, "L0.q_proj", "L0.k_proj")  # q, k, v are independent


@pytest.mark.parametrize("granularity", GRANULARITIES[1:])
def test_coarse_granularities_sum_the_same_costs(granularity):
    shape = PassShape(3, 5, True)
    fine = pass_graph(TINY, FP16, shape, "op")
    coarse = pass_graph(TINY, FP16, shape, granularity)
    assert coarse.number_of_nodes() == {"layer": TINY.num_layers + 2, "model": 1}[granularity]
    assert nx.is_directed_acyclic_graph(coarse)
    for key in ("flops", *BYTE_KINDS):
        total_fine = sum(node_totals(d["ops"])[key] for _, d in fine.nodes(data=True))
        total_coarse = sum(node_totals(d["ops"])[key] for _, d in coarse.nodes(data=True))
        assert total_coarse == pytest.approx(total_fine)


def test_weight_bytes_of_a_decode_pass_count_every_weight_once():
    # int8: each matmul weight 1 byte; norm gains 4 bytes; the tied table is read whole by the LM head, one row
    # gathered by the embedding.
    layer = 8 * 8 + 2 * 8 * 4 + 8 * 8 + 3 * 8 * 16
    expected = 2 * (layer + 2 * 8 * 4) + 8 * 4 + 8 * 32 + 8
    assert weight_bytes(TINY, Precision.resolve("int8"), PassShape(1, 10, True)) == expected
