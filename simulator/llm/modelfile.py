"""Reading model descriptions: graphs/NAME.yaml (our format, every number with its config.json source) or a
Hugging Face config.json.

A config.json names its family in `model_type`; each family modelled here is a dense decoder whose layers
differ from Llama's only in what ModelSpec records (transformers' modeling code of each family):
- llama, mistral: the reference layer (Mistral's sliding window, where set, is costed over the full context);
- qwen2: biases on q, k and v; qwen3: no biases, an RMSNorm on each query and key head (qk_norm), an explicit
  head_dim;
- gemma, gemma2, gemma3: tied embeddings and an explicit head_dim by default; gemma2 and gemma3 norm before
  and after both attention and the MLP (post_norms), gemma3 also each query and key head. A gemma3 checkpoint
  (the multimodal one) nests its text decoder under "text_config" (model_type gemma3_text), whose omitted
  sizes take transformers' Gemma3TextConfig defaults; a bare gemma3_text config (Gemma 3 1B) is read alike;
  only the text decoder is modelled;
- phi3: no biases, untied embeddings (Phi-3 fuses q/k/v and gate/up into one tensor each: the same arithmetic);
- gpt_neox: a non-gated GeLU MLP (gated_mlp false) and q/k/v biases.
Other families are refused in one line naming the file: mixtures of experts and state-space or hybrid
(recurrent, convolutional, linear-attention) layers by model_type and by the keys that betray them, GPT-2, and
any other model_type (the line lists the modelled ones). None is ever read as a dense Llama.

A `quantization_config` (GPTQ, AWQ, bitsandbytes) names the format the checkpoint stores its layers' matmuls
in (hw/dtypes.py CHECKPOINT_TYPES); it becomes the model's default weight format. A combination not modelled
(GPTQ 3-bit, AWQ without zero points, some layers left unquantized, an unknown quant_method) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.common.bundled import resolve_file
from simulator.common.config import Section, read_mapping
from simulator.hw.dtypes import GROUP_QUANT, WEIGHT_FORMATS, checkpoint_format, group_quant_format
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


@dataclass(frozen=True)
class _Family:
    """How one model_type's layers differ from Llama's, and its config class's defaults (transformers)."""

    architecture: str
    qkv_bias: bool | None = False     # None: read attention_bias (default false)
    tied: bool = False                # tie_word_embeddings when the config omits it
    qk_norm: bool = False
    post_norms: bool = False
    gated_mlp: bool = True
    defaults: dict = field(default_factory=dict)   # HF key -> value when omitted (the config class's default)


# transformers' Gemma3TextConfig defaults: the Gemma 3 4B config.json omits these keys from its text_config
_GEMMA3_TEXT_DEFAULTS = {"vocab_size": 262_208, "hidden_size": 2304, "intermediate_size": 9216,
                         "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256}

_FAMILIES = {
    "llama": _Family("llama", qkv_bias=None),
    "mistral": _Family("mistral"),
    "qwen2": _Family("qwen2", qkv_bias=True),
    "qwen3": _Family("qwen3", qkv_bias=None, qk_norm=True),
    "gemma": _Family("gemma", qkv_bias=None, tied=True),
    "gemma2": _Family("gemma2", qkv_bias=None, tied=True, post_norms=True),
    "gemma3_text": _Family("gemma3", qkv_bias=None, tied=True, qk_norm=True, post_norms=True,
                           defaults=_GEMMA3_TEXT_DEFAULTS),
    "phi3": _Family("phi3"),
    "gpt_neox": _Family("gpt_neox", qkv_bias=True, gated_mlp=False),
}
MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gemma3_text", "phi3", "gpt_neox")

# families refused by model_type (transformers' names); hybrids appear in both lists
_MIXTURES = ("mixtral", "qwen2_moe", "qwen3_moe", "qwen3_next", "deepseek_v2", "deepseek_v3", "dbrx", "olmoe", "phimoe",
             "granitemoe", "granitemoeshared", "granitemoehybrid", "jetmoe", "jamba", "llama4", "gpt_oss", "minimax",
             "glm4_moe", "ernie4_5_moe", "hunyuan_v1_moe", "switch_transformers", "nllb_moe")
_RECURRENT = ("mamba", "mamba2", "falcon_mamba", "jamba", "rwkv", "recurrent_gemma", "zamba", "zamba2", "bamba",
              "falcon_h1", "nemotron_h", "granitemoehybrid", "lfm2", "xlstm", "qwen3_next", "minimax")
_EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
_STATE_KEYS = ("ssm_cfg", "state_size", "ssm_state_size", "mamba_d_state", "mamba_d_conv", "mamba_expand",
               "hybrid_override_pattern", "block_types", "layers_block_type", "attn_layer_period")
_ATTENTION_LAYERS = ("full_attention", "sliding_attention")
_NOT_MODELLED = "not modelled (specsoc models dense decoders: " + ", ".join(MODEL_TYPES) + ")"

_FLOAT16 = {"float16": "fp16", "bfloat16": "bf16"}
_LAYER_MODULES = ("layers", "self_attn", "mlp", "q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj", "gate_proj",
                  "up_proj", "down_proj", "gate_up_proj")


def _head_dim(sec: Section, sizes: dict, default: int | None = None) -> int:
    """head_dim when given (or defaulted by the family), else hidden_size / num_heads, which must divide evenly."""
    given = sec.number("head_dim", default, positive=True, integer=True)
    if given is not None:
        return given
    if sizes["hidden_size"] % sizes["num_heads"]:
        raise sec.fail("head_dim", "missing, and hidden_size is not a multiple of the head count")
    return sizes["hidden_size"] // sizes["num_heads"]


def _check(spec: ModelSpec, source: str) -> ModelSpec:
    return spec.checked(source)


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


def _refuse_unmodelled(sec: Section, model_type: str) -> None:
    """Raise if a config describes layers that are not a dense transformer's: experts or state-space layers,
    named by model_type or betrayed by their keys (a config may borrow a dense family's model_type)."""
    has = [what for types, what in ((_MIXTURES, "a mixture of experts"),
                                    (_RECURRENT, "state-space or other recurrent layers")) if model_type in types]
    if has:
        raise sec.fail("model_type", f"{model_type!r} has {' and '.join(has)}: {_NOT_MODELLED}")
    for key in _EXPERT_KEYS:
        experts = sec.raw(key, None)
        if isinstance(experts, (int, float)) and not isinstance(experts, bool) and experts > 1:
            raise sec.fail(key, f"{experts} experts per layer, a mixture of experts: {_NOT_MODELLED}")
    for key in _STATE_KEYS:
        if sec.raw(key, None) is not None:
            raise sec.fail(key, f"describes state-space or hybrid layers: {_NOT_MODELLED}")
    layer_types = sec.raw("layer_types", None)
    if isinstance(layer_types, list):
        other = sorted({str(t) for t in layer_types} - set(_ATTENTION_LAYERS))
        if other:
            raise sec.fail("layer_types", f"has {', '.join(other)} layers, not attention: {_NOT_MODELLED}")


def _text_section(top: Section, model_type: str) -> tuple[Section, str]:
    """The section holding the decoder's sizes and its model_type: gemma3 nests it under text_config."""
    if model_type != "gemma3":
        return top, model_type
    text = top.section("text_config")
    inner = text.raw("model_type", "gemma3_text")
    if inner != "gemma3_text":
        raise text.fail("model_type", f"must be gemma3_text in a gemma3 config, got {inner!r}")
    _refuse_unmodelled(text, inner)
    return text, inner


def _float16(top: Section) -> str:
    """The 16-bit float a quantized checkpoint keeps its other tensors in: torch_dtype (newer transformers write
    `dtype`); float16 when absent, as transformers loads GPTQ, AWQ and bitsandbytes checkpoints."""
    key = "dtype" if top.has("dtype") and not top.has("torch_dtype") else "torch_dtype"
    value = top.raw(key, "float16")
    if not isinstance(value, str) or value not in _FLOAT16:
        raise top.fail(key, f"{value!r} with a quantization_config is not modelled (float16 or bfloat16)")
    return _FLOAT16[value]


def _quantized_format(top: Section) -> str | None:
    """The weight format a quantization_config names (one of hw/dtypes.py CHECKPOINT_TYPES), None without one."""
    if not top.has("quantization_config"):
        return None
    q = top.section("quantization_config")
    bnb = q.has("load_in_4bit") or q.has("load_in_8bit")
    method = q.raw("quant_method", "bitsandbytes" if bnb else ...)
    if not isinstance(method, str):
        raise q.fail("quant_method", f"must be a method's name, got {method!r}")
    for key in ("modules_to_not_convert", "llm_int8_skip_modules"):
        kept = q.raw(key, None) or []
        if not isinstance(kept, list):
            raise q.fail(key, f"must be a list of module names, got {kept!r}")
        layer = [m for m in kept if any(part in str(m).split(".") for part in _LAYER_MODULES)]
        if layer:
            raise q.fail(key, f"leaves decoder-layer modules unquantized ({layer[0]}): not modelled")
    float16 = _float16(top)
    if method in GROUP_QUANT:          # AutoAWQ's own configs say w_bit and q_group_size
        bits_key = "w_bit" if q.has("w_bit") and not q.has("bits") else "bits"
        group_key = "q_group_size" if q.has("q_group_size") and not q.has("group_size") else "group_size"
        bits, group = q.number(bits_key, integer=True), q.number(group_key, 128, integer=True)
        modelled_bits, modelled_groups = GROUP_QUANT[method]
        if bits not in modelled_bits:
            raise q.fail(bits_key, f"{method.upper()} {bits}-bit is not modelled "
                                   f"({' or '.join(map(str, modelled_bits))} bits)")
        if group not in modelled_groups:
            raise q.fail(group_key, f"{method.upper()} with group_size {group} is not modelled "
                                    f"({', '.join(map(str, modelled_groups))})")
        if method == "awq" and not q.boolean("zero_point", True):
            raise q.fail("zero_point", "AWQ without zero points is not modelled")
        return checkpoint_format(group_quant_format(method, bits, group), float16)
    if method == "bitsandbytes":
        if q.boolean("load_in_8bit", False):
            return checkpoint_format("bnb8", float16)
        if not q.boolean("load_in_4bit", False):
            raise q.fail("load_in_4bit", "bitsandbytes with neither load_in_4bit nor load_in_8bit set")
        q.string("bnb_4bit_quant_type", "fp4", choices=("nf4", "fp4"))
        return checkpoint_format("bnb4_dq" if q.boolean("bnb_4bit_use_double_quant", False) else "bnb4", float16)
    raise q.fail("quant_method", f"{method!r} is not modelled (modelled: {', '.join(GROUP_QUANT)}, bitsandbytes)")


def parse_hf_config(data: dict, source: str, default_name: str) -> ModelSpec:
    """A Hugging Face config.json of a modelled family (module docstring): only the keys we need are read;
    others are ignored (HF configs have many)."""
    top = Section(source, data)
    if not top.has("model_type"):
        raise top.fail("model_type", f"missing: a config.json names its family (modelled: {', '.join(MODEL_TYPES)})")
    model_type = top.raw("model_type")
    if not isinstance(model_type, str):
        raise top.fail("model_type", f"must be a family name, got {model_type!r}")
    if model_type == "gpt2":
        raise top.fail("model_type", f"GPT-2 (learned position embeddings, biases in every layer) is {_NOT_MODELLED}")
    _refuse_unmodelled(top, model_type)
    if model_type not in MODEL_TYPES:
        raise top.fail("model_type", f"{model_type!r} is {_NOT_MODELLED}")
    sec, family_type = _text_section(top, model_type)
    family = _FAMILIES[family_type]
    if sec.boolean("mlp_bias", False):
        raise sec.fail("mlp_bias", "MLP biases are not modelled")
    defaults = family.defaults
    sizes = {}
    for ours, theirs in _HF_KEYS.items():
        if ours == "num_kv_heads" and sec.raw(theirs, defaults.get(theirs)) is None:
            theirs = "num_attention_heads"     # no KV head count: full multi-head attention
        sizes[ours] = sec.number(theirs, defaults.get(theirs, ...), positive=True, integer=True)
    bias = family.qkv_bias if family.qkv_bias is not None else sec.boolean("attention_bias", False)
    spec = ModelSpec(name=default_name, source=source, head_dim=_head_dim(sec, sizes, defaults.get("head_dim")),
                     tie_word_embeddings=sec.boolean("tie_word_embeddings", family.tied), qkv_bias=bias,
                     gated_mlp=family.gated_mlp, architecture=family.architecture, qk_norm=family.qk_norm,
                     post_norms=family.post_norms, default_weights=_quantized_format(top), **sizes)
    return _check(spec, source)


def load_model(name_or_path: str) -> ModelSpec:
    """A bundled model by name (graphs/NAME.yaml), a graphs-format YAML path, a Hugging Face config.json path,
    or a GGUF file (its header only)."""
    path, label = resolve_file("graphs", name_or_path, (".yaml", ".yml"))
    if path.suffix.lower() == ".gguf" or _starts_with(path, b"GGUF"):   # GGUF's magic; its reader imported only
        from simulator.llm.gguf import parse_gguf                     # for one (start-up)
        return parse_gguf(path, label, path.stem)
    data = read_mapping(path)
    if path.suffix == ".json":
        name = path.parent.name if path.stem == "config" else path.stem
        return parse_hf_config(data, label, name or "model")
    return parse_model(data, label, path.stem)


def _starts_with(path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False
