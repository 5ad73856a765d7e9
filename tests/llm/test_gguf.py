"""GGUF model files: shapes and every tensor's format from the header alone (files written with the gguf package,
expected sizes read back with gguf's own reader, independently of specsoc's)."""

from __future__ import annotations

import struct

import pytest

gguf = pytest.importorskip("gguf")
import numpy as np  # noqa: E402
from gguf import GGML_QUANT_SIZES  # noqa: E402
from gguf import GGMLQuantizationType as Q

from simulator.cli.main import main  # noqa: E402
from simulator.hw.placement import Placement  # noqa: E402
from simulator.hw.socfile import load_soc  # noqa: E402
from simulator.llm.planner import Planner  # noqa: E402
from simulator.llm.formats import stored_bytes  # noqa: E402
from simulator.llm.graph import PassShape  # noqa: E402
from simulator.llm.model import Precision  # noqa: E402
from simulator.llm.modelfile import load_model  # noqa: E402

D, F, H, KV, HD, V, L = 256, 512, 4, 2, 64, 512, 2


def write_gguf(path, arch="llama", tied=False, extra_meta=(), layer_types=None, fused=False, norms=False,
               extra=(), drop=(), kv_heads=KV, name=None):
    """A tiny model whose layers store their tensors in different formats (the k-quants need rows of 256);
    `extra` tensors (name, rows, cols, type) added, `drop` ones left out."""
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(L)
    w.add_embedding_length(D)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(kv_heads)
    w.add_file_type(15)
    if name is not None:
        w.add_name(name)
    for key, value in extra_meta:
        w.add_uint32(key, value)

    def tensor(name, rows, cols, q):
        if name in drop:
            return
        if q == Q.F32:
            w.add_tensor(name, np.zeros((rows, cols), dtype=np.float32))
        else:
            block, size = GGML_QUANT_SIZES[q]
            w.add_tensor(name, np.zeros((rows, cols // block * size), dtype=np.uint8), raw_dtype=q)

    types = layer_types or [
        {"attn_q": Q.Q4_K, "attn_k": Q.Q4_K, "attn_v": Q.Q6_K, "attn_output": Q.Q4_K, "ffn_gate": Q.Q4_K,
         "ffn_up": Q.IQ4_XS, "ffn_down": Q.Q6_K},
        {"attn_q": Q.Q4_K, "attn_k": Q.Q5_1, "attn_v": Q.Q5_0, "attn_output": Q.Q4_K, "ffn_gate": Q.Q4_0,
         "ffn_up": Q.IQ4_XS, "ffn_down": Q.Q8_0}]
    shapes = {"attn_q": (H * HD, D), "attn_k": (KV * HD, D), "attn_v": (KV * HD, D), "attn_output": (D, H * HD),
              "ffn_gate": (F, D), "ffn_up": (F, D), "ffn_down": (D, F)}
    if fused:           # Phi-3 stores q, k, v as one tensor and gate, up as another
        shapes = {"attn_qkv": ((H + 2 * KV) * HD, D), "attn_output": (D, H * HD), "ffn_up": (2 * F, D),
                  "ffn_down": (D, F)}
        types = [{"attn_qkv": Q.Q5_K, "attn_output": Q.Q4_K, "ffn_up": Q.Q4_K, "ffn_down": Q.Q6_K}] * L
    tensor("token_embd.weight", V, D, Q.Q8_0)
    for i in range(L):
        tensor(f"blk.{i}.attn_norm.weight", 1, D, Q.F32)
        tensor(f"blk.{i}.ffn_norm.weight", 1, D, Q.F32)
        if norms:       # Qwen3's q/k norms (one gain per head dimension), Gemma 2's post norms
            tensor(f"blk.{i}.attn_q_norm.weight", 1, HD, Q.F32)
            tensor(f"blk.{i}.attn_k_norm.weight", 1, HD, Q.F32)
            tensor(f"blk.{i}.post_attention_norm.weight", 1, D, Q.F32)
            tensor(f"blk.{i}.post_ffw_norm.weight", 1, D, Q.F32)
        for name, (rows, cols) in shapes.items():
            tensor(f"blk.{i}.{name}.weight", rows, cols, types[i][name])
    tensor("output_norm.weight", 1, D, Q.F32)
    if not tied:
        tensor("output.weight", V, D, Q.Q6_K)
    for args in extra:
        tensor(*args)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_the_shapes_and_formats_come_from_the_header(tmp_path):
    model = load_model(str(write_gguf(tmp_path / "m.gguf")))
    assert (model.hidden_size, model.intermediate_size, model.num_layers, model.num_heads, model.num_kv_heads,
            model.head_dim, model.vocab_size, model.tie_word_embeddings) == (D, F, L, H, KV, HD, V, False)
    assert model.default_weights == "q4_k_m" and model.stored.embedding == "q8_0" and model.stored.output == "q6_k"
    assert model.stored.layer(1) == {"q_proj": "q4_k", "k_proj": "q5_1", "v_proj": "q5_0", "o_proj": "q4_k",
                                     "gate": "q4_0", "up": "iq4_xs", "down": "q8_0"}


@pytest.mark.parametrize("arch,tied,fused,norms", [("llama", False, False, False), ("llama", True, False, False),
                                                   ("phi3", False, True, False), ("gemma3", True, False, True)])
def test_bytes_per_token_are_the_files_own_tensors(tmp_path, arch, tied, fused, norms):
    path = write_gguf(tmp_path / "m.gguf", arch=arch, tied=tied, fused=fused, norms=norms)
    reader = gguf.GGUFReader(str(path))
    sizes = {t.name: int(t.n_bytes) for t in reader.tensors}
    embed_row = sizes["token_embd.weight"] / V
    # a decode pass reads every tensor but the embedding table, of which it gathers one row; a tied model's LM
    # head reads the whole table
    expected = sum(sizes.values()) - sizes["token_embd.weight"] + embed_row + (sizes["token_embd.weight"] if tied else 0)
    model = load_model(str(path))
    soc = load_soc("rpi5")
    for granularity in ("op", "layer"):
        got = Planner(soc, granularity).weight_bytes(model, Precision.resolve(model.default_weights),
                                                     PassShape(1, 7, True), Placement(soc.pu("a76"), (0,)))
        assert got == pytest.approx(expected, rel=1e-12)
    assert stored_bytes(model, model.default_weights) == pytest.approx(sum(sizes.values()), rel=1e-12)


def test_reading_never_touches_the_tensor_data(tmp_path):
    path = write_gguf(tmp_path / "m.gguf")
    whole = load_model(str(path))
    offset = gguf.GGUFReader(str(path)).data_offset
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(path.read_bytes()[:offset])           # the header, and not one byte of data
    assert load_model(str(cut)).stored == whole.stored
    short = tmp_path / "short.gguf"
    short.write_bytes(path.read_bytes()[:offset // 2])    # the header itself cut: refused
    with pytest.raises(Exception, match="ends early"):
        load_model(str(short))


def _refused(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def test_unknown_architectures_experts_and_formats_are_refused(tmp_path, capsys):
    run = ["run", "--draft", "none", "--kv-cache", "--samples", "1", "--new-tokens", "2", "--target"]
    _refused(capsys, run + [str(write_gguf(tmp_path / "a.gguf", arch="bert"))], "a.gguf", "'bert' is not modelled")
    _refused(capsys, run + [str(write_gguf(tmp_path / "m.gguf", arch="mamba"))], "m.gguf", "state-space")
    _refused(capsys, run + [str(write_gguf(tmp_path / "e.gguf", extra_meta=[("llama.expert_count", 8)]))],
             "e.gguf", "mixture of experts")
    # a tensor whose ggml type no one knows: patch the type of the first layer's q projection in the header
    path = write_gguf(tmp_path / "t.gguf")
    data = bytearray(path.read_bytes())
    name = b"blk.0.attn_q.weight"
    at = data.index(name) + len(name)
    n_dims = struct.unpack_from("<I", data, at)[0]
    struct.pack_into("<I", data, at + 4 + 8 * n_dims, 99)
    path.write_bytes(bytes(data))
    _refused(capsys, run + [str(path)], "t.gguf", "ggml type 99")
    bad = tmp_path / "v.gguf"
    bad.write_bytes(b"GGUF" + struct.pack("<I", 1) + b"\0" * 16)
    _refused(capsys, run + [str(bad)], "version 1")


def test_a_gguf_model_runs_in_its_own_formats_only(tmp_path, capsys):
    path = str(write_gguf(tmp_path / "m.gguf"))
    base = ["run", "--soc", "rpi5", "--draft", "none", "--kv-cache", "--samples", "1", "--new-tokens", "4",
            "--target", path, "--target-device", "cpu:4"]
    assert main(base + ["--json", str(tmp_path / "r.json")]) == 0
    capsys.readouterr()
    _refused(capsys, base + ["--target-dtype", "q8_0"], "--target-dtype", "stores its weights as q4_k_m")


from hypothesis import given, settings, strategies as st  # noqa: E402

from simulator.common.errors import InputError  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=400), version=st.sampled_from([2, 3, 1, 7]),
       counts=st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)))
def test_any_bytes_after_the_magic_are_refused_in_one_line_or_read(tmp_path_factory, body, version, counts):
    path = tmp_path_factory.mktemp("fuzz") / "f.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", version, *counts) + body)
    try:
        load_model(str(path))
    except InputError as err:
        assert "\n" not in str(err)


def test_a_header_claiming_huge_arrays_is_refused_at_once(tmp_path):
    # one metadata entry: an array of 40 M strings, in a file of a few bytes
    key = b"tokenizer.ggml.tokens"
    data = (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key
            + struct.pack("<II", 9, 8) + struct.pack("<Q", 40_000_000))
    path = tmp_path / "huge.gguf"
    path.write_bytes(data)
    with pytest.raises(InputError, match="ends early"):
        load_model(str(path))


@pytest.mark.parametrize("options,words", [
    ({"kv_heads": 3}, ["num_kv_heads", "must divide"]),
    ({"drop": ["blk.1.ffn_gate.weight"]}, ["layer 1 lacks ffn_gate"]),
    ({"extra": [("blk.5.attn_q.weight", H * HD, D, Q.Q4_K)]}, ["layer 5", "block_count is 2"]),
    ({"extra": [("blk.0.weird.weight", 64, 256, Q.F32)]}, ["blk.0.weird.weight", "not one specsoc models"]),
    ({"extra_meta": [("llama.attention.key_length", 7)]}, ["blk.0.attn_q.weight has shape"]),
    ({"extra_meta": [("llama.vocab_size", 0)], "drop": ["token_embd.weight"]}, ["no token_embd.weight"]),
])
def test_a_header_that_contradicts_itself_is_refused(tmp_path, options, words):
    with pytest.raises(InputError) as err:
        load_model(str(write_gguf(tmp_path / "m.gguf", **options)))
    for word in words:
        assert word in str(err.value)


def test_a_models_name_cannot_carry_terminal_escapes(tmp_path):
    model = load_model(str(write_gguf(tmp_path / "m.gguf", name="evil\x1b[2J\nname")))
    assert model.name == "evil[2Jname"
