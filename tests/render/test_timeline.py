"""The Chrome/Perfetto timeline of a run: complete, consistent with the run, and physically sane."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from simulator.cli.main import main

PEAK_B_S = 25.6e9   # the i.MX 95's LPDDR5 peak (socs/imx95.yaml)


def _run(tmp_path, *flags):
    timeline, results = tmp_path / "t.json", tmp_path / "r.json"
    assert main(["run", *flags, "--timeline", str(timeline), "--json", str(results)]) == 0
    return json.loads(timeline.read_text()), json.loads(results.read_text())["results"]


@pytest.fixture(scope="module")
def overlap_run(tmp_path_factory):
    # KV caches, target on four A55 cores, drafter on the Mali, overlap: both busy at once, DRAM shared
    return _run(tmp_path_factory.mktemp("tl"), "--target", "qwen2.5-1.5b", "--draft", "qwen2.5-0.5b", "--kv-cache",
                "--target-device", "cpu:4", "--mode", "overlap", "--alpha", "0.9", "--gamma", "4", "--samples", "2",
                "--prompt-tokens", "24", "--new-tokens", "32", "--granularity", "op")


def _ops(trace):
    return [e for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"] not in ("round", "handoff")]


def test_every_op_appears_exactly_once(overlap_run):
    trace, results = overlap_run
    ops = _ops(trace)
    assert len(ops) == results["ops_simulated"] == trace["otherData"]["ops"]
    keys = [(e["args"]["pass"], e["name"]) for e in ops]
    assert len(set(keys)) == len(keys)


def test_no_two_slices_on_a_track_cross_in_the_whole_file(overlap_run):
    # As Perfetto imports them: integer nanoseconds, end = ts + dur; every track (ops, handoffs, rounds).
    trace, _ = overlap_run
    tracks = defaultdict(list)
    for e in trace["traceEvents"]:
        if e["ph"] == "X":
            ts, dur = round(e["ts"] * 1000), round(e["dur"] * 1000)
            tracks[(e["pid"], e["tid"])].append((ts, ts + dur))
    assert len(tracks) >= 4
    for spans in tracks.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end


def test_overlap_mode_runs_drafter_and_target_at_once(overlap_run):
    trace, results = overlap_run
    draft = sorted((e["ts"], e["ts"] + e["dur"]) for e in _ops(trace) if e["args"]["pass"].startswith("draft"))
    target = sorted((e["ts"], e["ts"] + e["dur"]) for e in _ops(trace) if e["args"]["pass"].startswith("target"))
    overlapping = sum(1 for a0, a1 in target for b0, b1 in draft if a0 < b1 and b0 < a1)
    assert overlapping > 0
    assert results["dram_contention_s"] > 0


def test_dram_counter_never_exceeds_peak_and_shares_add_up(overlap_run):
    trace, _ = overlap_run
    counters = [e["args"] for e in trace["traceEvents"] if e["ph"] == "C"]
    totals = [c["total"] for c in counters]
    shares = [sum(v for k, v in c.items() if k != "total") for c in counters]
    assert max(totals) > 0
    assert max(totals) <= PEAK_B_S / 1e9
    assert shares == pytest.approx(totals)


def test_last_event_ends_at_the_runs_total_time(overlap_run):
    trace, results = overlap_run
    end = max(e["ts"] + e["dur"] for e in trace["traceEvents"] if e["ph"] == "X")
    assert end == pytest.approx(results["total_time_s"] * 1e6, abs=2e-3)   # to the nanosecond the file keeps
    assert trace["otherData"]["total_time_s"] == results["total_time_s"]


def test_one_marker_per_round_with_its_verdict(overlap_run):
    trace, results = overlap_run
    rounds = [e for e in trace["traceEvents"] if e.get("cat") == "round"]
    assert len(rounds) == results["rounds"]
    assert sum(e["args"]["accepted"] for e in rounds) == results["drafts_accepted"]
    assert all(f"{e['args']['accepted']}/{e['args']['drafts']} accepted" in e["name"] for e in rounds)


def test_layer_granularity_keeps_files_small(tmp_path):
    op, _ = _run(tmp_path, "--draft", "none", "--kv-cache", "--target-device", "cpu:6", "--new-tokens", "8")
    layer, _ = _run(tmp_path, "--draft", "none", "--kv-cache", "--target-device", "cpu:6", "--new-tokens", "8",
                    "--granularity", "layer")
    # Llama 3.2 3B: 28 layers x 16 ops + embedding + 3 head ops = 452 ops a pass, against 30 nodes per pass
    assert len(_ops(op)) == 8 * 452
    assert len(_ops(layer)) == 8 * 30


@pytest.mark.parametrize("spec", [dict(kv_cache=True, target_device="cpu:4", mode="overlap", alpha=0.9),
                                  dict(), dict(target_device="cpu:4", mode="overlap"), dict(granularity="layer"),
                                  dict(target_device="cpu:1,matmul=gpu*0.5+cpu:1", draft_device="cpu:1"),
                                  dict(kv_cache=True, target_device="cpu:4", mode="overlap", draft_dtype="int8",
                                       draft_device="npu,fallback=cpu:2@4"),
                                  dict(target_device="cpu:2,matmul=npu*0.5+gpu", draft_device="cpu:2@2,matmul=npu",
                                       draft_dtype="int8", mode="overlap", gamma=3, new_tokens=8)],
                         ids=["overlap", "sequential", "overlap-no-kv", "layer", "partition-alone", "npu-overlap",
                              "handoff-lanes"])
def test_a_streamed_timeline_is_the_document_in_memory(tmp_path, spec):
    # the writer formats pass records' ops and the counter itself: what the JSON encoder gives for the document
    from simulator.render.timeline import chrome_trace, write_chrome_trace
    from simulator.run.builder import ScenarioSpec
    from simulator.run.simulate import simulate_recorded
    scenario = ScenarioSpec(**{"samples": 2, "new_tokens": 16, "granularity": "op", **spec}).build()
    _results, record = simulate_recorded(scenario)
    path, calls = tmp_path / "t.json", []
    write_chrome_trace(str(path), record, lambda done, total: calls.append((done, total)))
    assert json.loads(path.read_text()) == chrome_trace(record)
    assert calls[-1][0] == calls[-1][1] == record.engine.log.ops_count() + len(record.rounds)
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]            # no temporary file left behind


def test_no_two_slices_cross_with_partitions_handing_over_at_once(tmp_path):
    """Both models partitioned across the Neutron, the Mali and the A55s, overlapping: handoffs into one PU come
    at once (from both models, from a split op's shares); each goes on a handoff track where it crosses nothing."""
    trace, _ = _run(tmp_path, "--target-device", "cpu:2,matmul=npu*0.5+gpu", "--draft-device", "cpu:2@2,matmul=npu",
                    "--draft-dtype", "int8", "--mode", "overlap", "--samples", "2", "--new-tokens", "8", "--gamma", "3")
    tracks = defaultdict(list)
    for e in trace["traceEvents"]:
        if e["ph"] == "X":
            ts, dur = round(e["ts"] * 1000), round(e["dur"] * 1000)
            tracks[(e["pid"], e["tid"])].append((ts, ts + dur))
    assert any(tid > 1000 for _pid, tid in tracks)          # some handoffs did come at once
    for spans in tracks.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end
