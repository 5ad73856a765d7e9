"""How engines store a model's weights: the format of every matmul tensor, layer by layer.

A plain weight format (fp16, int8, ...) stores every tensor, embeddings included, in that format. A quantized
Hugging Face checkpoint's format (GPTQ, AWQ, bitsandbytes: hw/dtypes.py CHECKPOINT_TYPES) quantizes every
layer's matmuls alike and keeps the embedding and the LM head in the checkpoint's 16-bit float, as those
quantizers leave the embedding and lm_head modules unconverted. A llama.cpp
format is what llama.cpp's quantizer writes (llama_tensor_get_type in llama.cpp's src/llama-quant.cpp, the
rules of its 2024-2025 releases, without an importance matrix):
- the output tensor (the token embedding when the model ties them) is kept at Q6_K, or Q8_0 in a Q8_0 file;
- Q4_K_M and Q5_K_M keep attention V and FFN down at Q6_K in the layers `use_more_bits` picks: the first
  and last eighth of the layers and every third layer between them;
- Q4_K_S keeps attention V of the first 4 layers and FFN down of the first eighth at Q5_K;
- IQ4_XS keeps FFN down of the first eighth at Q5_K, and attention V at Q5_K when 4 or more query heads share
  a KV head;
- a k-quant or IQ4_XS tensor whose rows are not a multiple of 256 falls back (Q4_K to Q5_0, Q5_K to Q5_1,
  Q6_K to Q8_0, Q2_K/Q3_K/IQ4_XS to IQ4_NL);
- everything else takes the file's base format; norms stay fp32 (graph.py).
A GGUF file lists each tensor's real format; these rules are what the file would say when it is not at hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from simulator.hw.dtypes import CHECKPOINT_TYPES, DTYPES, FILE_TYPES, PLAIN
from simulator.llm.model import LayerFormats, ModelSpec, WeightFormats

MATMULS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate", "up", "down")
_QK_K = 256
_FALLBACK = {"q4_k": "q5_0", "q5_k": "q5_1", "q6_k": "q8_0", "q2_k": "iq4_nl", "q3_k": "iq4_nl", "iq4_xs": "iq4_nl"}

def _use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _fits(fmt: str, row: int) -> str:
    """The format llama.cpp really uses for a tensor with rows of `row` elements."""
    return _FALLBACK[fmt] if fmt in _FALLBACK and row % _QK_K else fmt


def _layer(model: ModelSpec, weights: str, i: int) -> LayerFormats:
    base = FILE_TYPES.get(weights, weights)
    n = model.num_layers
    fmt = dict.fromkeys(MATMULS, base)
    if weights in ("q4_k_m", "q5_k_m") and _use_more_bits(i, n):
        fmt["v_proj"] = fmt["down"] = "q6_k"
    elif weights == "q4_k_s":
        fmt["v_proj"] = "q5_k" if i < 4 else base
        fmt["down"] = "q5_k" if i < n // 8 else base
    elif weights == "iq4_xs":
        fmt["v_proj"] = "q5_k" if model.num_heads // model.num_kv_heads >= 4 else base
        fmt["down"] = "q5_k" if i < n // 8 else base
    rows = {"o_proj": model.q_dim, "down": model.intermediate_size}
    return tuple((kind, _fits(f, rows.get(kind, model.hidden_size))) for kind, f in fmt.items())


@lru_cache(maxsize=256)
def weight_formats(model: ModelSpec, weights: str) -> WeightFormats:
    """The format of each of `model`'s weight tensors when stored as `weights` (as its file stores them, for a
    model read from a GGUF file)."""
    if model.stored is not None:
        return model.stored
    if weights in PLAIN or weights in CHECKPOINT_TYPES:
        rest = CHECKPOINT_TYPES.get(weights, weights)
        return WeightFormats(rest, rest, (tuple((k, weights) for k in MATMULS),), (0,) * model.num_layers)
    base = FILE_TYPES.get(weights, weights)
    output = "q8_0" if weights == "q8_0" else _fits("q6_k", model.hidden_size)
    embedding = output if model.tie_word_embeddings else _fits(base, model.hidden_size)
    variants: list[LayerFormats] = []
    per_layer = []
    for i in range(model.num_layers):
        layer = _layer(model, weights, i)
        if layer not in variants:
            variants.append(layer)
        per_layer.append(variants.index(layer))
    return WeightFormats(embedding, output, tuple(variants), tuple(per_layer))


@dataclass(frozen=True)
class Tensor:
    """One weight matrix as stored: its name (GGUF's naming), layer (None for embedding and LM head), the op
    kind it feeds, its element count and format."""

    name: str
    layer: int | None
    kind: str
    elements: int
    format: str

    @property
    def bytes(self) -> float:
        return self.elements * DTYPES[self.format].bytes


_GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
               "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}


def tensors(model: ModelSpec, weights: str) -> list[Tensor]:
    """The model's weight matrices (embedding, LM head unless tied, every layer's matmuls) in their formats;
    norm gains and biases (fp32) are the rest of its parameters."""
    wf = weight_formats(model, weights)
    d, f = model.hidden_size, model.intermediate_size
    sizes = {"q_proj": d * model.q_dim, "k_proj": d * model.kv_dim, "v_proj": d * model.kv_dim,
             "o_proj": model.q_dim * d, "gate": d * f, "up": d * f, "down": f * d}
    out = [Tensor("token_embd.weight", None, "embedding", model.vocab_size * d, wf.embedding)]
    if not model.tie_word_embeddings:
        out.append(Tensor("output.weight", None, "lm_head", model.vocab_size * d, wf.output))
    for i in range(model.num_layers):
        for kind, fmt in wf.variants[wf.layer_variant[i]]:
            if kind == "gate" and not model.gated_mlp:
                continue
            out.append(Tensor(f"blk.{i}.{_GGUF_NAMES[kind]}.weight", i, kind, sizes[kind], fmt))
    return out


def stored_bytes(model: ModelSpec, weights: str) -> float:
    """Bytes of every weight tensor as stored (a model file's tensor data): the matrices in their formats, norm
    gains and biases in fp32 (4 bytes)."""
    matrices = tensors(model, weights)
    small = model.parameters() - sum(t.elements for t in matrices)
    return sum(t.bytes for t in matrices) + 4.0 * small
