"""Numeric formats: how many bits a value takes in memory, and in which arithmetic it is computed.

Plain formats (fp32, fp16, int8) store and compute as themselves. Block-quantized llama.cpp formats store
a few bits per weight plus per-block scales (bits per weight below include the scales, from
reference/hardware.md) and are multiplied with integer dot products on int8-quantized activations, so their
arithmetic is int8. The static w8a8 scheme of the seed paper is plain `int8` (per-channel scales negligible).
"""

from __future__ import annotations

from dataclasses import dataclass

COMPUTE_DTYPES = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class DType:
    name: str
    bits: float          # bits per element in memory, scales included
    compute: str         # arithmetic used by a matmul with this operand: one of COMPUTE_DTYPES

    @property
    def bytes(self) -> float:
        return self.bits / 8.0


DTYPES: dict[str, DType] = {d.name: d for d in (
    DType("fp32", 32.0, "fp32"),
    DType("fp16", 16.0, "fp16"),
    DType("int8", 8.0, "int8"),
    DType("q8_0", 8.5, "int8"),     # llama.cpp Q8_0: 32 int8 + one fp16 scale per block
    DType("q4_0", 4.5, "int8"),     # llama.cpp Q4_0: 32 4-bit + one fp16 scale
    DType("q4_1", 5.0, "int8"),     # llama.cpp Q4_1: adds an fp16 minimum
    DType("q4_k_m", 4.85, "int8"),  # llama.cpp Q4_K_M: mixed 4/6-bit super-blocks, ~4.85 average
)}

WEIGHT_DTYPES = tuple(DTYPES)


def default_activation_dtype(weights: str) -> str:
    """Activations follow the weights for plain formats (w8a8 keeps int8 activations); block formats run fp16."""
    return weights if weights in COMPUTE_DTYPES else "fp16"
