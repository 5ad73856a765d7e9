"""FLOPs and bytes of every op kind, derived by hand for the tiny config (d=12, F=20, qd=6, kd=2, H=3, V=40)."""

from __future__ import annotations

from dataclasses import replace

import networkx as nx
import pytest

from simulator.llm.formats import stored_bytes
from simulator.llm.graph import BYTE_KINDS, GRANULARITIES, PassShape, pass_graph
from simulator.llm.model import Precision
from tests.support import TINY

FP16 = Precision("fp16", "fp16", "fp16")  # every element 2 bytes
d, F, qd, kd, H, V = 12, 20, 6, 2, 3, 40
T, S = 3, 7   # 3 new tokens after 4 cached: 7 attended positions; one logit position

# (flops, weights, act_in, act_out, kv_read, kv_write); norm gains are fp32 (4 bytes)
WITH_CACHE = {
    "attn_norm":     (4 * T * d,       d * 4,       T * d * 2,         T * d * 2,   0,          0),
    "q_proj":        (2 * T * d * qd,  d * qd * 2,  T * d * 2,         T * qd * 2,  0,          0),
    "k_proj":        (2 * T * d * kd,  d * kd * 2,  T * d * 2,         T * kd * 2,  0,          0),
    "v_proj":        (2 * T * d * kd,  d * kd * 2,  T * d * 2,         0,           0,          T * kd * 2),
    "rotary":        (3 * T * (qd + kd), 0,         T * (qd + kd) * 2, T * qd * 2,  0,          T * kd * 2),
    "attn_scores":   (2 * T * S * qd,  0,           T * qd * 2,        H * T * S * 2, S * kd * 2, 0),
    "softmax":       (5 * H * T * S,   0,           H * T * S * 2,     H * T * S * 2, 0,        0),
    "attn_values":   (2 * T * S * qd,  0,           H * T * S * 2,     T * qd * 2,  S * kd * 2, 0),
    "o_proj":        (2 * T * qd * d,  qd * d * 2,  T * qd * 2,        T * d * 2,   0,          0),
    "attn_residual": (T * d,           0,           2 * T * d * 2,     T * d * 2,   0,          0),
    "mlp_norm":      (4 * T * d,       d * 4,       T * d * 2,         T * d * 2,   0,          0),
    "gate":          (2 * T * d * F,   d * F * 2,   T * d * 2,         T * F * 2,   0,          0),
    "up":            (2 * T * d * F,   d * F * 2,   T * d * 2,         T * F * 2,   0,          0),
    "act_mul":       (5 * T * F,       0,           2 * T * F * 2,     T * F * 2,   0,          0),
    "down":          (2 * T * F * d,   F * d * 2,   T * F * 2,         T * d * 2,   0,          0),
    "mlp_residual":  (T * d,           0,           2 * T * d * 2,     T * d * 2,   0,          0),
}
# the same, multiplied out by hand, as a check on the table's own arithmetic
BY_HAND = {"q_proj": (432, 144, 72, 36, 0, 0), "v_proj": (144, 48, 72, 0, 0, 12), "rotary": (72, 0, 48, 36, 0, 12),
           "attn_scores": (252, 0, 36, 126, 28, 0), "softmax": (315, 0, 126, 126, 0, 0),
           "o_proj": (432, 144, 36, 72, 0, 0), "down": (1440, 480, 120, 72, 0, 0)}
HEAD = {  # the embedding gathers T rows; the final norm, LM head and sampling see only the 1 logit position
    "embedding":  (0,          T * d * 2, 0,         T * d * 2, 0, 0),
    "final_norm": (4 * 1 * d,  d * 4,     1 * d * 2, 1 * d * 2, 0, 0),
    "lm_head":    (2 * d * V,  d * V * 2, 1 * d * 2, 1 * V * 2, 0, 0),
    "sample":     (V,          0,         1 * V * 2, 4,         0, 0),
}


def _costs(op):
    return (op.flops, op.weights, op.act_in, op.act_out, op.kv_read, op.kv_write)


def test_every_op_kind_with_kv_cache_matches_hand_derivation():
    for kind, expected in BY_HAND.items():
        assert WITH_CACHE[kind] == expected, kind
    g = pass_graph(TINY, FP16, PassShape(new_tokens=T, past_tokens=S - T, kv_cache=True))
    for layer in range(TINY.num_layers):
        for kind, expected in WITH_CACHE.items():
            (op,) = g.nodes[f"L{layer}.{kind}"]["ops"]
            assert _costs(op) == pytest.approx(expected), kind
    for name, expected in HEAD.items():
        (op,) = g.nodes[name]["ops"]
        assert _costs(op) == pytest.approx(expected), name
    assert g.number_of_nodes() == 16 * 2 + 4


def test_without_kv_cache_the_whole_sequence_is_recomputed():
    # No cache: all 7 positions computed (T = S = 7); K and V are activations, no cache traffic at all.
    g = pass_graph(TINY, FP16, PassShape(new_tokens=3, past_tokens=4, kv_cache=False))
    ops = {data["ops"][0].kind: data["ops"][0] for _, data in g.nodes(data=True)}
    assert _costs(ops["q_proj"]) == pytest.approx((2 * 7 * 12 * 6, 12 * 6 * 2, 7 * 12 * 2, 7 * 6 * 2, 0, 0))
    assert _costs(ops["v_proj"]) == pytest.approx((2 * 7 * 12 * 2, 12 * 2 * 2, 7 * 12 * 2, 7 * 2 * 2, 0, 0))
    assert _costs(ops["attn_scores"]) == pytest.approx((2 * 7 * 7 * 6, 0, 7 * 6 * 2 + 7 * 2 * 2, 3 * 7 * 7 * 2, 0, 0))
    assert _costs(ops["rotary"]) == pytest.approx((3 * 7 * 8, 0, 7 * 8 * 2, 7 * 6 * 2 + 7 * 2 * 2, 0, 0))
    assert sum(op.kv_read + op.kv_write for op in ops.values()) == 0


def test_int8_weights_compute_in_int8_and_block_formats_carry_their_scales():
    int8 = pass_graph(TINY, Precision.resolve("int8"), PassShape(1, 0, True))
    (q,) = int8.nodes["L0.q_proj"]["ops"]
    assert (q.dtype, q.weights, q.act_in) == ("int8", 12 * 6 * 1, 1 * 12 * 1)
    q4 = pass_graph(TINY, Precision.resolve("q4_0"), PassShape(1, 0, True))
    (q,) = q4.nodes["L0.q_proj"]["ops"]
    assert (q.dtype, q.weights, q.act_in) == ("int8", 12 * 6 * 4.5 / 8, 12 * 2)  # 4.5 bits/weight, fp16 activations


def test_dag_is_acyclic_and_respects_the_layer_dataflow():
    g = pass_graph(TINY, FP16, PassShape(1, 4, True))
    assert nx.is_directed_acyclic_graph(g)
    assert nx.has_path(g, "L0.v_proj", "L0.attn_values")
    assert nx.has_path(g, "L1.mlp_residual", "lm_head")
    assert not nx.has_path(g, "L0.q_proj", "L0.k_proj")  # q, k, v are independent


@pytest.mark.parametrize("granularity", GRANULARITIES[1:])
def test_coarse_granularities_sum_the_same_costs(granularity):
    shape = PassShape(3, 4, True)
    fine = pass_graph(TINY, FP16, shape, "op")
    coarse = pass_graph(TINY, FP16, shape, granularity)
    assert coarse.number_of_nodes() == {"layer": TINY.num_layers + 2, "model": 1}[granularity]
    assert nx.is_directed_acyclic_graph(coarse)
    for key in ("flops", *BYTE_KINDS):
        total_fine = sum(getattr(op, key) for _, d in fine.nodes(data=True) for op in d["ops"])
        total_coarse = sum(getattr(op, key) for _, d in coarse.nodes(data=True) for op in d["ops"])
        assert total_coarse == pytest.approx(total_fine)


# Qwen3 and Gemma 3 norm each query and key head (qk_norm); Gemma 2 and 3 also norm the attention and MLP outputs
# before their residuals (post_norms). Same tiny config and pass (T = 3, S = 7, fp16), head_dim hd = 2.
hd = 2
QK_NORM = {   # an RMSNorm over qd (kd) elements per token, one fp32 gain vector of head_dim shared by the heads
    "q_norm": (4 * T * qd, hd * 4, T * qd * 2, T * qd * 2, 0, 0),
    "k_norm": (4 * T * kd, hd * 4, T * kd * 2, T * kd * 2, 0, 0),
}
POST_NORMS = {"post_attn_norm": WITH_CACHE["attn_norm"], "post_mlp_norm": WITH_CACHE["attn_norm"]}


def _variant(**flags):
    return replace(TINY, **flags)


def test_qk_norm_and_post_norms_are_ops_with_hand_derived_costs():
    assert QK_NORM == {"q_norm": (72, 8, 36, 36, 0, 0), "k_norm": (24, 8, 12, 12, 0, 0)}   # multiplied out by hand
    assert POST_NORMS["post_mlp_norm"] == (144, 48, 72, 72, 0, 0)
    shape = PassShape(new_tokens=T, past_tokens=S - T, kv_cache=True)
    for flags, extra in (({"qk_norm": True}, QK_NORM), ({"post_norms": True}, POST_NORMS),
                         ({"qk_norm": True, "post_norms": True}, {**QK_NORM, **POST_NORMS})):
        g = pass_graph(_variant(**flags), FP16, shape)
        assert g.number_of_nodes() == (16 + len(extra)) * 2 + 4, flags
        for layer in range(TINY.num_layers):
            for kind, expected in {**WITH_CACHE, **extra}.items():     # every other op is unchanged
                (op,) = g.nodes[f"L{layer}.{kind}"]["ops"]
                assert _costs(op) == pytest.approx(expected), (flags, kind)


def test_qk_norms_sit_before_rotary_and_post_norms_before_the_residuals():
    g = pass_graph(_variant(qk_norm=True, post_norms=True), FP16, PassShape(1, 4, True))
    assert set(g.predecessors("L0.rotary")) == {"L0.q_norm", "L0.k_norm"}
    assert set(g.predecessors("L0.q_norm")) == {"L0.q_proj"} and set(g.predecessors("L0.k_norm")) == {"L0.k_proj"}
    assert set(g.predecessors("L0.attn_residual")) == {"L0.post_attn_norm", "embedding"}   # layer 0's input
    assert set(g.predecessors("L0.post_attn_norm")) == {"L0.o_proj"}
    assert set(g.predecessors("L0.mlp_residual")) == {"L0.post_mlp_norm", "L0.attn_residual"}
    assert set(g.predecessors("L0.post_mlp_norm")) == {"L0.down"}
    assert nx.is_directed_acyclic_graph(g)


def test_the_extra_norms_count_as_parameters_and_stored_bytes():
    # TINY by hand: per layer matmuls 12*6 + 2*12*2 + 6*12 + 3*12*20 = 912, two norms 2*12 = 24; 2 layers;
    # tied embedding 40*12 = 480; final norm 12
    assert TINY.parameters() == 2 * (912 + 24) + 480 + 12 == 2364
    assert _variant(qk_norm=True).parameters() == 2364 + 2 * (2 * hd)                   # q and k gains per layer
    assert _variant(post_norms=True).parameters() == 2364 + 2 * (2 * d)                 # two more norms per layer
    assert _variant(qk_norm=True, post_norms=True).parameters() == 2364 + 2 * (2 * hd + 2 * d)
    both = _variant(qk_norm=True, post_norms=True)
    assert stored_bytes(both, "fp16") - stored_bytes(TINY, "fp16") == 4 * 2 * (2 * hd + 2 * d)   # fp32 gains
