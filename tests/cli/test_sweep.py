"""`specsoc sweep`: points from a sweep file, each equal to `specsoc run` with its values, appended as they finish,
resumable after a kill, the same in parallel; bad sweep files refused before anything runs."""

from __future__ import annotations

import json

import pytest
import yaml

from simulator.cli.main import main

SWEEP = {"base": {"samples": 2, "new_tokens": 12, "prompt_tokens": 12},
         "axes": {"soc.gpus.mali-g310.shader_cores": [1, 2], "alpha": [0.8, 0.9]}}


def write(tmp_path, doc, name="s.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def lines(path):
    return sorted(path.read_text().splitlines())


def test_each_point_is_specsoc_run_with_its_values(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert main(["sweep", write(tmp_path, SWEEP), "--out", str(out), "--jobs", "1"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 4
    # same alpha -> same seed (the same samples), whatever the hardware
    seeds = {(r["params"]["alpha"], r["params"]["soc.gpus.mali-g310.shader_cores"]): r["seed"] for r in records}
    assert seeds[(0.8, 1)] == seeds[(0.8, 2)] != seeds[(0.9, 1)]
    one = next(r for r in records if r["params"] == {"soc.gpus.mali-g310.shader_cores": 1, "alpha": 0.9})
    run_json = tmp_path / "run.json"
    assert main(["run", "--samples", "2", "--new-tokens", "12", "--prompt-tokens", "12", "--alpha", "0.9",
                 "--seed", str(one["seed"]), "--json", str(run_json)]) == 0      # the bundled Mali has 1 core
    assert one["results"]["speedup"] == json.loads(run_json.read_text())["results"]["speedup"]


def test_in_parallel_the_same_points(tmp_path, capsys):
    serial, parallel = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    sweep = write(tmp_path, SWEEP)
    assert main(["sweep", sweep, "--out", str(serial), "--jobs", "1"]) == 0
    assert main(["sweep", sweep, "--out", str(parallel), "--jobs", "2"]) == 0
    assert serial.read_bytes() == parallel.read_bytes()      # a finished sweep's file is in point order


def test_a_killed_sweep_resumes_with_only_the_missing_points(tmp_path, capsys):
    full, cut = tmp_path / "full.jsonl", tmp_path / "cut.jsonl"
    sweep = write(tmp_path, SWEEP)
    assert main(["sweep", sweep, "--out", str(full), "--jobs", "1"]) == 0
    kept = full.read_text().splitlines()
    cut.write_text("\n".join(kept[:2]) + "\n" + kept[2][:25])      # two points, and one cut short by a kill
    capsys.readouterr()
    assert main(["sweep", sweep, "--out", str(cut), "--resume", "--jobs", "1"]) == 0
    assert "2 points run, 2 kept" in capsys.readouterr().out
    assert lines(cut) == lines(full)
    assert main(["sweep", sweep, "--out", str(cut), "--jobs", "1"]) == 2      # exists, no --resume: refused


def test_csv_beside_the_jsonl(tmp_path, capsys):
    out, table = tmp_path / "r.jsonl", tmp_path / "r.csv"
    assert main(["sweep", write(tmp_path, SWEEP), "--out", str(out), "--csv", str(table), "--jobs", "1"]) == 0
    rows = table.read_text().splitlines()
    assert rows[0].startswith("point,soc.gpus.mali-g310.shader_cores,alpha,seed,") and len(rows) == 5   # axis order


@pytest.mark.parametrize("doc,words", [
    ({"base": {"sample": 2}, "axes": {"alpha": [0.9]}}, ["base.sample", "unknown scenario field"]),
    ({"axes": {"alphas": [0.9]}}, ["axes.alphas", "unknown axis"]),
    ({"axes": {"alpha": []}}, ["axes.alpha", "non-empty list"]),
    ({"axes": {"soc.dram.peak_bandwidth": [10]}}, ["axes.soc.dram.peak_bandwidth", "no such parameter"]),
    ({"axes": {"soc.gpus.mali-g999.shader_cores": [2]}}, ["no 'mali-g999'"]),
    ({"axes": {}}, ["at least one axis"]),
    ({"base": {"gamma": "five"}, "axes": {"alpha": [0.9]}}, ["base.gamma: must be a whole number"]),
    ({"base": [1, 2], "axes": {"alpha": [0.9]}}, ["base: must be a mapping"]),
    ({"axes": {"gamma": [1, 0]}}, ["axes.gamma: must be in 1..64, got 0 (with gamma=0)"]),
    ({"axes": {"gamma": [1, 2, 1]}}, ["axes.gamma", "lists 1 twice"]),
    ({"axes": {"alpha": {"from": 0.0, "to": 1.0, "step": 1.0e-320}}}, ["not a range of 1..1,000,000 values"]),
    ({"axes": {"target": ["llama-3.2-3b", "no-such-model"]}}, ["no-such-model: no such file", "(with target=no-such-model)"]),
    ({"axes": {"soc.dram.peak_bandwidth_gb_s": [25.6, -1]}}, ["peak_bandwidth_gb_s", "(with soc.dram.peak_bandwidth_gb_s=-1)"]),
    ({"axes": {"target_dtype": ["int8", "zz"]}}, ["axes.target_dtype: unknown weight format 'zz'"]),
    ({"axes": {"trace": ["translation-fp16"], "alpha": [0.5]}}, ["give either --trace or --alpha"]),
    ({"base": {"draft_device": "cpu:1"}, "axes": {"soc": ["rpi5", "imx95"], "target_device": ["cpu:1@1", "cpu:6"]}},
     ["axes.target_device", "(with soc=rpi5, target_device=cpu:6)"]),
    ({"axes": {"soc.cpu_clusters.a55.isa": [["dotprod"], "fp16"]}}, ["isa"]),
    ({"axes": {"soc": ["imx95", "rk3588"], "soc.gpus.mali-g310.shader_cores": [1]}}, ["socs/rk3588.yaml has no 'mali-g310'"]),
    ({"axes": {"gamma": [1]}, "reduce": [{"maximize": "speed", "over": ["gamma"]}]}, ["reduce[0]", "unknown metric"]),
    ({"axes": {"gamma": [1]}, "reduce": [{"maximize": "speedup", "over": ["alpha"]}]}, ["'alpha' is not an axis"]),
    ({"axes": {"gamma": [1]}, "reduce": [{"maximize": "speedup", "minimize": "rounds", "over": "gamma"}]},
     ["one of maximize"]),
    ({"axes": {"gamma": [1]}, "reduce": [{"maximize": "speedup", "over": "gamma", "per": "alpha"}]}, ["per"]),
    ({"axes": {"gamma": [1]}, "reduce": {"maximize": "speedup"}}, ["reduce: must be a list"]),
    ({"axes": {"gamma": [1]}, "reduce": [{"maximize": "speedup", "over": ["gamma", "gamma"]}]}, ["distinct axes"]),
])
def test_bad_sweep_files_are_refused_before_anything_runs(tmp_path, capsys, doc, words):
    out = tmp_path / "r.jsonl"
    assert main(["sweep", write(tmp_path, doc), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    for word in words:
        assert word in err, err
    assert not out.exists()


def test_on_a_dask_cluster_the_same_points(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    serial, remote = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    sweep = write(tmp_path, SWEEP)
    assert main(["sweep", sweep, "--out", str(serial), "--jobs", "1"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert main(["sweep", sweep, "--out", str(remote), "--scheduler", cluster.scheduler_address]) == 0
    assert lines(serial) == lines(remote)


def test_an_unreachable_scheduler_is_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "r.jsonl"
    assert main(["sweep", write(tmp_path, SWEEP), "--out", str(out), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not out.exists()


def test_killed_at_random_moments_then_resumed_it_ends_as_an_uninterrupted_run(tmp_path, capsys):
    import os
    import random
    import signal
    import subprocess
    import sys
    import time
    doc = {"base": {"samples": 8, "new_tokens": 48, "prompt_tokens": 48, "granularity": "op"},
           "axes": {"alpha": [0.5, 0.6, 0.7, 0.8, 0.9], "gamma": [1, 2, 3], "soc.gpus.mali-g310.shader_cores": [1, 2]}}
    sweep = write(tmp_path, doc)
    whole, killed = tmp_path / "whole.jsonl", tmp_path / "killed.jsonl"
    assert main(["sweep", sweep, "--out", str(whole), "--jobs", "1"]) == 0
    rng = random.Random(7)
    command = [sys.executable, "-m", "simulator.cli.main", "sweep", sweep, "--jobs", "2", "--out"]
    start = time.perf_counter()          # how long the whole sweep takes as a process, start-up included
    subprocess.run(command + [str(tmp_path / "timed.jsonl")], check=True, capture_output=True)
    wall = time.perf_counter() - start
    kills = 0
    for attempt in range(40):
        proc = subprocess.Popen(command + [str(killed)] + (["--resume"] if killed.exists() else []),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            proc.wait(timeout=rng.uniform(0.3, 0.95) * wall)     # a random moment of a whole run
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)         # kill -9, workers and all
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0, proc.stderr.read().decode()
        break
    else:
        pytest.fail("the sweep never finished")
    assert kills >= 1
    got = killed.read_text().splitlines()
    assert len(got) == len(set(got)) == 30                 # no duplicated or half-written line
    assert sorted(got) == lines(whole)


def test_an_axis_may_be_a_range(tmp_path):
    from simulator.run.sweep import load_sweep
    sweep = load_sweep(write(tmp_path, {"axes": {"gamma": {"from": 1, "to": 4}, "alpha": {"from": 0.5, "to": 0.9, "step": 0.1}}}))
    assert dict(sweep.axes) == {"gamma": (1, 2, 3, 4), "alpha": (0.5, 0.6, 0.7, 0.8, 0.9)}
    assert len(sweep.points()) == 20


def test_plot_sweep_reduces_the_axes_not_shown(tmp_path, capsys):
    from simulator.cli.plot import sweep_table
    records = [{"point": i, "params": {"alpha": a, "gamma": g, "cores": c}, "results": {"speedup": a * g + c}}
               for i, (a, g, c) in enumerate((a, g, c) for a in (0.5, 0.9) for g in (1, 2) for c in (1, 2))]
    table, others = sweep_table(records, "alpha", "speedup", "cores", "max", False)
    assert others == ["gamma"] and table == {1: {0.5: 2.0, 0.9: 2.8}, 2: {0.5: 3.0, 0.9: 3.8}}   # by hand: a*2 + c
    mean, _ = sweep_table(records, "alpha", "speedup", None, "mean", False)
    # by hand: alpha 0.5 -> (1.5 + 2.5 + 2 + 3) / 4; alpha 0.9 -> (1.9 + 2.9 + 2.8 + 3.8) / 4
    assert mean == {"": {0.5: pytest.approx(2.25), 0.9: pytest.approx(2.85)}}


def test_plot_sweep_draws_and_refuses_in_one_line(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.jsonl"
    assert main(["sweep", write(tmp_path, SWEEP), "--out", str(out), "--jobs", "1"]) == 0
    with out.open("a") as f:
        f.write('{"key": "cut sho')                             # a last line cut short by a kill: left out
    png = tmp_path / "p.png"
    assert main(["plot", "sweep", "--from", str(out), "--x", "alpha", "--color", "soc.gpus.mali-g310.shader_cores",
                 "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["plot", "sweep", "--from", str(out), "--x", "beta", "--out", str(tmp_path / "q.png")]) == 2
    assert "'beta' is not an axis" in capsys.readouterr().err
    assert main(["plot", "sweep", "--from", str(out), "--x", "alpha", "--y", "nope", "--out", str(tmp_path / "q.png")]) == 2
    assert not (tmp_path / "q.png").exists()


def test_reductions_pick_the_best_point_of_each_group_by_hand(tmp_path, capsys):
    from simulator.run.sweep import Reduction
    records = [{"point": i, "params": {"alpha": a, "device": d, "gamma": g}, "results": {"speedup": s}}
               for i, (a, d, g, s) in enumerate([(0.5, "gpu", 1, 1.2), (0.5, "gpu", 2, 1.1), (0.5, "cpu", 1, 0.9),
                                                 (0.5, "cpu", 2, 1.3), (0.9, "gpu", 1, 1.5), (0.9, "gpu", 2, 1.5),
                                                 (0.9, "cpu", 1, 1.0), (0.9, "cpu", 2, 1.4)])]
    axes = ["alpha", "device", "gamma"]
    best_gamma = Reduction("speedup", True, ("gamma",)).apply(axes, records)
    assert [(r["alpha"], r["device"], r["gamma"], r["speedup"]) for r in best_gamma] == [
        (0.5, "gpu", 1, 1.2), (0.5, "cpu", 2, 1.3), (0.9, "gpu", 1, 1.5), (0.9, "cpu", 2, 1.4)]   # a tie: the first
    best_mapping = Reduction("speedup", True, ("device", "gamma")).apply(axes, records)
    assert [(r["alpha"], r["device"], r["gamma"]) for r in best_mapping] == [(0.5, "cpu", 2), (0.9, "gpu", 1)]
    worst = Reduction("speedup", False, ("alpha", "device", "gamma")).apply(axes, records)
    assert worst == [{"alpha": 0.5, "device": "cpu", "gamma": 1, "speedup": 0.9, "point": 2}]


def test_a_sweeps_reductions_are_printed_and_written_from_its_results(tmp_path, capsys):
    doc = {**SWEEP, "axes": {**SWEEP["axes"], "gamma": [1, 3]},
           "reduce": [{"maximize": "speedup", "over": ["gamma"]}]}
    out, reduced = tmp_path / "r.jsonl", tmp_path / "best.json"
    assert main(["sweep", write(tmp_path, doc), "--out", str(out), "--jobs", "1", "--reduced", str(reduced)]) == 0
    assert "best gamma by highest speedup (4 groups)" in capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    rows = json.loads(reduced.read_text())["reductions"][0]["rows"]
    assert len(rows) == 4
    for row in rows:           # each row: the highest speedup over gamma among its group's points in the file
        group = [r for r in records if r["params"]["alpha"] == row["alpha"]
                 and r["params"]["soc.gpus.mali-g310.shader_cores"] == row["soc.gpus.mali-g310.shader_cores"]]
        assert len(group) == 2 and row["speedup"] == max(r["results"]["speedup"] for r in group)
    table = tmp_path / "best.csv"
    assert main(["sweep", write(tmp_path, doc), "--out", str(out), "--resume", "--reduced", str(table)]) == 0
    assert table.read_text().splitlines()[0] == "reduction,soc.gpus.mali-g310.shader_cores,alpha,gamma,speedup,point"
    assert main(["sweep", write(tmp_path, SWEEP), "--out", str(out), "--resume", "--reduced", str(table)]) == 2


def test_points_that_share_a_soc_share_a_planner_and_give_what_they_give_alone(tmp_path):
    from simulator.run.sweep import Runner, load_sweep, run_point
    sweep = load_sweep(write(tmp_path, {**SWEEP, "axes": {**SWEEP["axes"], "gamma": [2, 4]}}))
    runner = Runner(sweep)
    shared = [runner.run(p) for p in sweep.points()]
    assert len(runner._planners) == 2                   # one per shader-core count
    assert shared == [run_point(sweep, p) for p in reversed(sweep.points())][::-1]


def test_a_soc_axis_with_soc_values_sets_them_in_each_soc_file(tmp_path, capsys):
    doc = {"base": {"samples": 2, "new_tokens": 8, "prompt_tokens": 8, "target_device": "cpu:1"},
           "axes": {"soc": ["imx95", "rpi5"], "soc.dram.peak_bandwidth_gb_s": [10.0, 20.0]}}
    out = tmp_path / "r.jsonl"
    assert main(["sweep", write(tmp_path, doc), "--out", str(out), "--jobs", "1"]) == 0
    got = {(r["params"]["soc"], r["params"]["soc.dram.peak_bandwidth_gb_s"]): r["results"]["total_time_s"]
           for r in map(json.loads, out.read_text().splitlines())}
    assert len(set(got.values())) == 4        # each SoC with each bandwidth: four different machines


def test_resume_refuses_a_file_that_is_not_this_sweeps_results_and_leaves_it_as_it_was(tmp_path, capsys):
    sweep = write(tmp_path, SWEEP)
    notes = tmp_path / "notes.txt"
    notes.write_text("precious data\nno newline at end")
    other = tmp_path / "other.jsonl"
    assert main(["sweep", write(tmp_path, {**SWEEP, "axes": {"alpha": [0.5]}}, "o.yaml"), "--out", str(other)]) == 0
    before = other.read_bytes()
    capsys.readouterr()
    for target, words in ((notes, "line 1 is not a line `specsoc sweep` writes"), (other, "a point of another sweep")):
        assert main(["sweep", sweep, "--out", str(target), "--resume", "--jobs", "1"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err
    assert notes.read_text() == "precious data\nno newline at end" and other.read_bytes() == before


def test_no_output_may_overwrite_a_file_the_sweep_reads(tmp_path, capsys):
    from simulator.common.bundled import bundled_dir
    soc = tmp_path / "mysoc.yaml"
    soc.write_text((bundled_dir("socs") / "imx95.yaml").read_text())
    sweep = write(tmp_path, {"base": {**SWEEP["base"], "soc": str(soc)}, "axes": {"gamma": [1, 2]}})
    for flags in (["--out", str(tmp_path / "r.jsonl"), "--csv", str(soc)], ["--out", str(soc), "--resume"],
                  ["--out", str(tmp_path / "r.jsonl"), "--csv", str(bundled_dir("socs") / "imx95.yaml")]):
        before = soc.read_bytes()
        code = main(["sweep", sweep if "imx95" not in flags[-1] else write(tmp_path, SWEEP), *flags, "--jobs", "1"])
        assert code == 2 and "one of the input files" in capsys.readouterr().err
        assert soc.read_bytes() == before


def test_an_input_error_crosses_processes_whole():
    import pickle

    from simulator.common.errors import InputError
    err = pickle.loads(pickle.dumps(InputError("s.yaml", "must be > 0", "axes.gamma")))
    assert (str(err), err.source, err.key, err.problem) == ("s.yaml: axes.gamma: must be > 0", "s.yaml", "axes.gamma",
                                                            "must be > 0")


def test_plot_sweep_takes_list_valued_axes_and_refuses_colour_by_x(tmp_path, capsys):
    from simulator.cli.plot import sweep_table
    records = [{"point": i, "params": {"isa": isa, "alpha": a}, "results": {"speedup": a + len(isa)}}
               for i, (isa, a) in enumerate([(["dotprod"], 0.5), (["dotprod"], 0.9), ([], 0.5), ([], 0.9)])]
    table, _ = sweep_table(records, "alpha", "speedup", "isa", "max", False)
    assert table == {'["dotprod"]': {0.5: 1.5, 0.9: 1.9}, "[]": {0.5: 0.5, 0.9: 0.9}}
    with pytest.raises(Exception, match="already --x"):
        sweep_table(records, "alpha", "speedup", "alpha", "max", False)
