"""`explore` against the paper's Tables II and III, and `check`'s waterfall against the physics of each effect."""

from __future__ import annotations

import pytest

from simulator.analysis.check import check
from simulator.analysis.explore import ExploreSpec, explore
from simulator.run.builder import ScenarioSpec
from simulator.traces.replay import Replay


def _explore(alpha, simulate=False, gamma_max=8, samples=2):
    scenario = ScenarioSpec(alpha=alpha, samples=samples).build()
    return {v.cores: v for v in explore(ExploreSpec(scenario, alpha, 63, gamma_max, simulate)).variants}


@pytest.fixture(scope="module")
def table_ii():
    return _explore(0.90)


def test_one_core_speculates_with_the_drafter_on_the_gpu_and_gamma_at_least_4(table_ii):
    d = table_ii[1].decision("eq1")
    assert d.speculate and d.heterogeneous and d.gamma >= 4
    assert (d.mapping.draft_device, d.mapping.target_device) == ("mali-g310", "a55:1")
    assert d.to_json()["mapping"] == "draft mali-g310, target a55:1"


def test_simulated_c_values_fall_in_the_papers_ranges(table_ii):
    c = {(m.cores, m.draft_device, m.target_device): m.c for v in table_ii.values() for m in v.mappings}
    assert 0.6 <= c[(1, "a55:1", "a55:1")] <= 1.0          # paper 0.80 (calibrated on it)
    assert 0.3 <= c[(1, "mali-g310", "a55:1")] <= 0.55     # paper 0.41 (calibrated on it)
    for k in (3, 4, 5, 6):                                 # follows from the model: c > 1, no speedup possible
        assert c[(k, "mali-g310", f"a55:{k}")] > 1.0


@pytest.mark.xfail(strict=True, reason="the model's homogeneous c stays 0.80 at every core count (both no-KV passes "
                   "are compute-bound and scale alike), so Eq. 1 speculates at gamma 1 (1.06x); the board measured "
                   "c >= 0.9 at k = 3, 4, 6 (implied by Table II). See the issue-4 note: not fitted on purpose.")
@pytest.mark.parametrize("k", [3, 4, 6])
def test_three_four_and_six_cores_do_not_speculate(table_ii, k):
    assert not table_ii[k].decision("eq1").speculate


def test_three_to_six_cores_never_speculate_heterogeneously(table_ii):
    # what does follow from the model: with >= 3 target cores the Mali drafter is slower than the target
    for k in (3, 4, 5, 6):
        assert not table_ii[k].decision("eq1").heterogeneous


def test_table_iii_no_variant_speculates_at_alpha_0_17():
    variants = _explore(0.17, simulate=True, gamma_max=3, samples=1)
    for v in variants.values():
        assert not v.decision("eq1").speculate
        assert not v.decision("simulated").speculate


def _check(**fields):
    """`specsoc check` with these flags: its granularity defaults to layer."""
    return check(ScenarioSpec(**{"granularity": "layer", **fields}).build())


def _step(result, key):
    return next(s for s in result.steps if s.key == key)


def test_check_default_every_effect_off_matches_eq1_within_1_percent():
    result = _check()
    assert abs(result.gap_all_off_percent) < 1.0
    assert _step(result, "verify_grows").delta_percent < 0      # more positions to verify: slower rounds
    assert _step(result, "dram_contention").delta_percent == 0  # sequential: never two passes at once
    assert result.simulated_speedup == pytest.approx(
        _check(granularity="op").simulated_speedup, rel=1e-9)   # the same answer at op granularity


def test_check_contention_slows_and_overlap_on_separate_pus_speeds_up():
    result = _check(target="qwen2.5-1.5b", draft="qwen2.5-0.5b", kv_cache=True, target_device="cpu:4",
                    mode="overlap", alpha=0.9, gamma=4, samples=2, prompt_tokens=32, new_tokens=48)
    assert _step(result, "overlap").delta_percent > 0
    assert _step(result, "dram_contention").delta_percent < 0
    contention = next(e for e in result.leave_one_out if e.key == "dram_contention")
    assert contention.delta_percent < 0


def test_check_a_non_iid_trace_moves_the_mean_accepted_length_as_its_statistics_predict():
    scenario = ScenarioSpec(trace="translation-semiquant", samples=12, granularity="layer").build()
    result = check(scenario)
    trace_step, iid_step = _step(result, "acceptance"), _step(result, "samples")
    # the trace's own statistics: replay each sample sequentially at gamma 5 (no drawn positions: agreement record)
    rounds = [n for s in scenario.workload.samples for n in Replay.of(s, None, 0.0, None).rounds(5)]
    assert trace_step.mean_accepted == pytest.approx(sum(rounds) / len(rounds), rel=1e-12)
    # and it is not what i.i.d. acceptance at the same mean alpha gives (samples differ in alpha: median 0.17,
    # a few near 1; which way the mixture moves the mean depends on the samples, the replay says by how much)
    assert abs(trace_step.mean_accepted / iid_step.mean_accepted - 1) > 0.05
    assert trace_step.delta_percent != 0


def test_moving_the_target_is_not_credited_to_speculation():
    # an fp16 target runs faster alone on the Mali than on one A55 core: at alpha 0.17 the best choice is to move
    # it there and not speculate, never "speculate with the target on the GPU"
    scenario = ScenarioSpec(target_dtype="fp16", alpha=0.17, samples=1, prompt_tokens=16, new_tokens=8).build()
    one_core = explore(ExploreSpec(scenario, 0.17, 63, 3, True)).variants[0]
    for which in ("eq1", "simulated"):
        d = one_core.decision(which)
        assert not d.speculate and d.mapping.target_device == "mali-g310" and d.speedup > 1.0
        assert d.to_json()["mapping"] == "target mali-g310 alone"


def test_check_counts_its_simulations_and_keeps_the_overlap_granularity():
    from simulator.run.simulate import simulate
    scenario = ScenarioSpec(target="qwen2.5-1.5b", draft="qwen2.5-0.5b", kv_cache=True, target_device="cpu:4",
                            mode="overlap", alpha=0.9, samples=1, prompt_tokens=16, new_tokens=24,
                            granularity="layer").build()
    calls = []
    result = check(scenario, 2.0, lambda phase, done, total: calls.append((done, total)))
    assert calls == [(i, calls[0][1]) for i in range(1, len(calls) + 1)] and calls[-1][0] == calls[-1][1]
    # the check's full scenario is the run's, at the run's (layer) granularity
    assert result.simulated_speedup == pytest.approx(simulate(scenario).speedup, rel=1e-9)


def test_explore_in_a_process_pool_gives_the_serial_result():
    import json

    from simulator.analysis.explore import ExploreSpec, explore
    from simulator.run.builder import ScenarioSpec
    scenario = ScenarioSpec(alpha=0.9, samples=1, prompt_tokens=12, new_tokens=6).build()
    spec = ExploreSpec(scenario, 0.9, 12, 2, True)
    serial, pooled = explore(spec, jobs=1), explore(spec, jobs=2)
    assert json.dumps(serial.to_json(), sort_keys=True) == json.dumps(pooled.to_json(), sort_keys=True)


def test_explore_with_a_list_of_gammas_gives_those_of_the_full_explore_and_its_csv_the_same_numbers(tmp_path, capsys):
    import csv
    import json

    from simulator.cli.main import main
    small = ["explore", "--alpha", "0.8", "--samples", "2", "--seq-len", "12", "--jobs", "1"]
    full, some, table = tmp_path / "full.json", tmp_path / "some.json", tmp_path / "some.csv"
    assert main([*small, "--gamma-max", "3", "--json", str(full)]) == 0
    assert main([*small, "--gamma", "3,1", "--json", str(some), "--csv", str(table)]) == 0
    capsys.readouterr()
    full_maps, some_maps = json.loads(full.read_text())["mappings"], json.loads(some.read_text())["mappings"]
    assert len(full_maps) == len(some_maps)
    for f, s in zip(full_maps, some_maps):
        assert set(s["speedup_simulated_by_gamma"]) == {"1", "3"}
        for g in ("1", "3"):
            assert s["speedup_simulated_by_gamma"][g] == f["speedup_simulated_by_gamma"][g]
            assert s["speedup_eq1_by_gamma"][g] == f["speedup_eq1_by_gamma"][g]
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == len(some_maps) * 3                   # gamma 0 (the target alone), 1 and 3
    for row in rows:
        m = next(m for m in some_maps if (m["cluster"], str(m["cores"]), m["draft_device"], m["target_device"])
                 == (row["cluster"], row["cores"], row["draft_device"], row["target_device"]))
        if row["gamma"] != "0":
            assert float(row["speedup_simulated"]) == m["speedup_simulated_by_gamma"][row["gamma"]]
            lo, hi = m["speedup_simulated_ci95_by_gamma"][row["gamma"]]
            assert (float(row["speedup_simulated_ci95_lo"]), float(row["speedup_simulated_ci95_hi"])) == (lo, hi)
        assert float(row["c"]) == m["c"]


@pytest.mark.parametrize("flags,words", [(["--gamma", "65"], "--gamma: must all be in 1..64"),
                                         (["--gamma-max", "100000000"], "--gamma-max: at most 64"),
                                         (["--gamma", "1" * 401], "--gamma: must all be in 1..64"),
                                         (["--gamma", ""], "--gamma: must be comma-separated whole numbers")])
def test_explore_refuses_gammas_beyond_a_design_point_in_one_line(flags, words, capsys):
    from simulator.cli.main import main
    assert main(["explore", "--no-simulate", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
