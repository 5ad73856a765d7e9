"""Weight formats as llama.cpp and quantized Hugging Face checkpoints store them: which tensors keep a higher
precision, and the bytes that follow."""

from __future__ import annotations

import pytest

from simulator.hw.dtypes import DTYPES
from simulator.hw.placement import Placement
from simulator.hw.socfile import load_soc
from simulator.llm.planner import Planner
from simulator.llm.formats import stored_bytes, weight_formats
from simulator.llm.graph import PassShape, pass_graph
from simulator.llm.model import Precision
from simulator.llm.modelfile import load_model
from tests.support import TINY


def test_q4_k_m_keeps_v_and_down_at_q6_k_in_the_layers_llama_cpp_picks():
    # use_more_bits over 28 layers, by hand: i < 3, i >= 24, and (i - 3) % 3 == 2 -> 5, 8, ..., 23
    wf = weight_formats(load_model("llama-3.2-3b"), "q4_k_m")
    picked = [i for i in range(28) if wf.layer(i)["down"] == "q6_k"]
    assert picked == [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27]
    assert all(wf.layer(i)["v_proj"] == ("q6_k" if i in picked else "q4_k") for i in range(28))
    assert all(wf.layer(i)[k] == "q4_k" for i in range(28) for k in ("q_proj", "k_proj", "o_proj", "gate", "up"))
    assert wf.embedding == wf.output == "q6_k"      # tied: the embedding is the output tensor


def test_llama_3_2_3b_q4_k_m_is_the_size_of_its_file():
    # reference/measurements.md: the Q4_K_M file is 2.02 GB (1.88 GiB); its header (tokenizer) is a few MB
    assert stored_bytes(load_model("llama-3.2-3b"), "q4_k_m") == pytest.approx(2.02e9, rel=0.01)


def test_q4_0_and_q8_0_files_keep_their_output_tensor_as_llama_cpp_does():
    tiny = load_model("tinyllama-1.1b")               # untied
    assert (weight_formats(tiny, "q4_0").output, weight_formats(tiny, "q4_0").embedding) == ("q6_k", "q4_0")
    assert weight_formats(tiny, "q8_0").output == "q8_0"
    assert weight_formats(tiny, "fp16").output == weight_formats(tiny, "fp16").embedding == "fp16"


def test_rows_that_are_not_a_multiple_of_256_fall_back():
    qwen = load_model("qwen2.5-0.5b")                  # hidden 896 = 3.5 x 256; intermediate 4864 = 19 x 256
    layer = weight_formats(qwen, "q4_k_m").layer(0)
    assert layer["q_proj"] == "q5_0" and layer["v_proj"] == "q8_0" and layer["down"] == "q6_k"


def test_a_decode_pass_reads_every_tensor_as_stored_but_the_embedding_table():
    model, soc = load_model("llama-3.2-3b"), load_soc("rpi5")
    planner = Planner(soc, "layer")
    read = planner.weight_bytes(model, Precision.resolve("q4_k_m"), PassShape(1, 10, True), Placement(soc.pu("a76"), (0,)))
    # tied: the LM head reads the whole embedding table, and the embedding gathers one more row of it
    row = model.hidden_size * DTYPES["q6_k"].bytes
    assert read == pytest.approx(stored_bytes(model, "q4_k_m") + row, rel=1e-12)


# ----------------------------------------------------------------- quantized Hugging Face checkpoints

@pytest.mark.parametrize("name, bits, compute", [
    ("gptq4_g128", 4 + 16 / 128 + 4 / 128, "fp16"),     # 4 bits + an fp16 scale and a 4-bit zero per 128: 4.15625
    ("awq4_g128", 4.15625, "fp16"),                     # the same layout
    ("gptq8_g32", 8 + 16 / 32 + 8 / 32, "fp16"),
    ("gptq4_perchannel", 4.0, "fp16"),                  # one scale and zero per row: taken as nothing
    ("bnb4", 4 + 32 / 64, "fp16"),                      # nf4/fp4 blocks of 64 with an fp32 absmax: 4.5
    ("bnb4_dq", 4 + 8 / 64 + 32 / (64 * 256), "fp16"),  # 8-bit absmax, an fp32 scale per 256 of them: 4.127
    ("bnb8", 8.0, "int8"),                              # LLM.int8, modelled as int8
    ("gptq4_g128_bf16", 4.15625, "fp32"),               # a bf16 checkpoint dequantizes to bf16: fp32 arithmetic here
    ("bnb8_bf16", 8.0, "int8"),
])
def test_checkpoint_formats_carry_their_scales_and_compute_after_dequantizing(name, bits, compute):
    assert (DTYPES[name].bits, DTYPES[name].compute) == (pytest.approx(bits, abs=1e-12), compute)
    assert (DTYPES["gptq4_g128"].bits, round(DTYPES["bnb4_dq"].bits, 3)) == (4.15625, 4.127)   # the figures quoted


def test_a_checkpoint_quantizes_the_layer_matmuls_only():
    model = load_model("llama-3.2-1b")
    for weights, rest in (("gptq4_g128", "fp16"), ("bnb4_dq_bf16", "bf16")):
        wf = weight_formats(model, weights)
        assert (wf.embedding, wf.output) == (rest, rest)
        assert all(f == weights for i in range(16) for f in wf.layer(i).values())
    # by hand: tied embedding 128256 x 2048 in fp16; 16 layers of 2048*2048*2 + 2*2048*512 + 3*2048*8192 matmul
    # weights at 4.15625 bits; norm gains (2 x 2048 per layer and the final 2048) in fp32
    matmuls = 2048 * 2048 * 2 + 2 * 2048 * 512 + 3 * 2048 * 8192
    expected = 128256 * 2048 * 2 + 16 * matmuls * 4.15625 / 8 + 4 * (16 * 2 * 2048 + 2048)
    assert stored_bytes(model, "gptq4_g128") == pytest.approx(expected, rel=1e-12)


def test_a_checkpoint_pass_multiplies_in_its_16_bit_float():
    g = pass_graph(TINY, Precision.resolve("awq4_g128"), PassShape(1, 0, True))
    (q,) = g.nodes["L0.q_proj"]["ops"]
    (head,) = g.nodes["lm_head"]["ops"]
    assert (q.dtype, q.weights, q.act_in) == ("fp16", 12 * 6 * 4.15625 / 8, 12 * 2)    # fp16 activations
    assert (head.dtype, head.weights) == ("fp16", 12 * 40 * 2)
    g = pass_graph(TINY, Precision.resolve("gptq4_g128_bf16"), PassShape(1, 0, True))
    (head,) = g.nodes["lm_head"]["ops"]
    assert (head.dtype, head.weights) == ("fp32", 12 * 40 * 2)      # bf16 in memory, computed as fp32
