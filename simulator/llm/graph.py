"""Forward-pass DAGs of a decoder-only transformer, with FLOPs and bytes by kind on every op.

A pass computes `tokens` positions and attends over `context` positions (PassShape). With a KV cache the
pass feeds only its new tokens, reads the cached K/V of all `context` positions and writes those of the new
ones. Without a KV cache (the seed paper's setting) a pass reprocesses the whole sequence: every position is
computed again, K and V are plain activations, and nothing is read from or written to a cache. Logits are
computed only for the positions whose next token is needed (1 when decoding, gamma + 1 when verifying).

Per-op costs (T = tokens computed, S = positions attended, d = hidden, F = intermediate, hd = head dim,
qd = heads x hd, kd = KV heads x hd, V = vocab, L = logit positions; a, w, c = bytes per activation, weight,
KV-cache element):
    norm            4 T d FLOP        weights 4 d (fp32 gains)   act in/out T d a
    q / k / v proj  2 T d qd|kd       weights d qd|kd w          act in T d a, out T qd|kd a   (+bias if any);
                                      with a cache V goes there instead (T kd c)
    q / k norm      4 T qd|kd         weights 4 hd (one fp32 gain vector per norm, shared by the heads)
                                      act in/out T qd|kd a       (qk_norm only: Qwen3, Gemma 3; before rotary)
    rotary          3 T (qd + kd)     act in T (qd + kd) a       out T qd a; K goes to the cache (T kd c) or out
    attn scores     2 T S qd          Q in T qd a; K of S positions (cache read, or activations)  out H T S a
    softmax         5 H T S           in/out H T S a
    attn x values   2 T S qd          probs in H T S a; V of S positions      out T qd a
    o proj          2 T qd d          weights qd d w
    post attn norm  as norm           (post_norms only: Gemma 2 and 3 norm the attention output before its residual)
    residual add    T d               in 2 T d a, out T d a
    gate / up       2 T d F each      weights d F w
    act x mul       5 T F (SiLU, mul) in 2 T F a, out T F a     (Gemma's GeLU-tanh gate costed alike)
    down            2 T F d           weights F d w
    post mlp norm   as norm           (post_norms only: the MLP output, before its residual)
    embedding       0                 gathers T rows: T d w; out T d a
    final norm      on L positions;   lm head 2 L d V, weights d V w;   sample (argmax) L V
Attention is costed dense (all T x S scores, masked), as a compiled graph with an explicit mask computes it.
V is written to the cache by the v projection, K by the rotary op that produces it.

Coarser granularities (layer, model) are the same DAG contracted: a coarse node holds its member ops, so
its FLOPs and bytes are the members' sums and costing can still see every member.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from simulator.hw.dtypes import DTYPES
from simulator.llm.formats import WeightFormats, weight_formats
from simulator.llm.model import ModelSpec, Precision

if TYPE_CHECKING:
    import networkx as nx

GRANULARITIES = ("op", "layer", "model")
OP_KINDS = ("embedding", "attn_norm", "q_proj", "k_proj", "v_proj", "q_norm", "k_norm", "rotary", "attn_scores", "softmax",
            "attn_values", "o_proj", "post_attn_norm", "attn_residual", "mlp_norm", "gate", "up", "act_mul", "down",
            "post_mlp_norm", "mlp_residual", "final_norm", "lm_head", "sample")   # every op kind of a pass, in run order
BYTE_KINDS = ("weights", "act_in", "act_out", "kv_read", "kv_write")
NORM_WEIGHT_BYTES = 4  # norm gains and biases are kept in fp32 (as llama.cpp and IREE exports do); tiny either way


class PassShape(NamedTuple):
    """One forward pass: `new_tokens` fed after `past_tokens` already seen; `logits` positions kept. (A named
    tuple: decoding makes one per pass, and a tuple is made and hashed fastest.)"""

    new_tokens: int
    past_tokens: int
    kv_cache: bool
    logits: int = 1

    @property
    def tokens(self) -> int:
        """Positions computed: only the new ones with a cache, the whole sequence without."""
        return self.new_tokens if self.kv_cache else self.past_tokens + self.new_tokens

    @property
    def context(self) -> int:
        """Positions attended by the last token."""
        return self.past_tokens + self.new_tokens


@dataclass(frozen=True, slots=True)
class Op:
    name: str
    kind: str
    op_class: str      # matmul | attention | elementwise: selects the PU's efficiency
    dtype: str         # arithmetic before any PU promotion
    flops: float
    weights: float = 0.0
    act_in: float = 0.0
    act_out: float = 0.0
    kv_read: float = 0.0
    kv_write: float = 0.0
    weight_format: str = ""   # a matmul's model weight format (a PU may have a rate measured for it)

    @property
    def bytes(self) -> float:
        return self.weights + self.act_in + self.act_out + self.kv_read + self.kv_write

    def renamed(self, name: str) -> "Op":
        return replace(self, name=name)


def matmul_dtype(weights_compute: str, activations: str) -> str:
    """The arithmetic of a matmul: its weights' (int8 for block formats), but int16 for int8 weights on int16
    activations (an NPU's w8a16 mode)."""
    return "int16" if weights_compute == "int8" and activations == "int16" else weights_compute


def _layer_ops(m: ModelSpec, p: Precision, s: PassShape, fmts: dict[str, str]) -> list[tuple[Op, tuple[str, ...]]]:
    """The ops of one decoder layer, each with the kinds of its inputs inside the layer ("in" = layer input);
    `fmts` gives each matmul's tensor format (formats.py). A model with qk_norm normalises each query and key
    head between its projection and rotary; one with post_norms normalises the attention and MLP outputs before
    they join the residual stream (Gemma 2 and 3 norm before and after both blocks)."""
    T, S, d, F = s.tokens, s.context, m.hidden_size, m.intermediate_size
    qd, kd, H = m.q_dim, m.kv_dim, m.num_heads
    a, c = DTYPES[p.activations].bytes, DTYPES[p.kv_cache].bytes
    att = p.activations
    ew = "fp32" if att in ("int8", "int16") else att      # elementwise math on integer activations runs dequantized
    bias = m.qkv_bias

    def proj(kind, n_in, n_out, to_cache=False, bias_on=False):
        """A projection; with to_cache its output is written to the KV cache instead of the activations."""
        w = DTYPES[fmts[kind]]
        extra_f = T * n_out if bias_on else 0.0
        extra_w = n_out * NORM_WEIGHT_BYTES if bias_on else 0.0
        return Op(kind, kind, "matmul", matmul_dtype(w.compute, att), 2.0 * T * n_in * n_out + extra_f,
                  weights=n_in * n_out * w.bytes + extra_w, act_in=T * n_in * a,
                  act_out=0.0 if to_cache else T * n_out * a, kv_write=T * n_out * c if to_cache else 0.0,
                  weight_format=p.weights)

    def norm(kind, width=d, gains=d):
        """An RMSNorm over `width` elements per token (square, sum, scale, gain: 4 FLOP each) with `gains` fp32 gains."""
        return Op(kind, kind, "elementwise", ew, 4.0 * T * width, weights=gains * NORM_WEIGHT_BYTES,
                  act_in=T * width * a, act_out=T * width * a)

    def residual(kind):
        return Op(kind, kind, "elementwise", ew, 1.0 * T * d, act_in=2 * T * d * a, act_out=T * d * a)

    kv = s.kv_cache
    kv_span = S * kd  # K (or V) elements of every attended position: read from the cache, or plain activations

    def attn(kind, flops, act_in, act_out):
        return Op(kind, kind, "attention", att, flops, act_in=act_in + (0.0 if kv else kv_span * a),
                  act_out=act_out, kv_read=kv_span * c if kv else 0.0)

    if m.gated_mlp:    # SiLU(gate) x up
        mlp = [(proj("gate", d, F), ("mlp_norm",)), (proj("up", d, F), ("mlp_norm",)),
               (Op("act_mul", "act_mul", "elementwise", ew, 5.0 * T * F, act_in=2 * T * F * a, act_out=T * F * a),
                ("gate", "up"))]
    else:              # GeLU(up), as GPT-NeoX and GPT-2 compute it
        mlp = [(proj("up", d, F), ("mlp_norm",)),
               (Op("act_mul", "act_mul", "elementwise", ew, 8.0 * T * F, act_in=T * F * a, act_out=T * F * a), ("up",))]
    if m.qk_norm:      # one RMSNorm per query and key head, its head_dim gains shared by the heads
        qk = [(norm("q_norm", qd, m.head_dim), ("q_proj",)), (norm("k_norm", kd, m.head_dim), ("k_proj",))]
    else:
        qk = []
    attn_out = [(norm("post_attn_norm"), ("o_proj",))] if m.post_norms else []
    mlp_out = [(norm("post_mlp_norm"), ("down",))] if m.post_norms else []
    return [
        (norm("attn_norm"), ("in",)),
        (proj("q_proj", d, qd, bias_on=bias), ("attn_norm",)),
        (proj("k_proj", d, kd, bias_on=bias), ("attn_norm",)),
        (proj("v_proj", d, kd, to_cache=kv, bias_on=bias), ("attn_norm",)),
        *qk,
        (Op("rotary", "rotary", "elementwise", ew, 3.0 * T * (qd + kd), act_in=T * (qd + kd) * a,
            act_out=T * qd * a + (0.0 if kv else T * kd * a), kv_write=T * kd * c if kv else 0.0),
         ("q_norm", "k_norm") if m.qk_norm else ("q_proj", "k_proj")),
        (attn("attn_scores", 2.0 * T * S * qd, T * qd * a, H * T * S * a), ("rotary",)),
        (Op("softmax", "softmax", "attention", ew, 5.0 * H * T * S, act_in=H * T * S * a, act_out=H * T * S * a), ("attn_scores",)),
        (attn("attn_values", 2.0 * T * S * qd, H * T * S * a, T * qd * a), ("softmax", "v_proj")),
        (proj("o_proj", qd, d), ("attn_values",)),
        *attn_out,
        (residual("attn_residual"), ("post_attn_norm" if m.post_norms else "o_proj", "in")),
        (norm("mlp_norm"), ("attn_residual",)),
        *mlp,
        (proj("down", F, d), ("act_mul",)),
        *mlp_out,
        (residual("mlp_residual"), ("post_mlp_norm" if m.post_norms else "down", "attn_residual")),
    ]


def _head_ops(m: ModelSpec, p: Precision, s: PassShape, wf: WeightFormats) -> tuple[Op, list[Op]]:
    T, L, d, V = s.tokens, s.logits, m.hidden_size, m.vocab_size
    a = DTYPES[p.activations].bytes
    emb, out = DTYPES[wf.embedding], DTYPES[wf.output]
    ew = "fp32" if p.activations in ("int8", "int16") else p.activations
    embed = Op("embedding", "embedding", "elementwise", ew, 0.0, weights=T * d * emb.bytes, act_out=T * d * a)
    tail = [
        Op("final_norm", "final_norm", "elementwise", ew, 4.0 * L * d, weights=d * NORM_WEIGHT_BYTES, act_in=L * d * a, act_out=L * d * a),
        Op("lm_head", "lm_head", "matmul", matmul_dtype(out.compute, p.activations), 2.0 * L * d * V, weights=d * V * out.bytes, act_in=L * d * a,
           act_out=L * V * a, weight_format=p.weights),
        Op("sample", "sample", "elementwise", ew, 1.0 * L * V, act_in=L * V * a, act_out=L * 4.0),
    ]
    return embed, tail


def op_key(kind: str, variant: int) -> str:
    """The key of a layer op in template_ops: its kind, and its layer variant after the first."""
    return kind if variant == 0 else f"{kind}/{variant}"


def template_ops(m: ModelSpec, p: Precision, s: PassShape) -> dict[str, Op]:
    """One Op of each kind of the pass, keyed by op_key: layers that store their weights alike have the same
    ops, so one layer of each variant (formats.py) is all a cost needs."""
    wf = weight_formats(m, p.weights)
    embed, tail = _head_ops(m, p, s, wf)
    ops = {embed.kind: embed}
    for v, fmts in enumerate(wf.variants):
        ops.update((op_key(op.kind, v), op) for op, _ in _layer_ops(m, p, s, dict(fmts)))
    ops.update((op.kind, op) for op in tail)
    return ops


class _Positions(NamedTuple):
    """A pass by its positions alone: what template_ops reads of a PassShape, at any T and S."""

    tokens: int
    context: int
    kv_cache: bool
    logits: int


Bilinear = tuple[float, float, float, float]   # (c0, cT, cS, cTS): c0 + cT T + cS S + cTS T S


@lru_cache(maxsize=256)
def bilinear_ops(m: ModelSpec, p: Precision, kv_cache: bool, logits: int) -> dict[str, tuple[Op, Bilinear, Bilinear]]:
    """Each op of template_ops with its FLOPs and its bytes in closed form in the pass's positions: every formula
    above is bilinear in T (positions computed) and S (positions attended), so its values at T, S in {0, 1}
    give its four coefficients exactly. The Op is the one at T = S = 1 (for its kind, class, dtype, format)."""
    at = {(t, s): template_ops(m, p, _Positions(t, s, kv_cache, logits)) for t in (0, 1) for s in (0, 1)}

    def coefficients(key: str, field: str) -> Bilinear:
        v00, v10, v01, v11 = (getattr(at[ts][key], field) for ts in ((0, 0), (1, 0), (0, 1), (1, 1)))
        return v00, v10 - v00, v01 - v00, v11 - v10 - v01 + v00

    return {key: (op, coefficients(key, "flops"), coefficients(key, "bytes")) for key, op in at[1, 1].items()}


def op_nodes(m: ModelSpec, p: Precision, s: PassShape):
    """The pass DAG's op nodes in the order they join it, which is a topological order (every node after its
    inputs): (node name, its Op (named by its kind), its template_ops key, its layer or None, its inputs)."""
    wf = weight_formats(m, p.weights)
    embed, tail = _head_ops(m, p, s, wf)
    yield embed.name, embed, embed.kind, None, ()
    prev = embed.name
    templates = [_layer_ops(m, p, s, dict(fmts)) for fmts in wf.variants]
    for i in range(m.num_layers):
        names = {"in": prev}
        v = wf.layer_variant[i]
        for op, inputs in templates[v]:
            name = names[op.kind] = f"L{i}.{op.kind}"
            yield name, op, op_key(op.kind, v), i, tuple(names[src] for src in inputs)
        prev = names["mlp_residual"]
    for op in tail:
        yield op.name, op, op.kind, None, (prev,)
        prev = op.name


def node_group(granularity: str, name: str, layer: int | None) -> str:
    """The node of the pass DAG at `granularity` that op node `name` (of `layer`) belongs to."""
    if granularity == "op":
        return name
    if granularity == "layer":
        return "embed" if name == "embedding" else (f"L{layer}" if layer is not None else "head")
    if granularity == "model":
        return "model"
    raise ValueError(f"unknown granularity {granularity!r}")


def _op_graph(m: ModelSpec, p: Precision, s: PassShape) -> nx.DiGraph:
    import networkx as nx      # only for the DAG itself: costing reads op_nodes (importing it costs ~0.1 s)
    g = nx.DiGraph()
    for name, op, key, layer, inputs in op_nodes(m, p, s):
        g.add_node(name, ops=(op.renamed(name) if name != op.name else op,), keys=(key,), layer=layer)
        g.add_edges_from((src, name) for src in inputs)
    return g


def _contract(g: nx.DiGraph, granularity: str) -> nx.DiGraph:
    """Merge nodes by group, in the order they joined the DAG (a topological one); members keep their order,
    edges between groups stay."""
    import networkx as nx
    out = nx.DiGraph()
    members: dict[str, list] = {}
    keys: dict[str, list] = {}
    group = {name: node_group(granularity, name, data["layer"]) for name, data in g.nodes(data=True)}
    for name, data in g.nodes(data=True):
        members.setdefault(group[name], []).extend(data["ops"])
        keys.setdefault(group[name], []).extend(data["keys"])
    for key, ops in members.items():
        out.add_node(key, ops=tuple(ops), keys=tuple(keys[key]), layer=None)
    out.add_edges_from((group[u], group[v]) for u, v in g.edges if group[u] != group[v])
    return out


def pass_graph(model: ModelSpec, precision: Precision, shape: PassShape, granularity: str = "op") -> nx.DiGraph:
    """The DAG of one forward pass. Every node has `ops`, its member Op tuple (one op at op granularity), and
    `keys`, their keys in template_ops."""
    node_group(granularity, "", None)     # refuses an unknown granularity
    g = _op_graph(model, precision, shape)
    return g if granularity == "op" else _contract(g, granularity)


def coarse_kind(name: str) -> str:
    """The task kind of a coarse node of several ops: "layer", or its own name (embed, head, model)."""
    return "layer" if name.startswith("L") else name


def run_order(graph: nx.DiGraph):
    """The DAG's nodes in the order they run, each as (name, task kind, member ops, their template keys): a
    deterministic topological order whose ties between ready nodes break by insertion order (q before k before
    v), never by name."""
    import networkx as nx
    index = {name: i for i, name in enumerate(graph.nodes)}
    for name in nx.lexicographical_topological_sort(graph, key=index.__getitem__):
        ops = graph.nodes[name]["ops"]
        kind = ops[0].kind if len(ops) == 1 else coarse_kind(name)
        yield name, kind, ops, graph.nodes[name]["keys"]
