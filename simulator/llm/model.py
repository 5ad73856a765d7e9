"""Transformer model descriptions: the architecture numbers of a decoder-only LLM (Llama/Qwen family).

Read from graphs/NAME.yaml (our format, every number with its config.json source) or directly from a
Hugging Face config.json. Only shapes live here; precision is chosen per run (see Precision).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from simulator.common.config import Section, read_mapping
from simulator.hw.dtypes import COMPUTE_DTYPES, DTYPES, default_activation_dtype
from simulator.common.errors import InputError
from simulator.common.bundled import resolve_file


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

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    def matmul_weights_per_layer(self) -> int:
        d, f = self.hidden_size, self.intermediate_size
        return d * self.q_dim + 2 * d * self.kv_dim + self.q_dim * d + 3 * d * f

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
    """Formats of one model in one run: weights (any of DTYPES), activations and KV cache (plain formats)."""

    weights: str
    activations: str
    kv_cache: str

    @classmethod
    def resolve(cls, weights: str, activations: str | None = None, kv_cache: str | None = None,
                flag: str = "--target-dtype") -> "Precision":
        if weights not in DTYPES:
            raise InputError(flag, f"unknown weight dtype {weights!r} (known: {', '.join(DTYPES)})")
        act = activations or default_activation_dtype(weights)
        kv = kv_cache or act
        for label, value in (("activations", act), ("kv cache", kv)):
            if value not in COMPUTE_DTYPES:
                raise InputError(flag, f"unknown {label} dtype {value!r} (known: {', '.join(COMPUTE_DTYPES)})")
        return cls(weights, act, kv)


_HF_KEYS = {  # our field -> Hugging Face config.json key
    "hidden_size": "hidden_size",
    "intermediate_size": "intermediate_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "num_kv_heads": "num_key_value_heads",
    "vocab_size": "vocab_size",
}
_SIZE_FIELDS = ("hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads", "head_dim", "vocab_size")


def _head_dim(sec: Section, sizes: dict) -> int:
    """head_dim when given, else hidden_size / num_heads, which must divide evenly."""
    given = sec.number("head_dim", None, positive=True, integer=True)
    if given is not None:
        return given
    if sizes["hidden_size"] % sizes["num_heads"]:
        raise sec.fail("head_dim", "missing, and hidden_size is not a multiple of the head count")
    return sizes["hidden_size"] // sizes["num_heads"]


def _check(spec: ModelSpec, source: str) -> ModelSpec:
    if spec.num_heads % spec.num_kv_heads:
        raise InputError(source, f"must divide num_heads ({spec.num_heads})", "num_kv_heads")
    return spec


def parse_model(data: dict, source: str, default_name: str) -> ModelSpec:
    """Our graphs/*.yaml format: the fields of ModelSpec, plus free-text provenance keys."""
    sec = Section(source, data)
    sizes = {k: sec.number(k, positive=True, integer=True) for k in _SIZE_FIELDS if k != "head_dim"}
    spec = ModelSpec(name=sec.string("name", default_name), source=sec.string("source", source),
                     head_dim=_head_dim(sec, sizes),
                     tie_word_embeddings=sec.boolean("tie_word_embeddings"),
                     qkv_bias=sec.boolean("qkv_bias", False), **sizes)
    sec.string("architecture", "")
    sec.string("notes", "")
    sec.done()
    return _check(spec, source)


def parse_hf_config(data: dict, source: str, default_name: str) -> ModelSpec:
    """A Hugging Face config.json: only the keys we need are read; others are ignored (HF configs have many)."""
    sec = Section(source, data)
    sizes = {}
    for ours, theirs in _HF_KEYS.items():
        if ours == "num_kv_heads" and not sec.has(theirs):
            sizes[ours] = sec.number("num_attention_heads", positive=True, integer=True)
            continue
        sizes[ours] = sec.number(theirs, positive=True, integer=True)
    model_type = sec.raw("model_type", "")
    spec = ModelSpec(name=default_name, source=source, head_dim=_head_dim(sec, sizes),
                     tie_word_embeddings=sec.boolean("tie_word_embeddings", False),
                     qkv_bias=sec.boolean("attention_bias", model_type == "qwen2"), **sizes)
    return _check(spec, source)


def load_model(name_or_path: str) -> ModelSpec:
    """A bundled model by name (graphs/NAME.yaml), a graphs-format YAML path, or a Hugging Face config.json path."""
    path, label = resolve_file("graphs", name_or_path, (".yaml", ".yml"))
    data = read_mapping(path)
    if path.suffix == ".json":
        name = path.parent.name if path.stem == "config" else path.stem
        return parse_hf_config(data, label, name or "model")
    return parse_model(data, label, path.stem)
