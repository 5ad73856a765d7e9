"""Weight formats as llama.cpp stores them: which tensors keep a higher precision, and the bytes that follow."""

from __future__ import annotations

import pytest

from simulator.hw.dtypes import DTYPES
from simulator.hw.placement import Placement
from simulator.hw.socfile import load_soc
from simulator.llm.costs import Planner
from simulator.llm.formats import stored_bytes, weight_formats
from simulator.llm.graph import PassShape
from simulator.llm.model import Precision
from simulator.llm.modelfile import load_model


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
