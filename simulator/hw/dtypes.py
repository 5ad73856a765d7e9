"""Numeric formats: how many bits a value takes in memory, and in which arithmetic it is computed.

Tensor formats (DTYPES): plain formats (fp32, fp16, bf16, int8, int16) store and compute as themselves (bf16 has no
arithmetic on the bundled cores and computes as fp32). Block-quantized llama.cpp formats store a few bits per
weight plus per-block scales (bits per weight below include the scales: reference/measurements.md, "Model
files") and are multiplied with integer dot products on int8-quantized activations, so their arithmetic is
int8. An int8-weight matmul on int16 activations (an NPU's w8a16 mode) computes in int16 (graph.py). MLC-LLM's q4f16_1 stores 4-bit groups of 32 with an fp16 scale and computes in fp16. The static w8a8
scheme of the seed paper is plain `int8` (per-channel scales negligible).

Quantized Hugging Face checkpoints (a config.json's quantization_config) store the layers' matmuls as:
- GPTQ and AWQ, b bits in groups of g weights: b bits per weight, an fp16 scale and a b-bit packed zero point
  per group, b + (16 + b) / g bits per weight (4-bit groups of 128: 4.15625); without groups (GPTQ group_size
  -1) one scale and zero per row of at least 896 weights adds under 0.03 bits, taken as b. They dequantize to
  the checkpoint's 16-bit float and multiply in it.
- bitsandbytes 4-bit (nf4 or fp4: the same size), blocks of 64 with an fp32 absmax: 4 + 32/64 = 4.5 bits; with
  double quantization the absmax is 8-bit and each 256 of them share an fp32 second-level scale:
  4 + 8/64 + 32/(64 x 256) = 4.127. They dequantize to the compute dtype (taken as the checkpoint's).
- bitsandbytes 8-bit (LLM.int8): int8 rows with a per-row scale (8 bits taken), outlier columns multiplied in fp16;
  modelled as int8.
Their 16-bit float (torch_dtype) is fp16, or bf16 in the formats named with `_bf16`, which compute as bf16
does (fp32 on the bundled cores).

Weight formats (WEIGHT_FORMATS) are what a user names for a model: a plain format (every tensor stored so),
a llama.cpp file type (`q4_k_m`, `iq4_xs`, ...), which keeps some tensors at a higher precision than its
nominal format, or a quantized checkpoint's format, which quantizes the layers' matmuls only and keeps the
embedding and the LM head in its 16-bit float (CHECKPOINT_TYPES); llm/formats.py says which tensor takes which.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPUTE_DTYPES = ("fp32", "fp16", "int8", "int16")


@dataclass(frozen=True)
class DType:
    name: str
    bits: float          # bits per element in memory, scales included
    compute: str         # arithmetic used by a matmul with this operand: one of COMPUTE_DTYPES

    @property
    def bytes(self) -> float:
        return self.bits / 8.0


_STORED: dict[str, DType] = {d.name: d for d in (   # plain and llama.cpp formats
    DType("fp32", 32.0, "fp32"),
    DType("fp16", 16.0, "fp16"),
    DType("bf16", 16.0, "fp32"),      # no bf16 arithmetic assumed: computed as fp32
    DType("int8", 8.0, "int8"),
    DType("int16", 16.0, "int16"),    # 16-bit integers (NPUs' a16 and w16 modes)
    DType("q8_0", 8.5, "int8"),       # llama.cpp Q8_0: 32 int8 + one fp16 scale per block
    DType("q6_k", 6.5625, "int8"),    # llama.cpp Q6_K
    DType("q5_k", 5.5, "int8"),       # llama.cpp Q5_K
    DType("q5_0", 5.5, "int8"),       # llama.cpp Q5_0
    DType("q5_1", 6.0, "int8"),       # llama.cpp Q5_1: 32 x 5 bits + fp16 scale + fp16 minimum (24 B per 32)
    DType("q4_k", 4.5, "int8"),       # llama.cpp Q4_K
    DType("q4_0", 4.5, "int8"),       # llama.cpp Q4_0: 32 4-bit + one fp16 scale
    DType("q4_1", 5.0, "int8"),       # llama.cpp Q4_1: adds an fp16 minimum
    DType("iq4_xs", 4.25, "int8"),    # llama.cpp IQ4_XS (non-linear 4-bit)
    DType("iq4_nl", 4.5, "int8"),     # llama.cpp IQ4_NL: 32 non-linear 4-bit + fp16 scale (18 B per 32)
    DType("q3_k", 3.4375, "int8"),    # llama.cpp Q3_K
    DType("q2_k", 2.625, "int8"),     # llama.cpp Q2_K
    DType("iq3_s", 3.4375, "int8"),   # llama.cpp IQ3_S (110 B per 256)
    DType("iq3_xxs", 3.0625, "int8"), # llama.cpp IQ3_XXS (98 B per 256)
    DType("iq2_s", 2.5625, "int8"),   # llama.cpp IQ2_S (82 B per 256)
    DType("iq2_xs", 2.3125, "int8"),  # llama.cpp IQ2_XS (74 B per 256)
    DType("iq2_xxs", 2.0625, "int8"), # llama.cpp IQ2_XXS (66 B per 256)
    DType("iq1_m", 1.75, "int8"),     # llama.cpp IQ1_M (56 B per 256)
    DType("iq1_s", 1.5625, "int8"),   # llama.cpp IQ1_S (50 B per 256)
    DType("tq2_0", 2.0625, "int8"),   # llama.cpp TQ2_0, ternary (66 B per 256)
    DType("tq1_0", 1.6875, "int8"),   # llama.cpp TQ1_0, ternary (54 B per 256)
    DType("q4f16_1", 4.5, "fp16"),    # MLC-LLM: 4-bit groups of 32 with an fp16 scale, dequantized to fp16
)}


GROUP_QUANT = {"gptq": ((4, 8), (32, 64, 128, -1)), "awq": ((4,), (32, 64, 128))}  # modelled bits, group sizes
_FLOAT16_SUFFIX = {"fp16": "", "bf16": "_bf16"}


def group_quant_format(method: str, bits: int, group: int) -> str:
    """The name of a GPTQ or AWQ layer format (fp16 checkpoint), e.g. gptq4_g128; group -1 is per channel."""
    return f"{method}{bits}_{'perchannel' if group == -1 else f'g{group}'}"


def checkpoint_format(name: str, float16: str) -> str:
    """The checkpoint format `name` (as in an fp16 checkpoint) of a checkpoint whose 16-bit float is `float16`."""
    return name + _FLOAT16_SUFFIX[float16]


def _checkpoint_formats(plain: dict[str, DType]) -> list[tuple[DType, str]]:
    """The layer-matmul formats of quantized Hugging Face checkpoints (see the module docstring), each with the
    16-bit float of the checkpoint's other tensors, whose arithmetic (in `plain`) they dequantize to."""
    out = []
    for float16 in _FLOAT16_SUFFIX:
        compute = plain[float16].compute
        formats = [DType(group_quant_format(method, b, g), b + ((16 + b) / g if g > 0 else 0.0), compute)
                   for method, (bits, groups) in GROUP_QUANT.items() for b in bits for g in groups]
        formats += [DType("bnb4", 4 + 32 / 64, compute), DType("bnb4_dq", 4 + 8 / 64 + 32 / (64 * 256), compute),
                    DType("bnb8", 8.0, "int8")]
        out += [(DType(checkpoint_format(f.name, float16), f.bits, f.compute), float16) for f in formats]
    return out


_CHECKPOINT = _checkpoint_formats(_STORED)
DTYPES: dict[str, DType] = {**_STORED, **{d.name: d for d, _float16 in _CHECKPOINT}}

# quantized Hugging Face checkpoint formats (layer matmuls only), with the format of their embedding and LM head
CHECKPOINT_TYPES: dict[str, str] = {d.name: float16 for d, float16 in _CHECKPOINT}

# llama.cpp file types made of several tensor formats (llm/formats.py has their rules), by their base format
FILE_TYPES: dict[str, str] = {"q4_k_s": "q4_k", "q4_k_m": "q4_k", "q5_k_s": "q5_k", "q5_k_m": "q5_k",
                              "q3_k_s": "q3_k", "q3_k_m": "q3_k", "q3_k_l": "q3_k", "q2_k_s": "q2_k",
                              "iq3_m": "iq3_s", "iq3_xs": "iq3_xxs", "iq2_m": "iq2_s"}

PLAIN = ("fp32", "fp16", "bf16", "int8", "int16", "q4f16_1")   # every tensor in the one format, embeddings included
WEIGHT_FORMATS = tuple(_STORED) + tuple(FILE_TYPES) + tuple(CHECKPOINT_TYPES)


def base_format(weights: str) -> DType:
    """The nominal tensor format of a weight format (a file type's most common one)."""
    return DTYPES[FILE_TYPES.get(weights, weights)]


def default_activation_dtype(weights: str) -> str:
    """Activations follow the weights for plain formats (w8a8 keeps int8 activations); others run fp16."""
    return weights if weights in COMPUTE_DTYPES else "fp16"
