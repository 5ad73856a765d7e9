"""`specsoc trace stats`: the statistics of a hand-written trace, closed forms, and the tests of independence."""

from __future__ import annotations

import json
import math

import pytest

from simulator.analysis.tracestats import (
    chi_square,
    chi_square_sf,
    iid_histogram,
    iid_mean_accepted,
    trace_stats,
    upper_gamma_q,
)
from simulator.common.errors import InputError
from simulator.traces.synth import Curve, Iid, Lengths, Markov, generate
from simulator.traces.trace import load_trace
from tests.trace_support import trace_main, write_lines

AGREEMENT = {"specsoc_trace": 1, "record": "agreement"}


# -------------------------------------------------------------------------------------------- closed forms

@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 2.5, 7.0, 30.0, 200.0])
def test_incomplete_gamma_against_closed_forms(x):
    assert upper_gamma_q(1, x) == pytest.approx(math.exp(-x), rel=1e-12, abs=1e-300)
    assert chi_square_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-12, abs=1e-300)
    assert chi_square_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10, abs=1e-300)
    assert chi_square_sf(x, 4) == pytest.approx(math.exp(-x / 2) * (1 + x / 2), rel=1e-12, abs=1e-300)
    # Q(3/2, x) = erfc(sqrt x) + 2 sqrt(x / pi) e^-x: both the series (x < 2.5) and the continued fraction
    assert upper_gamma_q(1.5, x) == pytest.approx(math.erfc(math.sqrt(x)) + 2 * math.sqrt(x / math.pi) * math.exp(-x),
                                                  rel=1e-10, abs=1e-300)


def test_chi_square_critical_values():
    assert chi_square_sf(3.841459, 1) == pytest.approx(0.05, abs=1e-6)
    assert chi_square_sf(11.0705, 5) == pytest.approx(0.05, abs=1e-5)
    assert chi_square_sf(0.0, 3) == 1.0


def test_iid_predictions():
    assert iid_histogram(0.5, 2) == [0.5, 0.25, 0.25]
    assert sum(iid_histogram(0.7, 6)) == pytest.approx(1)
    for a in (0.3, 0.9):
        for g in (1, 4):
            assert iid_mean_accepted(a, g) + 1 == pytest.approx((1 - a ** (g + 1)) / (1 - a))


def test_chi_square_merges_bins_expecting_fewer_than_five():
    # 20 rounds at P = [0.5, 0.25, 0.125, 0.125]: expected 10, 5, 2.5, 2.5 -> bins {0}, {1}, {2, 3}
    result = chi_square([12, 3, 3, 2], [0.5, 0.25, 0.125, 0.125])
    assert [b["accepted"] for b in result["bins"]] == [[0], [1], [2, 3]]
    assert result["dof"] == 1
    assert result["chi_square"] == pytest.approx((12 - 10) ** 2 / 10 + (3 - 5) ** 2 / 5 + 0)
    assert result["p_value"] == pytest.approx(math.erfc(math.sqrt(result["chi_square"] / 2)))
    assert chi_square([3, 1], [0.5, 0.5])["p_value"] is None          # too few rounds for a test


# ------------------------------------------------------------------------------------------ a hand trace

def test_stats_of_a_hand_trace(tmp_path):
    path = write_lines(tmp_path / "hand.jsonl", AGREEMENT, {"prompt_tokens": 7, "agreement": "1101111100111"})
    out = tmp_path / "stats.json"
    trace_main(["trace", "stats", str(path), "--gamma", "2", "--json", str(out)])
    stats = json.loads(out.read_text())
    assert stats["trace"] == str(path) and stats["samples"] == 1 and stats["output_tokens"] == 13
    alpha = 10 / 13
    assert stats["alpha"] == pytest.approx(alpha)
    # gamma 2 rounds [2, 2, 2, 0, 2]; the last is cut by the end of the sample, so 4 complete rounds
    g2 = next(r for r in stats["by_gamma"] if r["gamma"] == 2)
    assert (g2["rounds"], g2["complete_rounds"]) == (5, 4)
    assert g2["mean_accepted"] == pytest.approx(6 / 4) and g2["tokens_per_round"] == pytest.approx(10 / 4)
    assert g2["tokens_per_round_all_rounds"] == pytest.approx(13 / 5)
    assert g2["iid_mean_accepted"] == pytest.approx(alpha + alpha ** 2)
    # gamma 6 rounds [2, 5, 0, 2]: complete [2, 5, 0]
    g6 = next(r for r in stats["by_gamma"] if r["gamma"] == 6)
    assert g6["mean_accepted"] == pytest.approx(7 / 3)
    assert [r["gamma"] for r in stats["by_gamma"]] == list(range(1, 9))
    hist = stats["histogram"]
    assert hist["gamma"] == 2 and [b["rounds"] for b in hist["bins"]] == [1, 0, 3]
    assert [b["iid_share"] for b in hist["bins"]] == pytest.approx([1 - alpha, alpha * (1 - alpha), alpha ** 2])
    assert [p["acceptance"] for p in stats["per_position"]] == pytest.approx([3 / 4, 3 / 4])
    # lag-1 pairs: 11 x7, 10 x2, 01 x2, 00 x1 around the mean 10/13:
    # covariance (7*9 - 4*30 + 100) / 169 / 12, variance (10*9 + 3*100) / 169 / 13 -> r = 559 / 4680
    ind = stats["independence"]
    assert ind["pairs"] == 12 and ind["lag1_autocorrelation"] == pytest.approx(559 / 4680)
    assert ind["z"] == pytest.approx(559 / 4680 * math.sqrt(12)) and ind["dependent"] is False
    assert ind["p_value"] is None                                    # 4 rounds: too few for a chi-square


def test_accepted_record_replays_without_draws_at_its_gamma_only(tmp_path):
    path = write_lines(tmp_path / "acc.jsonl", {"specsoc_trace": 1, "record": "accepted", "gamma": 3},
                       {"prompt_tokens": 5, "accepted": [2, 3, 0, 3, 1]})
    stats = trace_stats(load_trace(str(path)))
    by = {r["gamma"]: r for r in stats["by_gamma"]}
    assert by[3]["drawn_positions"] == 0 and stats["histogram"]["gamma"] == 3
    assert by[3]["mean_accepted_all_rounds"] == pytest.approx(9 / 5)
    assert by[5]["drawn_positions"] == 2
    # alpha: 9 accepted drafts, 3 rejections (rounds with n < 3)
    assert stats["alpha"] == pytest.approx(9 / 12)


# ----------------------------------------------------------------------------------- tests of independence

def test_markov_dependence_is_flagged_and_iid_is_not():
    bursty = trace_stats(generate(Markov(0.6, 0.5), 20, Lengths(63, 0, 300, 0), seed=4))
    assert bursty["independence"]["dependent"] is True and bursty["independence"]["z"] > 10
    plain = trace_stats(generate(Markov(0.6, 0.0), 20, Lengths(63, 0, 300, 0), seed=4))
    assert plain["independence"]["dependent"] is False and abs(plain["independence"]["z"]) <= 3
    assert plain["independence"]["p_value"] > 0.001


def test_chi_square_rejects_a_non_geometric_curve_and_accepts_iid():
    curve = trace_stats(generate(Curve((0.95, 0.9, 0.85, 0.1)), 30, Lengths(63, 0, 200, 0), seed=1))
    assert curve["histogram"]["gamma"] == 4 and curve["independence"]["p_value"] < 1e-6
    iid = trace_stats(generate(Iid(alpha=0.7), 30, Lengths(63, 0, 200, 0), seed=1), gamma=4)
    assert iid["independence"]["p_value"] > 0.001


def test_stats_errors_and_determinism(tmp_path, capsys):
    with pytest.raises(InputError) as err:
        trace_main(["trace", "stats", "vllm-writing", "--gamma", "0"])
    assert str(err.value).startswith("--gamma")
    with pytest.raises(InputError) as err:
        trace_main(["trace", "stats", str(tmp_path / "missing.jsonl")])
    assert "missing.jsonl" in str(err.value)
    trace_main(["trace", "stats", "vllm-writing", "--json", str(tmp_path / "a.json")])
    trace_main(["trace", "stats", "vllm-writing", "--json", str(tmp_path / "b.json")])
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    printed = capsys.readouterr().out
    assert "chi-square vs truncated geometric" in printed and "lag-1 autocorrelation" in printed


def test_help_texts_exist(capsys):
    for argv in (["trace", "--help"], ["trace", "synth", "--help"], ["trace", "synth", "iid", "--help"],
                 ["trace", "import", "--help"], ["trace", "stats", "--help"]):
        with pytest.raises(SystemExit) as done:
            trace_main(argv)
        assert done.value.code == 0
        assert "examples:" in capsys.readouterr().out
    with pytest.raises(InputError):
        trace_main(["trace"])
