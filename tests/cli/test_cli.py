"""The `specsoc` command, called in-process through simulator.cli.main.

Bad input (files or flags) must give exit status 2, exactly one line on stderr naming the file or flag and the
problem, no traceback and no output file. Good input gives a deterministic JSON document with the promised schema.
Tests marked xfail(strict=True) document known bugs: they start failing ("XPASS(strict)") once the bug is
fixed, and the marker should then be removed.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import simulator
from simulator.cli.main import main
from simulator.llm.modelfile import load_model

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
HF_LLAMA_1B = FIXTURES / "hf_llama_3.2_1b" / "config.json"
HF = FIXTURES / "hf"                      # public config.json files of other families (tests/llm/test_modelfile.py)
IMX95 = ROOT / "socs" / "imx95.yaml"
LLAMA_1B = ROOT / "graphs" / "llama-3.2-1b.yaml"

# A fast run: the smallest bundled model decoding alone, two tokens, the whole model as one task.
FAST = ["--target", "qwen2.5-0.5b", "--draft", "none", "--new-tokens", "2", "--granularity", "model"]


# --------------------------------------------------------------------------------------------------- helpers

def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one in-process call; argparse's SystemExit is turned into its code."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_input_error(code: int, out: str, err: str, names: str | Path | None = None, needles=()) -> str:
    """Exit 2, exactly one non-empty stderr line, no traceback anywhere, nothing on stdout.

    `names` (a path or a flag) must appear in the line; each needle must appear in the rest of the line (the line
    with `names` removed, so a needle cannot be matched by accident inside a tmp_path). A needle that is a tuple
    is satisfied by any one of its members. Returns the line.
    """
    assert "Traceback" not in err and "Traceback" not in out, err
    assert code == 2, f"exit code {code!r}, stderr {err!r}"
    lines = err.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}: {err!r}"
    line = lines[0]
    assert line.strip(), "the stderr line is blank"
    assert out == "", f"nothing should reach stdout on bad input, got {out!r}"
    rest = line
    if names is not None:
        assert str(names) in line, f"{str(names)!r} not named in {line!r}"
        rest = line.replace(str(names), "")
    for needle in needles:
        options = needle if isinstance(needle, tuple) else (needle,)
        assert any(o in rest for o in options), f"none of {options!r} in {line!r}"
    return line


def imx95() -> dict:
    return yaml.safe_load(IMX95.read_text(encoding="utf-8"))


def llama_1b() -> dict:
    return yaml.safe_load(LLAMA_1B.read_text(encoding="utf-8"))


def hf_llama_1b() -> dict:
    return json.loads(HF_LLAMA_1B.read_text(encoding="utf-8"))


def dump_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def stray_files(directory: Path, name: str) -> list[str]:
    """Temp files a non-atomic or interrupted writer of `name` could leave behind."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(f".{name}."))


# ------------------------------------------------------------------------------------- 1. bad SoC files

def _rename_key(d: dict, old: str, new: str) -> None:
    d[new] = d.pop(old)


def _soc_text(mutate):
    def build():
        d = imx95()
        mutate(d)
        return d
    return build


BAD_SOCS = {
    # id: (builder returning raw text or a mapping to dump, needles in the error line)
    "malformed_yaml": (lambda: "name: imx95\ncpu_clusters: [\n  {name: a55, cores: 6}\ndram: {}\n",
                       [re.compile(r"line \d+")]),
    "unknown_key_added": (_soc_text(lambda d: d["cpu_clusters"][0].update(bandwidth_cluster_gbs=17.92)),
                          ["cpu_clusters[0].bandwidth_cluster_gbs", "unknown"]),
    # A real typo: the correct key is gone. Naming either the typo or the key it replaced is acceptable.
    "unknown_key_typo": (_soc_text(lambda d: _rename_key(d["cpu_clusters"][0], "bandwidth_cluster_gb_s",
                                                         "bandwidth_cluster_gbs")),
                         [("cpu_clusters[0].bandwidth_cluster_gbs", "cpu_clusters[0].bandwidth_cluster_gb_s")]),
    "unknown_top_level_key": (_soc_text(lambda d: d.update(dram_gb=8)), ["dram_gb", "unknown"]),
    "negative_cores": (_soc_text(lambda d: d["cpu_clusters"][0].update(cores=-2)),
                       ["cpu_clusters[0].cores", "-2"]),
    "fractional_cores": (_soc_text(lambda d: d["cpu_clusters"][0].update(cores=2.5)),
                         ["cpu_clusters[0].cores", "2.5"]),
    "wrong_type_clock": (_soc_text(lambda d: d["cpu_clusters"][0].update(clock_ghz="fast")),
                         ["cpu_clusters[0].clock_ghz", "fast"]),
    "bool_is_not_a_number": (_soc_text(lambda d: d["gpus"][0].update(shader_cores=True)),
                             ["gpus[0].shader_cores"]),
    "infinite_bandwidth": (_soc_text(lambda d: d["dram"].update(peak_bandwidth_gb_s=float("inf"))),
                           ["dram.peak_bandwidth_gb_s"]),
    "missing_dram": (_soc_text(lambda d: d.pop("dram")), ["dram", "missing"]),
    "missing_cpu_key": (_soc_text(lambda d: d["cpu_clusters"][0].pop("clock_ghz")),
                        ["cpu_clusters[0].clock_ghz", "missing"]),
    "efficiency_above_one": (_soc_text(lambda d: d["cpu_clusters"][0]["efficiency"].update(matmul=1.5)),
                             ["cpu_clusters[0].efficiency.matmul", "1.5"]),
    "unknown_op_class": (_soc_text(lambda d: d["cpu_clusters"][0]["efficiency"].update(softmax=0.3)),
                         ["cpu_clusters[0].efficiency.softmax"]),
    "achievable_fraction_above_one": (_soc_text(lambda d: d["dram"].update(achievable_fraction=1.2)),
                                      ["dram.achievable_fraction"]),
    "promote_to_unknown_dtype": (_soc_text(lambda d: d["gpus"][0].update(promote={"int8": "bf16"})),
                                 ["gpus[0].promote.int8"]),
    # fp16 is a real dtype, but this GPU has no rate for it: promoting int8 to it is an error.
    "promote_to_dtype_without_rate": (_soc_text(lambda d: d["gpus"][0].update(flop_per_cycle={"fp32": 32},
                                                                              promote={"int8": "fp16"})),
                                      ["gpus[0].promote.int8"]),
    "dtype_without_rate_or_promotion": (_soc_text(lambda d: d["gpus"][0].pop("promote")),
                                        ["gpus[0].flop_per_cycle", "int8"]),
    "no_copy_bandwidth_without_shared_memory": (_soc_text(lambda d: d["interconnect"].update(shared_memory=False)),
                                                ["interconnect.copy_bandwidth_gb_s"]),
    "host_is_gpu": (_soc_text(lambda d: d.update(host="mali-g310")), ["host", "mali-g310"]),
    "duplicate_pu_names": (_soc_text(lambda d: d["gpus"][0].update(name="a55")), ["a55"]),
    "no_cpu_cluster": (_soc_text(lambda d: d.update(cpu_clusters=[])), ["cpu_clusters"]),
    "cluster_not_a_mapping": (_soc_text(lambda d: d.update(cpu_clusters=["a55"])), ["cpu_clusters[0]"]),
    "top_level_list": (lambda: "- imx95\n- rk3588\n", ["mapping"]),
    "empty_file": (lambda: "", ["mapping"]),
}


@pytest.mark.parametrize("case", list(BAD_SOCS), ids=list(BAD_SOCS))
def test_bad_soc_file(case, tmp_path, capsys):
    build, needles = BAD_SOCS[case]
    content = build()
    path = tmp_path / "soc.yaml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        dump_yaml(path, content)
    code, out, err = run_cli(["run", "--soc", str(path), *FAST], capsys)
    line = assert_input_error(code, out, err, path,
                              [n for n in needles if not isinstance(n, re.Pattern)])
    for pattern in (n for n in needles if isinstance(n, re.Pattern)):
        assert pattern.search(line.replace(str(path), "")), f"{pattern.pattern!r} not in {line!r}"


def test_mutated_soc_baseline_is_valid(tmp_path, capsys):
    """Control for the cases above: imx95 dumped unchanged through the same path loads and runs."""
    path = dump_yaml(tmp_path / "soc.yaml", imx95())
    code, out, err = run_cli(["run", "--soc", str(path), *FAST], capsys)
    assert code == 0, err
    assert err == ""


# ----------------------------------------------------------------------------------- 2. bad model files

BAD_GRAPHS = {
    "negative_num_layers": (lambda d: d.update(num_layers=-3), ["num_layers", "-3"]),
    "zero_hidden_size": (lambda d: d.update(hidden_size=0), ["hidden_size"]),
    "unknown_key": (lambda d: d.update(num_layer=16), ["num_layer:", "unknown"]),
    "kv_heads_do_not_divide_heads": (lambda d: d.update(num_kv_heads=5), ["num_kv_heads", "32"]),
    "wrong_type_vocab": (lambda d: d.update(vocab_size="large"), ["vocab_size", "large"]),
    "missing_intermediate_size": (lambda d: d.pop("intermediate_size"), ["intermediate_size", "missing"]),
    "tie_word_embeddings_not_bool": (lambda d: d.update(tie_word_embeddings="yes"), ["tie_word_embeddings"]),
}


@pytest.mark.parametrize("case", list(BAD_GRAPHS), ids=list(BAD_GRAPHS))
def test_bad_graphs_model_file(case, tmp_path, capsys):
    mutate, needles = BAD_GRAPHS[case]
    data = llama_1b()
    mutate(data)
    path = dump_yaml(tmp_path / "model.yaml", data)
    code, out, err = run_cli(["run", "--target", str(path), "--new-tokens", "2", "--granularity", "model"], capsys)
    assert_input_error(code, out, err, path, needles)


BAD_HF = {
    "missing_hidden_size": (lambda: json.dumps({k: v for k, v in hf_llama_1b().items() if k != "hidden_size"}),
                            ["hidden_size", "missing"]),
    "not_json": (lambda: '{"hidden_size": 2048, "num_hidden_layers": 16,\n', ["JSON"]),
    "top_level_list": (lambda: "[2048, 16]", ["mapping"]),
    "negative_layers": (lambda: json.dumps({**hf_llama_1b(), "num_hidden_layers": -16}), ["num_hidden_layers"]),
    "kv_heads_do_not_divide_heads": (lambda: json.dumps({**hf_llama_1b(), "num_key_value_heads": 6}),
                                     ["num_kv_heads"]),
    "string_size": (lambda: json.dumps({**hf_llama_1b(), "intermediate_size": "8192"}), ["intermediate_size"]),
    # families and formats not modelled: refused, never run as a dense Llama
    "mixtral_moe": (lambda: (HF / "mixtral-8x7b-v0.1" / "config.json").read_text(encoding="utf-8"),
                    ["model_type", "mixture of experts", "not modelled"]),
    "experts_under_a_llama_model_type": (lambda: json.dumps({**hf_llama_1b(), "num_local_experts": 8}),
                                         ["num_local_experts", "mixture of experts"]),
    "mamba_ssm": (lambda: (HF / "mamba-130m-hf" / "config.json").read_text(encoding="utf-8"),
                  ["model_type", "state-space", "not modelled"]),
    "unknown_model_type": (lambda: json.dumps({**hf_llama_1b(), "model_type": "falcon"}),
                           ["model_type", "'falcon'", "llama", "qwen3", "gemma2", "phi3"]),
    "gptq_3_bit": (lambda: json.dumps({**hf_llama_1b(), "quantization_config": {"quant_method": "gptq", "bits": 3,
                                                                                 "group_size": 128}}),
                   ["quantization_config.bits", "3-bit", "not modelled"]),
    "unknown_quant_method": (lambda: json.dumps({**hf_llama_1b(), "quantization_config": {"quant_method": "hqq"}}),
                             ["quantization_config.quant_method", "hqq"]),
}


@pytest.mark.parametrize("case", list(BAD_HF), ids=list(BAD_HF))
def test_bad_hf_config(case, tmp_path, capsys):
    build, needles = BAD_HF[case]
    path = tmp_path / "bad_model" / "config.json"
    path.parent.mkdir()
    path.write_text(build(), encoding="utf-8")
    code, out, err = run_cli(["run", "--target", str(path), "--new-tokens", "2", "--granularity", "model"], capsys)
    assert_input_error(code, out, err, path, needles)


# ------------------------------------------------------------------------------------- 3. bad CLI values

BAD_FLAGS = {
    "device_npu": (["--target-device", "tpu"], "--target-device", ["tpu"]),
    "device_too_many_cores": (["--target-device", "cpu:9"], "--target-device", ["cpu:9"]),
    "device_zero_cores": (["--target-device", "cpu:0"], "--target-device", ["cpu:0"]),
    "device_cores_not_a_number": (["--target-device", "a55:two"], "--target-device", ["a55:two"]),
    "device_gpu_with_cores": (["--target-device", "gpu:2"], "--target-device", ["gpu:2"]),
    "device_other_socs_cluster": (["--target-device", "a76:2"], "--target-device", ["a76"]),
    "soc_nonexistent": (["--soc", "nonexistent"], "nonexistent", []),
    "soc_path_nonexistent": (["--soc", "no/such/soc.yaml"], "no/such/soc.yaml", []),
    "target_nonexistent": (["--target", "llama-9000"], "llama-9000", []),
    "prompt_tokens_zero": (["--prompt-tokens", "0"], "--prompt-tokens", ["0"]),
    "new_tokens_negative": (["--new-tokens", "-1"], "--new-tokens", ["-1"]),
    "draft_device_npu": (["--draft", "qwen2.5-0.5b", "--draft-device", "tpu"], "--draft-device", ["tpu"]),
    "draft_nonexistent": (["--draft", "llama-9000"], "llama-9000", []),
    "gamma_zero": (["--draft", "qwen2.5-0.5b", "--gamma", "0"], "--gamma", ["0"]),
    "alpha_above_one": (["--draft", "qwen2.5-0.5b", "--alpha", "1.5"], "--alpha", ["1.5"]),
    "samples_zero": (["--samples", "0"], "--samples", ["0"]),
    "trace_missing": (["--draft", "qwen2.5-0.5b", "--trace", "no/such/trace.jsonl"], "no/such/trace.jsonl", []),
    "trace_empty_name": (["--draft", "qwen2.5-0.5b", "--trace", ""], "--trace", ["empty"]),
    "trace_fewer_samples": (["--draft", "qwen2.5-0.5b", "--trace", "vllm-writing", "--samples", "1000"], "--samples",
                            ["80 samples", "1000"]),
    "trace_negative_seed": (["--draft", "qwen2.5-0.5b", "--trace", "vllm-writing", "--seed", "-1"], "--seed", [">= 0"]),
    "device_superscript_cores": (["--target-device", "cpu:\u00b2"], "--target-device", ["core count"]),
    "device_first_core_not_a_number": (["--target-device", "cpu:1@x"], "--target-device", ["first core"]),
    "soc_is_a_directory": (["--soc", "/"], "/", ["is a directory"]),
}


@pytest.mark.parametrize("case", list(BAD_FLAGS), ids=list(BAD_FLAGS))
def test_bad_cli_value(case, capsys):
    argv, flag, needles = BAD_FLAGS[case]
    base = ["--target", "qwen2.5-0.5b", "--draft", "none", "--new-tokens", "2", "--granularity", "model"]
    code, out, err = run_cli(["run", *base, *argv], capsys)  # later flags override the base ones
    assert_input_error(code, out, err, flag, needles)


@pytest.mark.parametrize("argv", [["explore", "--no-simulate", "--draft", "none"], ["figure", "c-vs-seq-len", "--draft", "none"],
                                  ["check", "--draft", "none"]])
def test_commands_that_need_a_drafter_say_so(argv, capsys):
    code, out, err = run_cli(argv, capsys)
    assert_input_error(code, out, err, "--draft", ["drafter"])


@pytest.mark.parametrize("command", [["figure", "c-vs-seq-len"], ["plot", "c-vs-seq-len", "--out", "c.png"]])
def test_figure_and_plot_refuse_more_cores_than_the_cluster_has_alike(command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli([*command, "--cores", "1,9"], capsys)
    assert_input_error(code, out, err, "--cores", ["6 cores"])


def test_bad_cli_value_without_run_subcommand(capsys):
    """`specsoc --new-tokens -1` is `specsoc run --new-tokens -1`."""
    code, out, err = run_cli([*FAST, "--new-tokens", "-1"], capsys)
    assert_input_error(code, out, err, "--new-tokens")


def test_gpu_on_soc_without_gpu(tmp_path, capsys):
    soc = imx95()
    del soc["gpus"]
    del soc["calibration"]   # it calibrates the GPU, which a CPU-only SoC must not name (a test of its own below)
    path = dump_yaml(tmp_path / "cpu_only.yaml", soc)
    code, out, err = run_cli(["run", "--soc", str(path), "--target-device", "gpu", *FAST], capsys)
    assert_input_error(code, out, err, "--target-device", ["GPU"])


def test_calibration_naming_a_missing_pu_is_one_line(tmp_path, capsys):
    soc = imx95()
    del soc["gpus"]
    path = dump_yaml(tmp_path / "cpu_only.yaml", soc)
    code, out, err = run_cli(["run", "--soc", str(path), *FAST], capsys)
    assert_input_error(code, out, err, str(path), ["calibration", "mali-g310"])


def test_json_into_missing_directory(tmp_path, capsys):
    target = tmp_path / "no_such_dir" / "out.json"
    code, out, err = run_cli(["run", *FAST, "--json", str(target)], capsys)
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and str(target) in lines[0], err
    assert not target.parent.exists()


def test_installed_command_exit_status(tmp_path):
    """The real process (console script) exits 2 with one line, not just main()'s return value."""
    exe = shutil.which("specsoc")
    cmd = [exe] if exe else [sys.executable, "-m", "simulator.cli"]
    proc = subprocess.run([*cmd, "run", *FAST, "--new-tokens", "-1"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "--new-tokens" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


# -------------------------------------------------------------------------------- 4. no half-written output

def _bad_soc(tmp_path: Path) -> list[str]:
    d = imx95()
    d["cpu_clusters"][0]["cores"] = -2
    return ["--soc", str(dump_yaml(tmp_path / "bad_soc.yaml", d))]


def _bad_model(tmp_path: Path) -> list[str]:
    d = llama_1b()
    d["num_layers"] = -3
    return ["--target", str(dump_yaml(tmp_path / "bad_model.yaml", d))]


def _bad_json_model(tmp_path: Path) -> list[str]:
    path = tmp_path / "m" / "config.json"
    path.parent.mkdir()
    path.write_text("{not json", encoding="utf-8")
    return ["--target", str(path)]


BAD_RUNS = {
    "bad_soc": _bad_soc,
    "bad_model": _bad_model,
    "bad_hf_json": _bad_json_model,
    "bad_device": lambda tmp_path: ["--target-device", "cpu:9"],
    "bad_new_tokens": lambda tmp_path: ["--new-tokens", "-1"],
    "draft": lambda tmp_path: ["--draft", "llama-9000"],
}


@pytest.mark.parametrize("preexisting", [False, True], ids=["fresh", "preexisting"])
@pytest.mark.parametrize("case", list(BAD_RUNS), ids=list(BAD_RUNS))
def test_no_output_file_on_bad_input(case, preexisting, tmp_path, capsys):
    outdir = tmp_path / "out"
    outdir.mkdir()
    target = outdir / "out.json"
    if preexisting:
        target.write_text("sentinel\n", encoding="utf-8")
    extra = BAD_RUNS[case](tmp_path)
    code, out, err = run_cli(["run", *FAST, *extra, "--json", str(target)], capsys)
    assert_input_error(code, out, err)
    if preexisting:
        assert target.read_text(encoding="utf-8") == "sentinel\n", "a failed run must not touch an existing file"
    else:
        assert not target.exists(), "a failed run must not write the --json file"
    assert stray_files(outdir, "out.json") == []
    assert sorted(p.name for p in outdir.iterdir()) == (["out.json"] if preexisting else [])


def test_good_run_writes_only_the_json_file(tmp_path, capsys):
    """Control for the test above: a good run writes out.json, whole and parseable, and nothing else."""
    outdir = tmp_path / "out"
    outdir.mkdir()
    target = outdir / "out.json"
    code, out, err = run_cli(["run", *FAST, "--json", str(target)], capsys)
    assert code == 0, err
    assert sorted(p.name for p in outdir.iterdir()) == ["out.json"]
    text = target.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    json.loads(text)


# ------------------------------------------------------------------ 5. Hugging Face config.json as a model

SIZE_FIELDS = ("hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads", "head_dim",
               "vocab_size", "tie_word_embeddings", "qkv_bias")


def test_hf_fixture_is_the_public_llama_3_2_1b_config():
    cfg = hf_llama_1b()
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["model_type"] == "llama"
    assert cfg["rope_scaling"]["rope_type"] == "llama3" and cfg["rope_theta"] == 500000.0


def test_hf_config_gives_same_model_spec_as_bundled():
    hf = load_model(str(HF_LLAMA_1B))
    bundled = load_model("llama-3.2-1b")
    for field in SIZE_FIELDS:
        assert getattr(hf, field) == getattr(bundled, field), field
    assert hf.parameters() == bundled.parameters()
    assert round(hf.parameters() / 1e9, 2) == 1.24  # the model card's 1.24B
    assert hf.name == "hf_llama_3.2_1b"           # a config.json is named after its directory
    assert hf.source == str(HF_LLAMA_1B)


def test_hf_config_runs_like_bundled_model(tmp_path, capsys):
    args = ["run", "--new-tokens", "2", "--prompt-tokens", "8"]
    f, g = tmp_path / "f.json", tmp_path / "g.json"
    code, _, err = run_cli([*args, "--target", str(HF_LLAMA_1B), "--json", str(f)], capsys)
    assert code == 0, err
    code, _, err = run_cli([*args, "--target", "llama-3.2-1b", "--json", str(g)], capsys)
    assert code == 0, err
    doc_f, doc_g = json.loads(f.read_text()), json.loads(g.read_text())
    assert doc_f["results"] == doc_g["results"]
    model_f, model_g = doc_f["scenario"]["target"]["model"], doc_g["scenario"]["target"]["model"]
    assert {k: model_f[k] for k in SIZE_FIELDS} == {k: model_g[k] for k in SIZE_FIELDS}
    assert model_f["source"] == str(HF_LLAMA_1B)


def test_hf_config_without_kv_heads_means_full_attention(tmp_path):
    cfg = hf_llama_1b()
    del cfg["num_key_value_heads"], cfg["head_dim"]
    path = tmp_path / "mha" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(cfg), encoding="utf-8")
    spec = load_model(str(path))
    assert spec.num_kv_heads == spec.num_heads == 32
    assert spec.head_dim == 2048 // 32


@pytest.mark.parametrize("name, dtype", [("gemma-3-1b-it", "fp16"), ("qwen3-0.6b", "q4_k_m"),
                                         ("qwen2.5-0.5b-instruct-gptq-int4", "gptq4_g128")])
def test_hf_configs_of_other_families_run(name, dtype, tmp_path, capsys):
    out = tmp_path / "r.json"
    code, _, err = run_cli(["run", "--target", str(HF / name / "config.json"), "--target-dtype", dtype, "--draft",
                            "none", "--new-tokens", "2", "--prompt-tokens", "8", "--json", str(out)], capsys)
    assert code == 0, err
    model = json.loads(out.read_text())["scenario"]["target"]["model"]
    spec = load_model(str(HF / name / "config.json"))
    assert (model["architecture"], model["qk_norm"], model["post_norms"], model["default_weights"]) == \
        (spec.architecture, spec.qk_norm, spec.post_norms, spec.default_weights)


# ----------------------------------------------------------------------------------- 6. determinism

@pytest.mark.parametrize("argv", [
    ["--target", "qwen2.5-0.5b", "--new-tokens", "3"],
    ["--soc", "rk3588", "--target", "qwen2.5-0.5b", "--target-device", "gpu", "--target-dtype", "fp16",
     "--new-tokens", "3", "--granularity", "layer"],
], ids=["imx95-cpu-op", "rk3588-gpu-layer"])
def test_json_output_is_deterministic(argv, tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path in (a, b):
        code, _, err = run_cli(["run", *argv, "--json", str(path)], capsys)
        assert code == 0, err
    assert a.read_bytes() == b.read_bytes()
    assert len(a.read_bytes()) > 100
    assert len(json.loads(a.read_text())["results"]["speedup_ci95"]) == 2     # the interval is deterministic too


# ------------------------------------------------------------------------- the speedup's 95% interval

SMALL_PAIR = ["--target", "qwen2.5-1.5b", "--draft", "qwen2.5-0.5b", "--prompt-tokens", "16", "--new-tokens", "12",
              "--granularity", "model", "--alpha", "0.8"]


def test_run_prints_and_writes_the_speedup_with_its_interval(tmp_path, capsys):
    out = tmp_path / "r.json"
    code, stdout, err = run_cli(["run", *SMALL_PAIR, "--samples", "3", "--json", str(out)], capsys)
    assert code == 0, err
    res = json.loads(out.read_text())["results"]
    lo, hi = res["speedup_ci95"]
    assert lo < res["speedup"] < hi
    assert len(res["sample_times_s"]) == len(res["baseline"]["sample_times_s"]) == 3
    assert f"speedup {res['speedup']:.2f}x (95% CI {lo:.2f}-{hi:.2f}, 3 samples)" in " ".join(stdout.split())


def test_interval_cells():
    from simulator.render.run_tables import interval, speedup_with_interval
    assert interval((1.634, 1.7251), 64) == "1.63-1.73"
    assert interval(None, 1) == "n/a (1 sample)"
    assert speedup_with_interval(1.678, (1.634, 1.7251), 64) == "1.68x (95% CI 1.63-1.73, 64 samples)"
    assert speedup_with_interval(1.5, None, 1) == "1.50x (95% CI n/a: 1 sample)"


def test_one_sample_says_it_has_no_interval(tmp_path, capsys):
    out = tmp_path / "r.json"
    code, stdout, err = run_cli(["run", *SMALL_PAIR, "--samples", "1", "--json", str(out)], capsys)
    assert code == 0, err
    assert json.loads(out.read_text())["results"]["speedup_ci95"] is None
    assert "(95% CI n/a: 1 sample)" in stdout


# ----------------------------------------------------------------------------------- 7. JSON schema

def test_json_schema_and_values(tmp_path, capsys):
    out = tmp_path / "s.json"
    argv = ["run", "--soc", "rk3588", "--target", "qwen2.5-0.5b", "--target-dtype", "q4_0",
            "--target-device", "a76:2", "--draft", "none", "--prompt-tokens", "17", "--new-tokens", "4", "--no-kv-cache",
            "--granularity", "layer", "--json", str(out)]
    code, stdout, err = run_cli(argv, capsys)
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert text == json.dumps(doc, indent=2, sort_keys=True) + "\n"   # sorted, indented, nothing else
    assert set(doc) == {"scenario", "results"}

    sc = doc["scenario"]
    assert {"soc", "target", "prompt_tokens", "new_tokens", "kv_cache", "granularity", "draft"} <= set(sc)
    assert sc["soc"]["name"] == "rk3588"
    assert {pu["name"] for pu in sc["soc"]["pus"]} >= {"a76", "a55"}
    assert sc["prompt_tokens"] == 17 and sc["new_tokens"] == 4
    assert sc["kv_cache"] is False and sc["granularity"] == "layer" and sc["draft"] == "none"
    tgt = sc["target"]
    assert {"model", "weights_dtype", "activations_dtype", "kv_cache_dtype", "device"} <= set(tgt)
    assert tgt["weights_dtype"] == "q4_0"
    assert tgt["activations_dtype"] == "fp16" and tgt["kv_cache_dtype"] == "fp16"  # block formats run fp16
    assert tgt["device"] == "a76:2"
    assert tgt["model"]["name"] == "qwen2.5-0.5b" and tgt["model"]["num_layers"] == 24

    res = doc["results"]
    for key in ("decode_tokens_per_s", "ttft_s", "time_per_output_token_s", "total_time_s",
                "roofline_floor_s_per_token"):
        assert key in res, key
    tpot = res["time_per_output_token_s"]
    assert set(tpot) >= {"mean", "p50", "p90"}
    for v in (res["decode_tokens_per_s"], res["ttft_s"], res["total_time_s"], res["roofline_floor_s_per_token"],
              tpot["mean"], tpot["p50"], tpot["p90"]):
        assert isinstance(v, float) and math.isfinite(v) and v > 0
    assert tpot["p50"] <= tpot["p90"]
    assert res["ttft_s"] < res["total_time_s"]
    assert res["decode_tokens_per_s"] == pytest.approx(1.0 / tpot["mean"], rel=1e-9)
    # No decoder beats the roofline: every token costs at least the weight bytes over peak DRAM bandwidth.
    assert tpot["mean"] >= res["roofline_floor_s_per_token"]
    assert res["total_time_s"] == pytest.approx(res["ttft_s"] + 3 * tpot["mean"], rel=1e-9)
    assert "JSON written to" in stdout


def test_json_scenario_defaults_are_resolved(tmp_path, capsys):
    """Unset flags appear in the scenario as the values actually used, not as null."""
    out = tmp_path / "d.json"
    code, _, err = run_cli(["run", "--target", "qwen2.5-0.5b", "--draft", "none", "--new-tokens", "2",
                            "--json", str(out)], capsys)
    assert code == 0, err
    sc = json.loads(out.read_text())["scenario"]
    assert sc["soc"]["name"] == "imx95" and sc["prompt_tokens"] == 63 and sc["kv_cache"] is False
    assert sc["granularity"] == "op" and sc["draft"] == "none"
    t = sc["target"]
    assert (t["weights_dtype"], t["activations_dtype"], t["kv_cache_dtype"], t["device"], t["placement"]) == \
        ("int8", "int8", "int8", "cpu:1", "a55:1")


# --------------------------------------------------------------------------------- 8. list and help

def test_list_names_every_bundled_soc_and_model(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")   # keep rich from wrapping names inside table cells
    code, out, err = run_cli(["list"], capsys)
    assert code == 0, err
    socs = sorted(p.stem for p in (ROOT / "socs").glob("*.yaml"))
    models = sorted(p.stem for p in (ROOT / "graphs").glob("*.yaml"))
    assert len(socs) >= 3 and len(models) >= 5
    for name in socs + models:
        assert re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", out), f"{name} not listed"


@pytest.mark.parametrize("argv, expected", [
    (["--help"], ["run", "list"]),
    (["-h"], ["run", "list"]),
    (["run", "--help"], ["--soc", "--target", "--target-device", "--new-tokens", "--draft", "--json"]),
    (["list", "--help"], ["list"]),
])
def test_help_exits_zero(argv, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in expected:
        assert word in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"specsoc {simulator.__version__}"


# ----------------------------------------------------------------------------------- 9. default scenario

def test_no_arguments_runs_default_scenario(capsys, tmp_path, monkeypatch):
    """`specsoc` alone runs `specsoc run` with the defaults; --json is the only flag added here."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["--json", "d.json"], capsys)
    assert code == 0, err
    assert err == ""
    for word in ("imx95", "llama-3.2-3b", "int8", "a55:1", "llama-3.2-1b", "mali-g310", "gamma 5", "sequential",
                 "no KV cache", "alpha 0.94", "speedup", "1.68x", "64 samples"):
        assert word in out, word
    # the paper measured 1.68x: the default's speedup sits on it, and so does its whole 95% interval
    res = json.loads((tmp_path / "d.json").read_text())["results"]
    lo, hi = res["speedup_ci95"]
    assert 1.68 - 0.05 <= lo < res["speedup"] < hi <= 1.68 + 0.05
    assert res["samples"] == 64
    printed = re.search(r"speedup (\d\.\d\d)x \(95% CI (\d\.\d\d)-(\d\.\d\d), 64 samples\)", " ".join(out.split()))
    assert printed, out
    assert [float(x) for x in printed.groups()] == [round(res["speedup"], 2), round(lo, 2), round(hi, 2)]
    assert abs(float(printed.group(1)) - 1.68) <= 0.05


# ----------------------------------------------------------------------------------- known bugs (xfail)


@pytest.mark.parametrize("argv, flag", [
    (["--target-dtype", "bogus"], "--target-dtype"),
    (["--prompt-tokens", "abc"], "--prompt-tokens"),
    (["--granularity", "token"], "--granularity"),
])
def test_argparse_errors_are_one_line(argv, flag, capsys):
    code, out, err = run_cli(["run", *FAST, *argv], capsys)
    assert_input_error(code, out, err, flag)


def test_error_text_is_not_rich_markup_closing_tag(capsys):
    code, out, err = run_cli(["run", *FAST, "--soc", "[/foo]"], capsys)
    assert_input_error(code, out, err, "[/foo]")


def test_error_names_path_with_brackets(tmp_path, capsys):
    d = imx95()
    d["cpu_clusters"][0]["cores"] = -2
    path = dump_yaml(tmp_path / "soc[red].yaml", d)
    code, out, err = run_cli(["run", *FAST, "--soc", str(path)], capsys)
    assert_input_error(code, out, err, path, ["cores"])


def test_promote_to_a_list(tmp_path, capsys):
    d = imx95()
    d["gpus"][0]["promote"] = {"int8": ["fp32"]}
    path = dump_yaml(tmp_path / "soc.yaml", d)
    code, out, err = run_cli(["run", *FAST, "--soc", str(path)], capsys)
    assert_input_error(code, out, err, path, ["gpus[0].promote.int8"])


def test_huge_integer(tmp_path, capsys):
    d = imx95()
    d["cpu_clusters"][0]["cores"] = 10 ** 400
    path = dump_yaml(tmp_path / "soc.yaml", d)
    code, out, err = run_cli(["run", *FAST, "--soc", str(path)], capsys)
    assert_input_error(code, out, err, path, ["cpu_clusters[0].cores"])


def test_json_path_is_a_directory(tmp_path, capsys):
    target = tmp_path / "outdir"
    target.mkdir()
    code, out, err = run_cli(["run", *FAST, "--json", str(target)], capsys)
    assert code == 2 and "Traceback" not in err
    assert len(err.splitlines()) == 1 and str(target) in err, err
    assert list(target.iterdir()) == [] and stray_files(tmp_path, "outdir") == []


def test_hf_tie_word_embeddings_must_be_boolean(tmp_path, capsys):
    path = tmp_path / "m" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**hf_llama_1b(), "tie_word_embeddings": "false"}), encoding="utf-8")
    code, out, err = run_cli(["run", "--target", str(path), "--new-tokens", "2", "--granularity", "model"], capsys)
    assert_input_error(code, out, err, path, ["tie_word_embeddings"])


# ------------------------------------------------------------------------------------------ bad traces

HEADER = '{"specsoc_trace": 1, "record": "accepted", "gamma": 3}'
BAD_TRACES = {
    "accepted_exceeds_gamma": (HEADER + '\n{"prompt_tokens": 8, "accepted": [1, 4, 0]}\n', ["exceeds", "gamma"]),
    "negative_prompt": (HEADER + '\n{"prompt_tokens": -3, "accepted": [1, 2]}\n', ["prompt_tokens"]),
    "negative_accepted": (HEADER + '\n{"prompt_tokens": 8, "accepted": [1, -2]}\n', ["accepted"]),
    "empty_file": ("", ["empty"]),
    "header_only": (HEADER + "\n", ["no samples"]),
    "missing_header": ('{"prompt_tokens": 8, "accepted": [1, 2]}\n', ["header"]),
    "unknown_record": ('{"specsoc_trace": 1, "record": "logits"}\n{"prompt_tokens": 8}\n', ["record"]),
    "malformed_json": (HEADER + '\n{"prompt_tokens": 8, "accepted": [1, 2\n', ["line 2", "JSON"]),
    "bad_agreement_bits": ('{"specsoc_trace": 1, "record": "agreement"}\n{"prompt_tokens": 8, "agreement": "10x1"}\n',
                           ["agreement"]),
}


@pytest.mark.parametrize("command", ["run", "stats"])
@pytest.mark.parametrize("case", list(BAD_TRACES), ids=list(BAD_TRACES))
def test_bad_trace_is_one_line_and_exit_2(case, command, tmp_path, capsys):
    text, needles = BAD_TRACES[case]
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    out_json = tmp_path / "out.json"
    if command == "run":
        argv = ["run", "--target", "qwen2.5-0.5b", "--draft", "qwen2.5-0.5b", "--granularity", "model",
                "--trace", str(path), "--json", str(out_json)]
    else:
        argv = ["trace", "stats", str(path), "--json", str(out_json)]
    code, out, err = run_cli(argv, capsys)
    assert_input_error(code, out, err, str(path), needles)
    assert not out_json.exists()


def test_unknown_import_format_is_one_line_and_exit_2(tmp_path, capsys):
    log = tmp_path / "run.log"
    log.write_text("accepted 3/5 draft tokens, the last target token is: (42)\n", encoding="utf-8")
    code, out, err = run_cli(["trace", "import", "--format", "bogus", str(log), "--out", str(tmp_path / "t.jsonl")],
                             capsys)
    assert_input_error(code, out, err, "bogus")
    assert not (tmp_path / "t.jsonl").exists()


def test_trace_synth_then_run_round_trip(tmp_path, capsys):
    path = tmp_path / "t.jsonl"
    code, _, err = run_cli(["trace", "synth", "iid", "--alpha", "0.7", "--samples", "3", "--prompt-tokens", "20",
                            "--output-tokens", "12", "--seed", "5", "--out", str(path)], capsys)
    assert code == 0, err
    out_json = tmp_path / "r.json"
    code, _, err = run_cli(["run", "--target", "qwen2.5-1.5b", "--draft", "qwen2.5-0.5b", "--granularity", "model",
                            "--kv-cache", "--trace", str(path), "--json", str(out_json)], capsys)
    assert code == 0, err
    res = json.loads(out_json.read_text())["results"]
    assert res["samples"] == 3 and res["tokens_generated"] == 36 and res["baseline"]["tokens_generated"] == 36
    assert res["tokens_per_round"] == pytest.approx(36 / res["rounds"])
    for key in ("speedup", "mean_accepted_per_round", "tokens_per_round", "baseline", "time_split_s",
                "dram_contention_s"):
        assert key in res


# ------------------------------------------------------------------------- explore, check, figure

def test_explore_json_has_the_issue_schema(tmp_path, capsys):
    out = tmp_path / "e.json"
    code, stdout, err = run_cli(["explore", "--alpha", "0.9", "--no-simulate", "--json", str(out)], capsys)
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert len(doc["variants"]) == 6 and len(doc["mappings"]) == 24      # the paper's 6 x 2^2 design space
    for v in doc["variants"]:
        assert {"cores", "speculate", "gamma", "heterogeneous", "speedup_eq1", "mapping"} <= set(v)
    for m in doc["mappings"]:
        assert {"cores", "draft_device", "target_device", "c", "best_gamma", "speedup_eq1"} <= set(m)
    assert "paper" in stdout and "1.68x" in stdout     # Table II printed beside the model's decisions


@pytest.mark.parametrize("samples", [1, 3])
def test_explore_simulated_json_has_simulated_speedups_and_their_intervals(samples, tmp_path, capsys):
    out = tmp_path / "e.json"
    code, stdout, err = run_cli(["explore", "--alpha", "0.9", "--gamma-max", "2", "--samples", str(samples),
                                 "--seq-len", "16", "--json", str(out)], capsys)
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert doc["samples"] == samples and "95% CI" in stdout
    assert all("speedup_simulated" in v for v in doc["variants"])
    assert all("speedup_simulated" in m and "best_gamma_simulated" in m for m in doc["mappings"])
    pairs = [(m["speedup_simulated"], m["speedup_simulated_ci95"]) for m in doc["mappings"]]
    pairs += [(m["speedup_simulated_by_gamma"][g], ci) for m in doc["mappings"]
              for g, ci in m["speedup_simulated_ci95_by_gamma"].items()]
    if samples == 1:     # no interval, said as such (JSON null, "n/a (1 sample)" in the tables)
        assert all(ci is None for _, ci in pairs)
        return
    pairs += [(v["simulated_decision"]["speedup"], v["simulated_decision"]["speedup_ci95"]) for v in doc["variants"]]
    assert all(ci[0] <= speedup <= ci[1] for speedup, ci in pairs)


def test_explore_simulates_fewer_samples_by_default_than_run(capsys):
    from simulator.analysis.explore import EXPLORE_SAMPLES
    from simulator.cli.common import scenario_spec
    from simulator.cli.main import build_parser
    parser = build_parser()
    assert scenario_spec(parser.parse_args(["explore"])).samples == EXPLORE_SAMPLES
    assert scenario_spec(parser.parse_args(["explore", "--alpha", "0.5"])).samples == EXPLORE_SAMPLES
    assert scenario_spec(parser.parse_args(["explore", "--samples", "9"])).samples == 9
    assert scenario_spec(parser.parse_args(["explore", "--trace", "translation-fp16"])).samples is None   # all of it
    assert scenario_spec(parser.parse_args(["run"])).samples is None       # the builder's default


def test_check_json_and_waterfall(tmp_path, capsys):
    out = tmp_path / "c.json"
    code, stdout, err = run_cli(["check", "--target", "qwen2.5-1.5b", "--draft", "qwen2.5-0.5b", "--samples", "1",
                                 "--prompt-tokens", "16", "--new-tokens", "16", "--json", str(out)], capsys)
    assert code == 0, err
    doc = json.loads(out.read_text())["check"]
    assert [s["effect"] for s in doc["steps"]] == ["closed_form", "all_off", "samples", "acceptance", "verify_grows",
                                                    "overheads", "sequence_growth", "dram_contention"]
    assert abs(doc["gap_all_off_percent"]) < 1.0
    assert "Eq. 1 predicts" in stdout
    # Eq. 1 is a closed form (no interval); with one sample the others have none either, the all-off step's 16 do
    assert [s["speedup_ci95"] is None for s in doc["steps"]] == [True, False] + [True] * 6
    assert doc["steps"][0]["samples"] is None and doc["steps"][1]["samples"] == 16
    assert doc["simulated_speedup_ci95"] is None and "95% CI n/a: 1 sample" in stdout
    assert all(e["speedup_without_ci95"] is None for e in doc["leave_one_out"])


@pytest.mark.parametrize("argv,flag", [
    (["explore", "--seq-len", "0"], "--seq-len"),
    (["explore", "--gamma-max", "0", "--no-simulate"], "--gamma-max"),
    (["explore", "--alpha", "2", "--no-simulate"], "--alpha"),
    (["check", "--draft", "none"], "--draft"),
    (["check", "--threshold", "-1"], "--threshold"),
    (["figure", "speedup-vs-alpha", "--c", "-1"], "--c"),
    (["figure", "c-vs-seq-len", "--seq-lens", "16,x"], "--seq-lens"),
    (["figure", "c-vs-seq-len", "--cores", "0"], "--cores"),
    (["figure", "c-vs-seq-len", "--cores", "9"], "--cores"),
    (["figure", "speedup-vs-alpha", "--gamma-max", "0"], "--gamma-max"),
    (["figure", "bogus"], "figure"),
])
def test_bad_explore_check_figure_input(argv, flag, capsys):
    code, out, err = run_cli(argv, capsys)
    assert_input_error(code, out, err, flag)


def test_figures_print(capsys):
    code, out, err = run_cli(["figure", "speedup-vs-alpha", "--c", "0.41"], capsys)
    assert code == 0, err and "gamma 8" in out
    code, out, err = run_cli(["figure", "c-vs-seq-len", "--cores", "1", "--seq-lens", "16,63"], capsys)
    assert code == 0, err
    assert "mali-g310" in out and "S_L 63" in out


def test_run_csv_is_the_json_flattened_in_one_row(tmp_path, capsys):
    import csv
    doc, table = tmp_path / "r.json", tmp_path / "r.csv"
    assert main(["run", "--samples", "3", "--new-tokens", "8", "--json", str(doc), "--csv", str(table)]) == 0
    capsys.readouterr()
    want = json.loads(doc.read_text())
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 1
    row = rows[0]
    assert float(row["results.speedup"]) == want["results"]["speedup"]
    assert float(row["results.baseline.total_time_s"]) == want["results"]["baseline"]["total_time_s"]
    assert (float(row["results.speedup_ci95_lo"]), float(row["results.speedup_ci95_hi"])) == tuple(want["results"]["speedup_ci95"])
    assert row["scenario.soc.name"] == want["scenario"]["soc"]["name"]
    assert "results.sample_times_s" not in row                      # per-sample lists stay in the JSON
    assert main(["run", "--json", str(doc), "--timeline", str(doc)]) == 2   # one file for two outputs: refused


def test_no_output_of_run_or_explore_may_overwrite_an_input_even_a_bundled_one(tmp_path, capsys):
    from simulator.common.bundled import bundled_dir
    bundled_soc = str(bundled_dir("socs") / "imx95.yaml")
    trace = tmp_path / "t.jsonl"
    assert main(["trace", "synth", "iid", "--alpha", "0.6", "--samples", "3", "--out", str(trace)]) == 0
    before = (trace.read_bytes(), Path(bundled_soc).read_bytes())
    for argv in (["run", "--csv", bundled_soc], ["explore", "--no-simulate", "--trace", str(trace), "--json", str(trace)],
                 ["explore", "--no-simulate", "--csv", bundled_soc]):
        capsys.readouterr()
        assert main(argv) == 2
        assert "one of the input files" in capsys.readouterr().err
    assert (trace.read_bytes(), Path(bundled_soc).read_bytes()) == before
