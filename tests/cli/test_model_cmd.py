"""`specsoc model`: what will be simulated, checked against the costs the simulator uses."""

from __future__ import annotations

import json

import pytest

from simulator.cli.main import main
from simulator.hw.placement import Placement
from simulator.hw.socfile import load_soc
from simulator.llm.planner import Planner
from simulator.llm.graph import PassShape
from simulator.llm.model import Precision
from simulator.llm.modelfile import load_model


@pytest.mark.parametrize("name,dtype", [("llama-3.2-3b", "q4_k_m"), ("tinyllama-1.1b", "q8_0"), ("qwen2.5-0.5b", "int8")])
def test_bytes_per_token_are_what_a_decode_pass_reads(tmp_path, capsys, name, dtype):
    out = tmp_path / "m.json"
    assert main(["model", name, "--dtype", dtype, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    soc = load_soc("rpi5")
    read = Planner(soc, "layer").weight_bytes(load_model(name), Precision.resolve(dtype), PassShape(1, 0, True),
                                              Placement(soc.pu("a76"), (0,)))
    assert doc["bytes_per_decoded_token"] == pytest.approx(read, rel=1e-12)
    assert doc["parameters"] == load_model(name).parameters()
    assert sum(r["parameters"] for r in doc["by_format"].values()) + (0 if doc["model"]["tie_word_embeddings"] else 0) \
        <= doc["parameters"]
    assert len(doc["layers"]) == doc["model"]["num_layers"]


def test_llama_3_2_3b_q4_k_m_matches_its_public_file_size(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["model", "llama-3.2-3b", "--dtype", "q4_k_m", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["stored_bytes"] == pytest.approx(2.02e9, rel=0.01)   # measurements.md


def test_a_bad_model_is_one_line(tmp_path, capsys):
    assert main(["model", str(tmp_path / "none.gguf")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("key,value", [("num_hidden_layers", 10**9), ("vocab_size", 1e30), ("hidden_size", 2**40)])
def test_sizes_no_model_has_are_refused_at_once(tmp_path, capsys, key, value):
    config = {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
              "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, key: value}
    path = tmp_path / "m" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(config))
    assert main(["model", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is outside 1.." in err
