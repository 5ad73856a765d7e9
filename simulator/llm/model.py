"""Transformer model descriptions: the architecture numbers of a dense decoder-only LLM (the Llama layer, and
what Qwen, Gemma, Phi-3 and GPT-NeoX layers add to it).

Read from graphs/NAME.yaml or a Hugging Face config.json by modelfile.py. Only shapes live here; precision
is chosen per run (see Precision), a quantized checkpoint's format being the default it names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from simulator.common.errors import InputError
from simulator.hw.dtypes import COMPUTE_DTYPES, WEIGHT_FORMATS, default_activation_dtype

LayerFormats = tuple[tuple[str, str], ...]   # (matmul kind, tensor format), in MATMULS order


@dataclass(frozen=True)
class WeightFormats:
    """Every weight tensor's format: the embedding, the LM head, and each layer's matmuls (layers that store
    theirs alike share one variant)."""

    embedding: str
    output: str
    variants: tuple[LayerFormats, ...]
    layer_variant: tuple[int, ...]      # per layer, its index into variants

    def layer(self, i: int) -> dict[str, str]:
        return dict(self.variants[self.layer_variant[i]])

    def summary(self) -> dict[str, int]:
        """How many tensors of each format (embedding, LM head unless it is the embedding, each layer's matmuls)."""
        counts: dict[str, int] = {}
        names = [self.embedding, self.output] + [f for i in self.layer_variant for _k, f in self.variants[i]]
        for fmt in names:
            counts[fmt] = counts.get(fmt, 0) + 1
        return dict(sorted(counts.items()))


SIZE_LIMITS = {"hidden_size": 65_536, "intermediate_size": 1_048_576, "num_layers": 1_024, "num_heads": 1_024,
               "num_kv_heads": 1_024, "head_dim": 4_096, "vocab_size": 4_194_304}


@dataclass(frozen=True)
class ModelSpec:
    """One dense decoder: its sizes and the per-layer differences graph.py models (biases, norms, MLP kind)."""

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
    architecture: str = "llama"  # the family, as its config.json model_type or GGUF general.architecture names it
    qk_norm: bool = False       # a norm on each query and key head before rotary (Qwen3, Gemma 3)
    post_norms: bool = False    # norms after attention and after the MLP too (Gemma 2 and 3)
    stored: WeightFormats | None = None   # every tensor's format as a model file stores it (GGUF), else None
    default_weights: str | None = None    # the weight format its file stores (a quantization_config); None: no preference

    def checked(self, source: str) -> "ModelSpec":
        """Itself, if its sizes are a model's: KV heads dividing the heads, every size within SIZE_LIMITS (far above
        any model an edge SoC runs; beyond them a file is broken or hostile, and costing it would take minutes)."""
        for key, limit in SIZE_LIMITS.items():
            value = getattr(self, key)
            if not 1 <= value <= limit:
                raise InputError(source, f"{value:.3g} is outside 1..{limit:,}", key)
        if self.num_heads % self.num_kv_heads:
            raise InputError(source, f"must divide num_heads ({self.num_heads})", "num_kv_heads")
        return self

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    def matmul_weights_per_layer(self) -> int:
        d, f = self.hidden_size, self.intermediate_size
        return d * self.q_dim + 2 * d * self.kv_dim + self.q_dim * d + (3 if self.gated_mlp else 2) * d * f

    def vector_weights_per_layer(self) -> int:
        """A layer's weights outside its matmuls: the gains of its norms (two of hidden_size, four with post_norms,
        plus one of head_dim each for q and k with qk_norm) and the q/k/v biases if any."""
        d = self.hidden_size
        norms = (4 if self.post_norms else 2) * d + (2 * self.head_dim if self.qk_norm else 0)
        return norms + (self.q_dim + 2 * self.kv_dim if self.qkv_bias else 0)

    def parameters(self) -> int:
        """Weight count (matmuls, embeddings, norms, biases), as a model card counts them."""
        d = self.hidden_size
        per_layer = self.matmul_weights_per_layer() + self.vector_weights_per_layer()
        embed = self.vocab_size * d * (1 if self.tie_word_embeddings else 2)
        return self.num_layers * per_layer + embed + d

    def describe(self) -> dict:
        out = asdict(self)
        del out["stored"]
        if self.stored is not None:
            out["stored_formats"] = self.stored.summary()
        return out


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
