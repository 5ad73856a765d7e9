"""Issue 15's reproductions, each a regression test: bad input that crashed, hung or took gigabytes is now one
clear line naming its file or flag, exit 2, and no output file left behind."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.common.bundled import bundled_dir
from tests.cli.test_cli import assert_input_error, run_cli

FAST = ["--target", "qwen2.5-0.5b", "--draft", "none", "--new-tokens", "2", "--granularity", "model"]
BOMB = "a0: &a0 [1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))     # 9^9 values in 1 KB


def trace_lines(name: str = "translation-fp16") -> list[str]:
    return (bundled_dir("traces") / f"{name}.jsonl").read_text().splitlines()


def with_header(tmp_path, **changes) -> str:
    lines = trace_lines()
    header = {**json.loads(lines[0]), **changes}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(header) + "\n" + "\n".join(lines[1:]) + "\n")
    return str(path)


def test_1_superscript_digits_in_a_device(capsys):
    for device in ("cpu:\u00b2", "cpu:1@\u00b2"):
        assert_input_error(*run_cli(["run", *FAST, "--target-device", device], capsys), "--target-device")


@pytest.mark.parametrize("where", ["soc-yaml", "soc-json", "model-json", "trace-line", "plot-from"])
def test_2_deeply_nested_input_is_refused(where, tmp_path, capsys):
    deep = "[" * 5000 + "]" * 5000
    path = tmp_path / ("d.json" if where != "soc-yaml" else "d.yaml")
    path.write_text(deep if where != "trace-line" else trace_lines()[0] + "\n" + deep + "\n")
    argv = {"soc-yaml": ["run", *FAST, "--soc", str(path)], "soc-json": ["run", *FAST, "--soc", str(path)],
            "model-json": ["run", *FAST, "--target", str(path)],
            "trace-line": ["run", "--draft", "qwen2.5-0.5b", "--trace", str(path)],
            "plot-from": ["plot", "timeline", "--from", str(path), "--out", str(tmp_path / "x.png")]}[where]
    if where == "plot-from":
        pytest.importorskip("matplotlib")
    assert_input_error(*run_cli(argv, capsys), path, [("nested too deeply", "malformed")])


@pytest.mark.parametrize("argv", [["run", "--draft", "qwen2.5-0.5b", "--trace", "vllm-writing", "--seed", "-1"],
                                  ["trace", "stats", "vllm-writing", "--seed", "-1"]])
def test_3_a_negative_seed_for_a_trace(argv, capsys):
    assert_input_error(*run_cli(argv, capsys), "--seed", [">= 0"])


def test_4_an_output_that_cannot_be_written_is_refused_before_anything_runs(tmp_path, capsys):
    other = tmp_path / "o.json"
    code, out, err = run_cli(["run", *FAST, "--json", "/proc/x.json", "--csv", str(other)], capsys)
    assert_input_error(code, out, err, "/proc/x.json", ["cannot write"])
    assert not other.exists()


@pytest.mark.parametrize("value", ["-Infinity", "Infinity", "NaN"])
def test_5_a_non_finite_number_in_a_trace_header(value, tmp_path, capsys):
    path = with_header(tmp_path, temperature=0.0)
    text = open(path).read().replace('"temperature": 0.0', f'"temperature": {value}', 1)
    open(path, "w").write(text)
    code, out, err = run_cli(["run", "--draft", "qwen2.5-0.5b", "--trace", path, "--json", str(tmp_path / "o.json")],
                             capsys)
    assert_input_error(code, out, err, path, [value])
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("key,value", [("hidden_size", "1.536e+303"), ("num_layers", "1000000"),
                                       ("num_layers", "1.0e+300")])
@pytest.mark.parametrize("role", ["--target", "--draft"])
def test_6_sizes_beyond_any_model(key, value, role, tmp_path, capsys):
    src = (bundled_dir("graphs") / "llama-3.2-1b.yaml").read_text()
    path = tmp_path / "m.yaml"
    path.write_text(re.sub(rf"{key}: *\d+", f"{key}: {value}", src))
    argv = ["run", "--target", str(path), "--draft", "none"] if role == "--target" else \
        ["run", "--draft", str(path), "--new-tokens", "2"]
    assert_input_error(*run_cli(argv, capsys), path, [key, "outside"])


@pytest.mark.parametrize("where", ["soc", "model"])
def test_7_an_alias_bomb_is_refused_at_once(where, tmp_path, capsys):
    if where == "soc":
        src = (bundled_dir("socs") / "imx95.yaml").read_text()
        text = BOMB + re.sub(r"peak_bandwidth_gb_s: *[0-9.]+", "peak_bandwidth_gb_s: *a8", src, count=1)
    else:
        src = (bundled_dir("graphs") / "llama-3.2-1b.yaml").read_text()
        text = BOMB + re.sub(r"hidden_size: *\d+", "hidden_size: *a8", src, count=1)
    path = tmp_path / "b.yaml"
    path.write_text(text)
    argv = ["run", *FAST, "--soc", str(path)] if where == "soc" else ["run", "--target", str(path), "--draft", "none"]
    line = assert_input_error(*run_cli(argv, capsys), path, ["aliases"])
    assert len(line) < 1000                     # the value is not echoed


def test_8_a_huge_declared_gamma_is_refused(tmp_path, capsys):
    path = with_header(tmp_path, gamma=1_000_000_000, record="agreement")
    assert_input_error(*run_cli(["trace", "stats", path], capsys), path, ["header.gamma", "1..1,024"])


def test_8_trace_stats_size_their_histogram_by_the_data(tmp_path, capsys):
    out = tmp_path / "s.json"
    code, _out, _err = run_cli(["trace", "stats", "vllm-writing", "--gamma", "1024", "--json", str(out)], capsys)
    assert code == 0
    longest = max(s["output_tokens"] for s in map(json.loads, trace_lines("vllm-writing")[1:]))
    assert longest < 1024 and json.loads(out.read_text())["histogram"]["gamma"] == longest
    assert_input_error(*run_cli(["trace", "stats", "vllm-writing", "--gamma", "999999999"], capsys), "--gamma",
                       ["1..1,024"])


def test_an_output_that_is_a_device_or_a_fifo_is_refused_not_replaced(tmp_path, capsys):
    import os
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    for path in ("/dev/null", str(fifo)):
        assert_input_error(*run_cli(["run", *FAST, "--json", path], capsys), path, ["not a regular file"])
    assert fifo.is_fifo() and not Path("/dev/null").is_file()


@pytest.mark.parametrize("log,needle", [("accepted 1/1000000000 draft tokens, the last target token is: (5)\n",
                                         "1..1024"),
                                        ("n_draft = 5\nn_predict = 999999999\nn_drafted = 100\nn_accept = 50\n",
                                         "n_predict")])
def test_8_llama_cpp_logs_with_impossible_counts(log, needle, tmp_path, capsys):
    path, out = tmp_path / "s.log", tmp_path / "t.jsonl"
    path.write_text(log)
    code, stdout, err = run_cli(["trace", "import", "--format", "llama-cpp", str(path), "--out", str(out)], capsys)
    assert_input_error(code, stdout, err, path, [needle])
    assert not out.exists()


def test_9_one_file_for_two_outputs(tmp_path, capsys):
    path = str(tmp_path / "o.json")
    assert_input_error(*run_cli(["run", *FAST, "--json", path, "--timeline", path], capsys), "--timeline",
                       ["also given"])


@pytest.mark.parametrize("argv,flag", [(["check", "--threshold", "nan"], "--threshold"),
                                       (["figure", "speedup-vs-alpha", "--c", "inf"], "--c"),
                                       (["run", "--alpha", "nan"], "--alpha")])
def test_10_non_finite_flags(argv, flag, capsys):
    assert_input_error(*run_cli(argv, capsys), flag, ["finite"])


def test_11_work_beyond_any_context_is_refused_with_the_limit(capsys):
    assert_input_error(*run_cli(["run", *FAST, "--new-tokens", "1000000"], capsys), "--new-tokens", ["131,072"])


def test_11_a_timeline_beyond_its_budget_is_refused_with_its_estimate(tmp_path, capsys):
    out, timeline = tmp_path / "o.json", tmp_path / "t.json"
    code, stdout, err = run_cli(["run", "--new-tokens", "32", "--samples", "2", "--granularity", "op", "--json",
                                 str(out), "--timeline", str(timeline), "--timeline-max-mb", "1"], capsys)
    assert_input_error(code, stdout, err, "--timeline", ["MB (", "ops and handoffs)", "-max-mb"])
    assert not out.exists() and not timeline.exists()


def test_12_a_run_killed_while_writing_leaves_no_output(tmp_path):
    # killed as soon as its timeline is being written (a big one): neither its JSON nor its timeline appears
    out, timeline = tmp_path / "o.json", tmp_path / "t.json"
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli.main", "run", "--samples", "16", "--json", str(out),
                             "--timeline", str(timeline)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):                    # until its temporary timeline file appears
            if any(p.name.startswith(".t.json.") for p in tmp_path.iterdir()):
                break
            try:
                proc.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                pass
        proc.kill()
    finally:
        proc.wait()
    if proc.returncode == 0:
        pytest.skip("the run finished before it could be killed")
    assert not out.exists() and not timeline.exists()


def test_11_a_sweep_beyond_its_point_budget_is_refused_with_its_size(tmp_path, capsys):
    sweep = tmp_path / "s.yaml"
    sweep.write_text("base: {target: qwen2.5-0.5b, draft: none, new_tokens: 2}\naxes:\n  gamma: {from: 1, to: 64, step: 1}\n"
                     "  alpha: {from: 0.01, to: 1, step: 0.01}\n  seed: {from: 0, to: 99, step: 1}\n")
    out = tmp_path / "o.jsonl"
    code, stdout, err = run_cli(["sweep", str(sweep), "--out", str(out)], capsys)
    assert_input_error(code, stdout, err, "--max-points", ["640,000 points", "100,000"])     # 64 x 100 x 100
    assert not out.exists()


@pytest.mark.parametrize("argv,flag,total", [(["run", "--samples", "1000", "--new-tokens", "10000"], "--max-tokens",
                                              "10,000,000"),
                                             (["run", "--samples", "100000", "--new-tokens", "131000", "--prompt-tokens",
                                               "72"], "--samples", "13,100,000,000"),
                                             (["check", "--samples", "100000", "--new-tokens", "131000",
                                               "--prompt-tokens", "72"], "--samples", "13,100,000,000")])
def test_11_a_run_beyond_its_work_budget_is_refused_before_its_workload_is_made(argv, flag, total, capsys):
    # 1,000 x 10,000 tokens: past run's --max-tokens (200,000) with its estimate; 100,000 x 131,000 = 13.1 billion
    # tokens: past any synthetic workload (20 million); both refused from the flags alone
    assert_input_error(*run_cli(argv, capsys), flag, [total])


def test_a_file_far_too_large_to_be_a_soc_is_refused_unread(tmp_path, capsys):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.truncate(17 * 2**20)                      # 17 MB of zeros, sparse
    assert_input_error(*run_cli(["run", *FAST, "--soc", str(path)], capsys), path, ["17 MB", "too large"])


# found by the large fuzz run (benchmarks/fuzz.py)

def test_a_file_name_too_long_for_the_file_system(capsys):
    assert_input_error(*run_cli(["run", *FAST, "--target", "a" * 3000], capsys), None, ["cannot be a file name"])


def test_a_log_line_drafting_more_tokens_than_a_run_can(tmp_path, capsys):
    from tests.trace_support import FIXTURES
    lines = (FIXTURES / "vllm.log").read_text().splitlines()
    path = tmp_path / "v.log"
    path.write_text("\n".join(re.sub(r"Drafted: \d+", "Drafted: " + "9" * 400, line) for line in lines) + "\n")
    code, out, err = run_cli(["trace", "import", "--format", "vllm", str(path), "--out", str(tmp_path / "t.jsonl")],
                             capsys)
    assert_input_error(code, out, err, path, ["drafted tokens"])


@pytest.mark.parametrize("argv,names", [(["run", *FAST, "--soc", " "], "--soc"),
                                        (["run", "--trace", "  "], "--trace"),
                                        (["trace", "stats", " "], "traces file")])
def test_a_blank_file_name(argv, names, capsys):
    assert_input_error(*run_cli(argv, capsys), names, [("blank",)])
