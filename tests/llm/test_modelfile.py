"""Hugging Face config.json files of the modelled families: what each family's layers add, parameter counts
against published figures, quantization_config as the default weight format, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.common.errors import InputError
from simulator.llm.modelfile import MODEL_TYPES, load_model, parse_hf_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HF = FIXTURES / "hf"
LLAMA_1B = FIXTURES / "hf_llama_3.2_1b" / "config.json"


def fixture(name: str) -> Path:
    return LLAMA_1B if name == "llama-3.2-1b" else HF / name / "config.json"


def config(name: str) -> dict:
    return json.loads(fixture(name).read_text(encoding="utf-8"))


def parse(data: dict):
    return parse_hf_config(data, "x/config.json", "x")


# Published sizes (total, non-embedding), from the model card or the Hugging Face page's safetensors count, never
# from this code. Non-embedding counts exclude the embedding and an untied LM head.
PUBLISHED = {
    "llama-3.2-1b": (1.24e9, None),        # model card / HF page: 1.24B
    "llama-3.2-3b": (3.21e9, None),        # model card: 3.21B
    "qwen2.5-0.5b": (0.49e9, 0.36e9),      # model card: 0.49B, non-embedding 0.36B
    "qwen2.5-1.5b": (1.54e9, 1.31e9),      # model card: 1.54B, non-embedding 1.31B
    "qwen3-0.6b": (0.6e9, 0.44e9),         # model card: 0.6B, non-embedding 0.44B
    "gemma-2b": (2.51e9, None),            # HF page: 2.51B
    "gemma-2-2b": (2.61e9, None),          # HF page: 2.61B (2,614,341,888)
    "gemma-3-1b-it": (1.0e9, 698e6),       # Gemma 3 technical report, Table 1: 302M embedding + 698M non-embedding
    "gemma-3-4b-it": (None, 3209e6),       # Table 1: 675M embedding, 3,209M non-embedding (+417M vision, not modelled)
    "phi-3-mini-4k-instruct": (3.82e9, None),   # HF page: 3.82B
    "pythia-160m": (162_322_944, 85_056_000),   # Pythia paper, Table: total and non-embedding
}


def _non_embedding(model) -> int:
    return model.parameters() - model.vocab_size * model.hidden_size * (1 if model.tie_word_embeddings else 2)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_are_within_one_percent_of_the_published_figures(name):
    model = load_model(str(fixture(name)))
    total, non_embedding = PUBLISHED[name]
    if total is not None:
        assert model.parameters() == pytest.approx(total, rel=0.01)
    if non_embedding is not None:
        assert _non_embedding(model) == pytest.approx(non_embedding, rel=0.01)


def test_gemma_3_4b_embedding_is_the_published_size():
    model = load_model(str(fixture("gemma-3-4b-it")))
    assert model.vocab_size * model.hidden_size == pytest.approx(675e6, rel=0.01)    # Table 1: 675M


# (architecture, qkv_bias, qk_norm, post_norms, tied, head_dim, gated_mlp), from each family's modeling code
FAMILIES = {
    "llama-3.2-3b": ("llama", False, False, False, True, 128, True),
    "qwen2.5-0.5b": ("qwen2", True, False, False, True, 64, True),      # Qwen2 always has q/k/v biases
    "qwen3-0.6b": ("qwen3", False, True, False, True, 128, True),       # head_dim 128, not 1024 / 16
    "gemma-2b": ("gemma", False, False, False, True, 256, True),        # tied although the file does not say so
    "gemma-2-2b": ("gemma2", False, False, True, True, 256, True),
    "gemma-3-1b-it": ("gemma3", False, True, True, True, 256, True),
    "gemma-3-4b-it": ("gemma3", False, True, True, True, 256, True),
    "phi-3-mini-4k-instruct": ("phi3", False, False, False, False, 96, True),
    "pythia-160m": ("gpt_neox", True, False, False, False, 64, False),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_sets_what_its_layers_add(name):
    m = load_model(str(fixture(name)))
    assert (m.architecture, m.qkv_bias, m.qk_norm, m.post_norms, m.tie_word_embeddings, m.head_dim,
            m.gated_mlp) == FAMILIES[name]
    assert m.default_weights is None                 # not quantized: no preference


def test_gemma_3_reads_its_text_config_and_transformers_defaults():
    m = load_model(str(fixture("gemma-3-4b-it")))
    # given in text_config: hidden, intermediate, layers; the rest are Gemma3TextConfig's defaults
    assert (m.hidden_size, m.intermediate_size, m.num_layers) == (2560, 10240, 34)
    assert (m.num_heads, m.num_kv_heads, m.head_dim, m.vocab_size) == (8, 4, 256, 262208)
    assert m.name == "gemma-3-4b-it"


def test_mistral_is_the_llama_layer_and_differs_only_in_name():
    data = {**config("llama-3.2-1b"), "model_type": "mistral", "architectures": ["MistralForCausalLM"]}
    mistral, llama = parse(data), load_model(str(LLAMA_1B))
    assert mistral.architecture == "mistral"
    assert mistral.parameters() == llama.parameters() and mistral.qkv_bias is False


def test_bundled_graphs_and_configs_agree():
    for bundled, name in (("qwen2.5-0.5b", "qwen2.5-0.5b"), ("qwen2.5-1.5b", "qwen2.5-1.5b"),
                          ("llama-3.2-3b", "llama-3.2-3b"), ("phi-3-mini-4k", "phi-3-mini-4k-instruct")):
        a, b = load_model(bundled), load_model(str(fixture(name)))
        assert a.parameters() == b.parameters() and a.architecture == b.architecture, bundled


# ----------------------------------------------------------------------------------- quantization_config

def _quantized(base: str, qc: dict, dtype: str | None = "float16") -> dict:
    """The `base` fixture quantized as `qc`, its torch_dtype set to `dtype` (None: absent, float16 is taken)."""
    data = {**config(base), "quantization_config": qc, "torch_dtype": dtype}
    if dtype is None:
        del data["torch_dtype"]
    return data


def test_public_gptq_and_awq_checkpoints_name_their_format():
    gptq = load_model(str(fixture("qwen2.5-0.5b-instruct-gptq-int4")))
    awq = load_model(str(fixture("qwen2.5-0.5b-instruct-awq")))
    base = load_model(str(fixture("qwen2.5-0.5b")))
    assert (gptq.default_weights, awq.default_weights) == ("gptq4_g128", "awq4_g128")
    assert gptq.parameters() == awq.parameters() == base.parameters()


@pytest.mark.parametrize("qc, dtype, expected", [
    ({"quant_method": "gptq", "bits": 8, "group_size": 32}, "float16", "gptq8_g32"),
    ({"quant_method": "gptq", "bits": 4, "group_size": -1, "desc_act": True}, "float16", "gptq4_perchannel"),
    ({"quant_method": "gptq", "bits": 4, "group_size": 128}, "bfloat16", "gptq4_g128_bf16"),
    ({"quant_method": "awq", "w_bit": 4, "q_group_size": 64, "zero_point": True, "version": "GEMM"}, None, "awq4_g64"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": False, "bnb_4bit_quant_type": "nf4",
      "bnb_4bit_use_double_quant": True, "bnb_4bit_compute_dtype": "bfloat16", "llm_int8_skip_modules": None},
     "bfloat16", "bnb4_dq_bf16"),
    ({"load_in_4bit": True, "bnb_4bit_quant_type": "fp4"}, "float16", "bnb4"),        # before quant_method existed
    ({"quant_method": "bitsandbytes", "load_in_8bit": True, "llm_int8_skip_modules": ["lm_head"]}, "float16", "bnb8"),
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "modules_to_not_convert": ["visual"]}, "float16",
     "awq4_g128"),
])
def test_quantization_config_sets_the_default_weight_format(qc, dtype, expected):
    assert parse(_quantized("llama-3.2-1b", qc, dtype)).default_weights == expected


REFUSED_QUANT = {
    "gptq_3_bit": ({"quant_method": "gptq", "bits": 3, "group_size": 128}, "quantization_config.bits"),
    "awq_group_256": ({"quant_method": "awq", "bits": 4, "group_size": 256}, "quantization_config.group_size"),
    "awq_no_zero": ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": False},
                    "quantization_config.zero_point"),
    "unknown_method": ({"quant_method": "hqq", "nbits": 4}, "quantization_config.quant_method"),
    "fp8": ({"quant_method": "fp8", "activation_scheme": "dynamic"}, "quantization_config.quant_method"),
    "bnb_neither": ({"quant_method": "bitsandbytes", "load_in_4bit": False, "load_in_8bit": False},
                    "quantization_config.load_in_4bit"),
    "bnb_unknown_type": ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "int4"},
                         "quantization_config.bnb_4bit_quant_type"),
    "layers_kept": ({"quant_method": "bitsandbytes", "load_in_4bit": True,
                     "llm_int8_skip_modules": ["lm_head", "model.layers.0.mlp"]},
                    "quantization_config.llm_int8_skip_modules"),
    "no_method": ({"bits": 4}, "quantization_config.quant_method"),
    "not_a_mapping": ("gptq", "quantization_config"),
}


@pytest.mark.parametrize("case", list(REFUSED_QUANT))
def test_a_quantization_not_modelled_is_refused_naming_the_key(case):
    qc, key = REFUSED_QUANT[case]
    with pytest.raises(InputError) as err:
        parse(_quantized("llama-3.2-1b", qc))
    assert err.value.key == key and err.value.source == "x/config.json"


def test_a_quantized_checkpoint_in_float32_is_refused():
    with pytest.raises(InputError, match="torch_dtype"):
        parse(_quantized("llama-3.2-1b", {"quant_method": "gptq", "bits": 4, "group_size": 128}, "float32"))


# ----------------------------------------------------------------------------------------------- refusals

REFUSED = {  # what is changed in the Llama 3.2 1B config -> the key named, a word of the reason
    "mixtral": ({"model_type": "mixtral", "num_local_experts": 8, "num_experts_per_tok": 2}, "model_type", "experts"),
    "qwen3_moe": ({"model_type": "qwen3_moe", "num_experts": 128}, "model_type", "experts"),
    "deepseek_v3": ({"model_type": "deepseek_v3", "n_routed_experts": 256}, "model_type", "experts"),
    "experts_in_a_llama": ({"num_local_experts": 8}, "num_local_experts", "experts"),
    "routed_experts_in_a_llama": ({"n_routed_experts": 64}, "n_routed_experts", "experts"),
    "mamba": ({"model_type": "mamba", "state_size": 16}, "model_type", "state-space"),
    "jamba": ({"model_type": "jamba", "num_experts": 16}, "model_type", "experts and state-space"),
    "rwkv": ({"model_type": "rwkv"}, "model_type", "state-space"),
    "recurrent_gemma": ({"model_type": "recurrent_gemma", "block_types": ["recurrent", "recurrent", "attention"]},
                        "model_type", "state-space"),
    "ssm_keys_in_a_llama": ({"ssm_cfg": {"d_state": 16}}, "ssm_cfg", "state-space"),
    "state_size_in_a_llama": ({"state_size": 16}, "state_size", "state-space"),
    "conv_layers": ({"layer_types": ["full_attention", "conv"]}, "layer_types", "conv"),
    "gpt2": ({"model_type": "gpt2", "n_embd": 768}, "model_type", "GPT-2"),
    "unknown": ({"model_type": "falcon"}, "model_type", "gemma3"),
    "mlp_bias": ({"mlp_bias": True}, "mlp_bias", "MLP biases"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_what_is_not_a_modelled_dense_decoder_is_refused(case):
    changes, key, word = REFUSED[case]
    with pytest.raises(InputError) as err:
        parse({**config("llama-3.2-1b"), **changes})
    assert err.value.key == key and word in err.value.problem


def test_the_unknown_model_type_line_lists_every_modelled_family():
    with pytest.raises(InputError) as err:
        parse({**config("llama-3.2-1b"), "model_type": "falcon"})
    assert all(t in err.value.problem for t in MODEL_TYPES)
    without = {k: v for k, v in config("llama-3.2-1b").items() if k != "model_type"}
    with pytest.raises(InputError, match="missing"):
        parse(without)


def test_sliding_attention_layers_are_attention_and_read():
    data = {**config("llama-3.2-1b"), "layer_types": ["sliding_attention", "full_attention"] * 8}
    assert parse(data).num_layers == 16


def test_a_gemma3_config_with_another_text_model_is_refused():
    data = config("gemma-3-4b-it")
    data["text_config"] = {**data["text_config"], "model_type": "llama"}
    with pytest.raises(InputError) as err:
        parse(data)
    assert err.value.key == "text_config.model_type"
    data["text_config"] = {**data["text_config"], "model_type": "gemma3_text", "num_experts": 8}
    with pytest.raises(InputError) as err:
        parse(data)
    assert err.value.key == "text_config.num_experts"


@pytest.mark.parametrize("changes, key", [
    ({"quantization_config": {"quant_method": ["gptq"]}}, "quantization_config.quant_method"),
    ({"quantization_config": {"quant_method": "gptq", "bits": 4}, "torch_dtype": ["float16"]}, "torch_dtype"),
    ({"model_type": ["llama"]}, "model_type"),
    ({"model_type": "gemma3", "text_config": [1]}, "text_config"),
])
def test_values_of_the_wrong_kind_are_input_errors(changes, key):
    with pytest.raises(InputError) as err:
        parse({**config("llama-3.2-1b"), **changes})
    assert err.value.key == key
