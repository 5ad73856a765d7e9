"""Reading model descriptions: graphs/NAME.yaml (our format, every number with its config.json source) or a
Hugging Face config.json."""

from __future__ import annotations

from simulator.common.bundled import resolve_file
from simulator.common.config import Section, read_mapping
from simulator.common.errors import InputError
from simulator.hw.dtypes import WEIGHT_FORMATS
from simulator.llm.model import ModelSpec

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
                     qkv_bias=sec.boolean("qkv_bias", False), gated_mlp=sec.boolean("gated_mlp", True),
                     architecture=sec.string("architecture", "llama"), qk_norm=sec.boolean("qk_norm", False),
                     post_norms=sec.boolean("post_norms", False),
                     default_weights=sec.string("default_weights", None, choices=WEIGHT_FORMATS), **sizes)
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
