"""Transformer model descriptions: the architecture numbers of a decoder-only LLM (Llama/Qwen family).

Read from graphs/NAME.yaml or a Hugging Face config.json by modelfile.py. Only shapes live here; precision
is chosen per run (see Precision).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from simulator.common.errors import InputError
from simulator.hw.dtypes import COMPUTE_DTYPES, WEIGHT_FORMATS, default_activation_dtype


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    qkv_bias: bool = False
    gated_mlp: bool = True      # SiLU(gate) x up (Llama, Qwen); False: GeLU(up) (GPT-NeoX, GPT-2)

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    def matmul_weights_per_layer(self) -> int:
        d, f = self.hidden_size, self.intermediate_size
        return d * self.q_dim + 2 * d * self.kv_dim + self.q_dim * d + (3 if self.gated_mlp else 2) * d * f

    def parameters(self) -> int:
        """Weight count (matmuls, embeddings, norms, biases), as a model card counts them."""
        d = self.hidden_size
        per_layer = self.matmul_weights_per_layer() + 2 * d + (self.q_dim + 2 * self.kv_dim if self.qkv_bias else 0)
        embed = self.vocab_size * d * (1 if self.tie_word_embeddings else 2)
        return self.num_layers * per_layer + embed + d

    def describe(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Precision:
    """Formats of one model in one run: weights (any of WEIGHT_FORMATS), activations and KV cache (plain formats)."""

    weights: str
    activations: str
    kv_cache: str

    @classmethod
    def resolve(cls, weights: str, activations: str | None = None, kv_cache: str | None = None,
                role: str = "target") -> "Precision":
        """The formats, defaults filled in (activations follow the weights, the KV cache the activations); a bad
        one is an InputError naming its flag (--ROLE-dtype, --ROLE-act-dtype, --ROLE-kv-dtype)."""
        if weights not in WEIGHT_FORMATS:
            raise InputError(f"--{role}-dtype", f"unknown weight format {weights!r} (known: {', '.join(WEIGHT_FORMATS)})")
        act = activations or default_activation_dtype(weights)
        kv = kv_cache or act
        for flag, label, value in (("act", "activations", act), ("kv", "kv cache", kv)):
            if value not in COMPUTE_DTYPES:
                raise InputError(f"--{role}-{flag}-dtype",
                                 f"unknown {label} dtype {value!r} (known: {', '.join(COMPUTE_DTYPES)})")
        return cls(weights, act, kv)
