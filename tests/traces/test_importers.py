"""`specsoc trace import`: fixtures written exactly in the formats of reference/acceptance.md, each result checked."""

from __future__ import annotations

import json

import pytest

from simulator.common.errors import InputError
from simulator.traces.importers import ImportOptions, expected_accepted_fraction, import_trace, solve_alpha
from simulator.traces.trace import estimate_alpha, load_trace
from tests.trace_support import FIXTURES, trace_main

SPEC_BENCH = FIXTURES / "specbench_answers.jsonl"
LLAMA_VERBOSE = FIXTURES / "llama_verbose.log"
LLAMA_SUMMARY = FIXTURES / "llama_summary.log"
LLAMA_SERVER = FIXTURES / "llama_server.log"
VLLM = FIXTURES / "vllm.log"
VLLM_TWO = FIXTURES / "vllm_two_lines.log"


def imported(tmp_path, fmt, path, *flags):
    """Import through the CLI harness, then read the written file back."""
    out = tmp_path / "out.jsonl"
    trace_main(["trace", "import", "--format", fmt, str(path), *flags, "--out", str(out)])
    return load_trace(str(out))


# ------------------------------------------------------------------------------------------------ Spec-Bench

def test_spec_bench_all_questions(tmp_path):
    trace = imported(tmp_path, "spec-bench", SPEC_BENCH, "--gamma", "4")
    h = trace.header
    assert h["synthetic"] is False and h["record"] == "accepted" and h["gamma"] == 4 and h["source"] == str(SPEC_BENCH)
    # accept_lengths [3,1,4,2,2], [5,2,1,3,1], [1,1,5,1] -> accepted = value - 1; output = sum of accept_lengths
    assert [s.accepted for s in trace.samples] == [(2, 0, 3, 1, 1), (4, 1, 0, 2, 0), (0, 0, 4, 0)]
    assert [s.output_tokens for s in trace.samples] == [12, 12, 8]
    assert [s.id for s in trace.samples] == [81, 1, 82]
    assert [s.category for s in trace.samples] == ["translation", "writing", "translation"]
    assert all(s.prompt_tokens == 63 for s in trace.samples)
    assert "1 question(s) have new_tokens differing" in h["notes"]       # question 82: new_tokens 7, sum 8
    assert "vicuna-7b-v1.3-sps-68m-float16-temp-0.0" in h["notes"]
    assert h["generated_by"] == f"specsoc trace import --format spec-bench {SPEC_BENCH} --gamma 4 --prompt-tokens 63"


def test_spec_bench_translation_only(tmp_path):
    trace = imported(tmp_path, "spec-bench", SPEC_BENCH, "--gamma", "5", "--category", "translation",
                     "--prompt-tokens", "40")
    assert [s.id for s in trace.samples] == [81, 82] and trace.header["task"] == "translation"
    assert all(s.prompt_tokens == 40 for s in trace.samples)
    # alpha: accepted drafts 7 + 4 = 11; rejections (rounds with n < 5): 5 + 4 = 9
    assert estimate_alpha(trace) == pytest.approx(11 / 20)


@pytest.mark.parametrize("flags, needles", [
    (["--gamma", "3"], ("line 2", "accept_lengths[0]", "4 accepted drafts, more than --gamma 3")),
    (["--gamma", "3", "--category", "translation"], ("line 3", "accept_lengths[2]")),
    (["--gamma", "5", "--category", "math"], ("no questions of category 'math'", "translation, writing")),
])
def test_spec_bench_errors_name_the_file(flags, needles):
    with pytest.raises(InputError) as err:
        import_trace("spec-bench", str(SPEC_BENCH), ImportOptions(gamma=int(flags[1]),
                                                                  category=flags[3] if len(flags) > 2 else None))
    assert str(SPEC_BENCH) in str(err.value)
    for needle in needles:
        assert needle in str(err.value)


def test_spec_bench_needs_gamma():
    with pytest.raises(InputError) as err:
        import_trace("spec-bench", str(SPEC_BENCH), ImportOptions())
    assert str(err.value).startswith("--gamma:") and str(SPEC_BENCH) in str(err.value)


def test_spec_bench_malformed_line(tmp_path):
    bad = tmp_path / "answers.jsonl"
    bad.write_text(SPEC_BENCH.read_text().splitlines()[0] + "\n{\"question_id\": 2, \"choices\": [\n")
    with pytest.raises(InputError) as err:
        import_trace("spec-bench", str(bad), ImportOptions(gamma=5))
    assert str(bad) in str(err.value) and "line 2 is not valid JSON" in str(err.value)


# ------------------------------------------------------------------------------------------------ llama.cpp

def test_llama_cpp_verbose_rounds(tmp_path):
    trace = imported(tmp_path, "llama-cpp", LLAMA_VERBOSE)
    h = trace.header
    assert h["synthetic"] is False and h["record"] == "accepted" and h["gamma"] == 5
    assert len(trace.samples) == 1
    s = trace.samples[0]
    assert s.accepted == (3, 5, 0, 2, 5, 1) and s.output_tokens == 22 and s.prompt_tokens == 63
    assert "matches the per-round lines: 30 drafted, 16 accepted" in h["notes"]


def test_llama_cpp_per_round_lines_need_one_draft_length(tmp_path):
    log = tmp_path / "varying.log"
    log.write_text("accepted 2/5 draft tokens, the last target token is: (11)\n"
                   "accepted 1/3 draft tokens, the last target token is: (12)\n")
    with pytest.raises(InputError) as err:
        import_trace("llama-cpp", str(log), ImportOptions())
    assert str(log) in str(err.value) and "line 2 drafted 3 tokens but line 1 drafted 5" in str(err.value)


def test_llama_cpp_summary_only_solves_iid_alpha(tmp_path):
    trace = imported(tmp_path, "llama-cpp", LLAMA_SUMMARY, "--samples", "40", "--seed", "7")
    h = trace.header
    assert h["synthetic"] is True and h["source"] == str(LLAMA_SUMMARY) and h["record"] == "agreement"
    assert h["gamma"] == 5 and h["seed"] == 7
    g = h["generator"]
    assert g["name"] == "iid" and g["solved_from"] == {"n_draft": 5, "n_predict": 128, "n_drafted": 730,
                                                       "n_accept": 526}
    alpha = g["alpha"]
    # the solved alpha reproduces the log's 72.055% through alpha (1 - alpha^g) / ((1 - alpha) g) at g = 5
    assert 100 * alpha * (1 - alpha ** 5) / ((1 - alpha) * 5) == pytest.approx(72.055, abs=5e-4)
    assert 0.89 < alpha < 0.90
    assert len(trace.samples) == 40 and all(s.output_tokens == 128 for s in trace.samples)
    assert estimate_alpha(trace) == pytest.approx(alpha, abs=0.02)          # 5120 bits
    assert "Aggregate only" in h["notes"] and "seeded i.i.d." in h["notes"]


def test_solve_alpha_edges_and_inverse():
    assert solve_alpha(0.0, 4) == 0.0 and solve_alpha(1.0, 4) == 1.0
    for g in (1, 3, 8):
        for a in (0.1, 0.5, 0.93):
            assert solve_alpha(expected_accepted_fraction(a, g), g) == pytest.approx(a, abs=1e-12)
    assert expected_accepted_fraction(0.5, 2) == pytest.approx((0.5 + 0.25) / 2)


def test_llama_cpp_server_line_gives_a_curve(tmp_path):
    trace = imported(tmp_path, "llama-cpp", LLAMA_SERVER, "--samples", "10", "--output-tokens", "50")
    h = trace.header
    assert h["synthetic"] is True and h["record"] == "accepted" and h["gamma"] == 3
    assert h["generator"]["name"] == "curve" and h["generator"]["curve"] == [0.805, 0.632, 0.483]
    assert len(trace.samples) == 10 and all(s.output_tokens == 50 for s in trace.samples)


# ---------------------------------------------------------------------------------------------------- vLLM

def test_vllm_line_gives_a_curve(tmp_path):
    trace = imported(tmp_path, "vllm", VLLM, "--samples", "12", "--output-tokens", "30", "--prompt-tokens", "20",
                     "--seed", "3")
    h = trace.header
    assert h["synthetic"] is True and h["source"] == str(VLLM) and h["gamma"] == 5 and h["seed"] == 3
    assert h["generator"]["curve"] == [0.983, 0.949, 0.915, 0.881, 0.712]
    assert "the last and only such line" in h["notes"]
    assert [(s.prompt_tokens, s.output_tokens) for s in trace.samples] == [(20, 30)] * 12
    assert h["generated_by"] == (f"specsoc trace import --format vllm {VLLM} --samples 12 --prompt-tokens 20 "
                                 "--output-tokens 30 --seed 3")


def test_vllm_lines_are_averaged_weighted_by_drafted_tokens():
    trace = import_trace("vllm", str(VLLM_TWO), ImportOptions(samples=2))
    first, second = [0.983, 0.949, 0.915, 0.881, 0.712], [0.8, 0.6, 0.6, 0.6, 0.4]
    expected = [(295 * a + 25 * b) / 320 for a, b in zip(first, second)]
    assert trace.header["generator"]["curve"] == pytest.approx(expected, abs=1e-6)
    assert trace.header["generator"]["curve"][0] == pytest.approx(309.985 / 320, abs=1e-6)
    assert "weighted by each line's drafted tokens" in trace.header["notes"]


def test_imports_are_deterministic(tmp_path):
    a = imported(tmp_path, "vllm", VLLM, "--seed", "5")
    b = imported(tmp_path, "vllm", VLLM, "--seed", "5")
    assert a.samples == b.samples


# ------------------------------------------------------------------------------------------ unreadable input

@pytest.mark.parametrize("fmt, path, needle", [
    ("llama-cpp", VLLM, "no llama.cpp acceptance lines found"),
    ("vllm", LLAMA_SUMMARY, "no vLLM 'SpecDecoding metrics"),
    ("spec-bench", LLAMA_SUMMARY, "line 1 is not valid JSON"),
])
def test_wrong_format_is_one_line_naming_the_file(fmt, path, needle):
    with pytest.raises(InputError) as err:
        import_trace(fmt, str(path), ImportOptions(gamma=5))
    assert str(path) in str(err.value) and needle in str(err.value) and "\n" not in str(err.value)


def test_unknown_format_empty_and_missing_files(tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(InputError) as err:
        trace_main(["trace", "import", "--format", "sglang", str(VLLM), "--out", str(out)])
    assert "--format" in str(err.value) and str(VLLM) in str(err.value) and "spec-bench, llama-cpp, vllm" in str(err.value)
    empty = tmp_path / "empty.log"
    empty.write_text("\n")
    with pytest.raises(InputError) as err:
        trace_main(["trace", "import", "--format", "llama-cpp", str(empty), "--out", str(out)])
    assert str(empty) in str(err.value) and "empty file" in str(err.value)
    with pytest.raises(InputError) as err:
        trace_main(["trace", "import", "--format", "vllm", str(tmp_path / "nope.log"), "--out", str(out)])
    assert "nope.log" in str(err.value) and "no such file" in str(err.value)
    assert not out.exists()


def test_non_monotone_curve_in_a_log_is_rejected(tmp_path):
    log = tmp_path / "vllm.log"
    log.write_text(VLLM.read_text().replace("0.983, 0.949", "0.903, 0.949"))
    with pytest.raises(InputError) as err:
        import_trace("vllm", str(log), ImportOptions())
    assert str(log) in str(err.value) and "must not increase" in str(err.value)


def test_written_import_is_a_valid_trace_file(tmp_path):
    trace = imported(tmp_path, "spec-bench", SPEC_BENCH, "--gamma", "4")
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["specsoc_trace"] == 1 and len(lines) == 1 + len(trace.samples)
