"""Acceptance traces: the file format, replay at any gamma, the synthetic generators and the bundled traces.

Expected values are written out by hand (replays of short agreement strings) or come from closed forms
(i.i.d. tokens per round (1 - alpha^(g+1)) / (1 - alpha); a curve's per-position acceptance is the curve).
"""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

from simulator.analysis.tracestats import lag1_autocorrelation, replay_rounds
from simulator.common.errors import InputError
from simulator.traces.replay import UNKNOWN, Replay, agreement_stream
from simulator.traces.synth import Curve, Iid, Lengths, Markov, generate
from simulator.traces.trace import Trace, TraceSample, estimate_alpha, load_trace
from tests.trace_support import ROOT, trace_main, write_lines

AGREEMENT = {"specsoc_trace": 1, "record": "agreement"}


def replay(bits: str) -> Replay:
    return Replay.of(TraceSample(63, len(bits), agreement=tuple(int(b) for b in bits)), None, 0.5,
                     np.random.default_rng(0))


# ------------------------------------------------------------------------------------------ replay by hand

def test_agreement_record_replayed_at_gamma_2_and_6_by_hand(tmp_path):
    path = write_lines(tmp_path / "t.jsonl", AGREEMENT, {"prompt_tokens": 63, "agreement": "1101111100111"})
    trace = load_trace(str(path))
    sample = trace.samples[0]
    assert sample.output_tokens == 13 and trace.label == str(path)
    # positions:  0 1 2 3 4 5 6 7 8 9 10 11 12
    # bits:       1 1 0 1 1 1 1 1 0 0 1  1  1
    # gamma 2: p=0 accepts 0,1 (n=2) -> p=3 accepts 3,4 (2) -> p=6 accepts 6,7 (2) -> p=9 bit 0 (n=0)
    #          -> p=10 accepts 10,11 (2) -> p=13 = end
    r = Replay.of(sample, None, 0.5, np.random.default_rng(0))
    assert r.rounds(2) == [2, 2, 2, 0, 2]
    # gamma 6: p=0 accepts 0,1, bit 2 is 0 (n=2) -> p=3 accepts 3..7, bit 8 is 0 (5) -> p=9 bit 0 (0)
    #          -> p=10: 3 tokens left, so at most 2 drafts: accepts 10,11 (2) -> p=13 = end
    assert r.rounds(6) == [2, 5, 0, 2]
    # gamma 1: 0 (1) | 2 (0) | 3 (1) | 5 (1) | 7 (1) | 9 (0) | 10 (1) | 12: one token left, no draft (0)
    assert r.rounds(1) == [1, 0, 1, 1, 1, 0, 1, 0]
    # accepted() itself only stops at gamma or at the end of the sample: the run 10, 11, 12 is 3 long
    assert r.accepted(10, 6) == 3 and r.accepted(3, 6) == 5 and r.accepted(9, 6) == 0 and r.accepted(13, 6) == 0
    for g in (1, 2, 6, 9):
        assert sum(n + 1 for n in r.rounds(g)) == 13
    assert r.drawn == 0
    assert estimate_alpha(trace) == pytest.approx(10 / 13)


def test_accepted_record_converts_exactly_to_agreement():
    sample = TraceSample(63, 14, accepted=(2, 3, 0, 3, 1))
    U = UNKNOWN
    assert agreement_stream(sample, 3) == [1, 1, 0, 1, 1, 1, U, 0, 1, 1, 1, U, 1, 0]
    r = Replay.of(sample, 3, 0.7, np.random.default_rng(0))
    assert r.rounds(3) == [2, 3, 0, 3, 1] and r.drawn == 0
    # at gamma 5 the unknown bonus positions 6 and 11 are consulted; alpha 1 draws them as 1, alpha 0 as 0
    ones = Replay.of(sample, 3, 1.0, np.random.default_rng(0))
    assert ones.rounds(5) == [2, 4, 5] and ones.drawn == 2        # 0:110 | 3:1111(6)0 | 8:111 1(11) 1, end
    zeros = Replay.of(sample, 3, 0.0, np.random.default_rng(0))
    assert zeros.rounds(5) == [2, 3, 0, 3, 1] and zeros.drawn == 2


def test_trace_round_trips_with_sample_metadata(tmp_path):
    trace = Trace({"specsoc_trace": 1, "record": "accepted", "gamma": 4, "synthetic": False},
                  (TraceSample(10, 5, accepted=(4,), id=81, category="translation"),
                   TraceSample(12, 3, accepted=(0, 1), alpha=0.25)))
    path = tmp_path / "rt.jsonl"
    trace.write(str(path))
    again = load_trace(str(path))
    assert again.samples == trace.samples and again.header == trace.header


# --------------------------------------------------------------------------------------------- bad traces

BAD = {
    "accepted_over_gamma": ([{"specsoc_trace": 1, "record": "accepted", "gamma": 2},
                             {"prompt_tokens": 5, "accepted": [1, 3]}], "exceeds the recorded gamma 2"),
    "negative_prompt": ([AGREEMENT, {"prompt_tokens": -5, "agreement": "101"}], "must be in 1..131,072"),
    "negative_accepted": ([{"specsoc_trace": 1, "record": "accepted", "gamma": 2},
                           {"prompt_tokens": 5, "accepted": [1, -1]}], "must be >= 0"),
    "negative_output": ([AGREEMENT, {"prompt_tokens": 5, "output_tokens": -2, "agreement": "101"}], "must be in 1..131,072"),
    "empty": ([], "empty trace"),
    "header_only": ([AGREEMENT], "a header but no samples"),
    "missing_header": ([{"prompt_tokens": 5, "agreement": "101"}], "missing header"),
    "unknown_record": ([{"specsoc_trace": 1, "record": "tokens"}, {"prompt_tokens": 5, "tokens": [1]}],
                       "must be one of agreement, accepted"),
    "malformed_json": ([AGREEMENT, '{"prompt_tokens": 5, "agreement": "10'], "line 2 is not valid JSON"),
    "output_mismatch": ([{"specsoc_trace": 1, "record": "accepted", "gamma": 2},
                         {"prompt_tokens": 5, "output_tokens": 9, "accepted": [1, 2]}], "the rounds emit 5"),
    "bad_bits": ([AGREEMENT, {"prompt_tokens": 5, "agreement": "10x"}], "string of 0s and 1s"),
    "bad_sample_alpha": ([AGREEMENT, {"prompt_tokens": 5, "agreement": "10", "alpha": 2}], "in [0, 1]"),
    "bad_synthetic_flag": ([{**AGREEMENT, "synthetic": "yes"}, {"prompt_tokens": 5, "agreement": "1"}],
                           "must be true or false"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_trace_is_one_line_naming_the_file(case, tmp_path):
    lines, needle = BAD[case]
    path = write_lines(tmp_path / f"{case}.jsonl", *lines)
    with pytest.raises(InputError) as err:
        load_trace(str(path))
    message = str(err.value)
    assert str(path) in message and needle in message and "\n" not in message
    with pytest.raises(InputError) as err:             # the CLI path: `specsoc trace stats FILE`
        trace_main(["trace", "stats", str(path)])
    assert str(path) in str(err.value)


# ---------------------------------------------------------------------------------- synthetic generators

def test_iid_mean_tokens_per_round_matches_eq1():
    for alpha in (0.3, 0.6, 0.9):
        trace = generate(Iid(alpha=alpha), 40, Lengths(63, 0, 1000, 0), seed=11)
        assert trace.header["synthetic"] is True and trace.header["generator"]["alpha"] == alpha
        for gamma in (1, 3, 5):
            rounds, drawn = replay_rounds(trace, gamma, alpha)
            complete = [n for r in rounds for n in r[:-1]]       # each sample's last round is cut by its end
            assert len(complete) >= 2000 and drawn == 0
            tokens = sum(n + 1 for n in complete) / len(complete)
            expected = (1 - alpha ** (gamma + 1)) / (1 - alpha)
            assert tokens == pytest.approx(expected, rel=0.02), (alpha, gamma)


def test_iid_quantiles_give_per_sample_alphas_with_the_requested_quantiles():
    trace = generate(Iid(quantiles=((0, 0), (0.5, 0.17), (0.9, 0.9), (1, 1))), 2000, Lengths(5, 0, 1, 0), seed=5)
    alphas = np.array([s.alpha for s in trace.samples])
    assert alphas.min() >= 0 and alphas.max() <= 1
    assert np.median(alphas) == pytest.approx(0.17, abs=0.03)
    assert np.quantile(alphas, 0.9) == pytest.approx(0.90, abs=0.03)
    assert trace.header["generator"]["alpha_quantiles"] == [[0, 0], [0.5, 0.17], [0.9, 0.9], [1, 1]]


def test_curve_generator_reproduces_per_position_acceptance():
    curve = (0.9, 0.7, 0.5, 0.2)
    trace = generate(Curve(curve), 100, Lengths(63, 0, 400, 0), seed=3)
    assert trace.record == "accepted" and trace.gamma == 4
    for s in trace.samples:
        assert sum(n + 1 for n in s.accepted) == s.output_tokens == 400 and max(s.accepted) <= 4
    complete = [n for s in trace.samples for n in s.accepted[:-1]]
    assert len(complete) > 10_000
    for i, a in enumerate(curve, 1):
        assert sum(n >= i for n in complete) / len(complete) == pytest.approx(a, abs=0.02), i


def test_curve_with_a_zero_never_accepts_past_it():
    trace = generate(Curve((0.5, 0.0, 0.0)), 20, Lengths(5, 0, 50, 0), seed=1)
    assert max(n for s in trace.samples for n in s.accepted) == 1


def test_markov_has_the_target_mean_and_lag1_correlation():
    trace = generate(Markov(0.6, 0.5), 20, Lengths(63, 0, 1000, 0), seed=2)
    bits = np.array([b for s in trace.samples for b in s.agreement])
    assert bits.mean() == pytest.approx(0.6, abs=0.02)
    r, pairs = lag1_autocorrelation(trace)
    assert pairs == 20 * 999 and r == pytest.approx(0.5, abs=0.03)
    # the transition probabilities, directly: P(1|1) = 0.6 + 0.5 * 0.4 = 0.8, P(1|0) = 0.6 * 0.5 = 0.3
    after = {0: [], 1: []}
    for s in trace.samples:
        for x, y in zip(s.agreement, s.agreement[1:]):
            after[x].append(y)
    assert np.mean(after[1]) == pytest.approx(0.8, abs=0.02) and np.mean(after[0]) == pytest.approx(0.3, abs=0.02)


def test_lengths_are_rounded_normals_clipped_at_one():
    trace = generate(Iid(alpha=0.5), 500, Lengths(3, 10, 63, 0), seed=9)
    prompts = [s.prompt_tokens for s in trace.samples]
    assert min(prompts) == 1 and all(s.output_tokens == 63 for s in trace.samples)


@pytest.mark.parametrize("argv, needle", [
    (["iid", "--alpha", "1.5"], "--alpha: must be in [0, 1]"),
    (["iid", "--alpha-quantiles", "0:0,0.5:0.6,0.9:0.4,1:1"], "alpha must not decrease"),
    (["iid", "--alpha-quantiles", "0.1:0,1:1"], "start at probability 0"),
    (["iid", "--alpha-quantiles", "0:0,1"], "probability:alpha points"),
    (["curve", "--curve", "0.5,0.7"], "must not increase"),
    (["markov", "--alpha", "0.5", "--rho", "1"], "--rho: must be in [0, 1)"),
    (["iid", "--alpha", "0.5", "--output-tokens", "0"], "--output-tokens: must be in 1..131,072"),
    (["iid", "--alpha", "0.5", "--samples", "0"], "--samples: must be in 1..100,000"),
])
def test_bad_generator_parameters(argv, needle, tmp_path):
    out = tmp_path / "t.jsonl"
    with pytest.raises(InputError) as err:
        trace_main(["trace", "synth", *argv, "--out", str(out)])
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert not out.exists()


def test_same_seed_gives_a_byte_identical_file(tmp_path):
    command = ["trace", "synth", "markov", "--alpha", "0.7", "--rho", "0.3", "--samples", "5",
               "--output-tokens", "40", "--output-sd-tokens", "5", "--seed", "17"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    trace_main([*command, "--out", str(tmp_path / "a" / "t.jsonl")])
    trace_main([*command, "--out", str(tmp_path / "b" / "t.jsonl")])
    first = (tmp_path / "a" / "t.jsonl").read_bytes()
    assert first == (tmp_path / "b" / "t.jsonl").read_bytes()
    trace_main([*command[:-1], "18", "--out", str(tmp_path / "c.jsonl")])
    assert (tmp_path / "c.jsonl").read_bytes() != first
    header = json.loads(first.decode().splitlines()[0])
    assert header["generated_by"] == ("specsoc trace synth markov --alpha 0.7 --rho 0.3 --samples 5 --prompt-tokens "
                                      "63 --prompt-sd-tokens 0 --output-tokens 40 --output-sd-tokens 5 --seed 17")
    assert header["seed"] == 17 and header["generator"] == {
        "name": "markov", "alpha": 0.7, "rho": 0.3, "samples": 5,
        "prompt_tokens": {"mean": 63, "sd": 0}, "output_tokens": {"mean": 40, "sd": 5}}


# ------------------------------------------------------------------------------------------ bundled traces

BUNDLED = ("translation-semiquant", "translation-fp16", "vllm-humaneval", "vllm-writing")


def readme_commands() -> dict[str, list[str]]:
    out = {}
    for line in (ROOT / "traces" / "README.md").read_text().splitlines():
        if line.strip().startswith("specsoc trace synth"):
            words = shlex.split(line)
            out[words[words.index("--out") + 1]] = words
    return out


def test_bundled_traces_are_labelled_small_and_reproduced_by_their_commands(tmp_path):
    commands = readme_commands()
    assert sorted(commands) == sorted(f"traces/{name}.jsonl" for name in BUNDLED)
    for name in BUNDLED:
        path = ROOT / "traces" / f"{name}.jsonl"
        assert path.stat().st_size < 100_000
        trace = load_trace(name)
        h = trace.header
        assert h["synthetic"] is True and h["imitates"] and h["notes"] and len(trace.samples) == 80
        words = commands[f"traces/{name}.jsonl"]
        i = words.index("--out")
        assert h["generated_by"] == shlex.join(words[: i] + words[i + 2:])
        out = tmp_path / f"{name}.jsonl"
        trace_main([*words[1: i], "--out", str(out)])
        assert out.read_bytes() == path.read_bytes(), name
    assert "assumption" in load_trace("translation-fp16").header["notes"]
    assert load_trace("vllm-humaneval").header["generator"]["curve"] == [0.837, 0.685, 0.562, 0.46, 0.368, 0.283,
                                                                          0.217, 0.161]
    assert load_trace("translation-semiquant").header["generator"]["alpha_quantiles"] == [
        [0, 0], [0.5, 0.17], [0.9, 0.9], [1, 1]]
