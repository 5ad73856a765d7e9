"""`specsoc calibrate` and `specsoc validate`: the fitter recovers what generated its data, every output form of
the same runs gives the same SoC file, the bundled files are what calibrate writes from the public measurements,
and those measurements are then predicted within 10%."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from simulator.analysis.benchmodel import BenchCase, predict_tokens_per_s
from simulator.analysis.calibration import (
    Provenance,
    calibration_section,
    from_measurements,
    with_calibration,
)
from simulator.analysis.fit import Param, apply, fit
from simulator.analysis.measurements import load_measurements
from simulator.cli.main import main
from simulator.common.bundled import bundled_dir
from simulator.hw.socfile import load_soc, parse_soc
from simulator.llm.modelfile import load_model

FIXTURES = bundled_dir("socs").parent / "tests" / "fixtures" / "llamabench"
# two models per weight format, so that the per-token cost is pinned by more than one model size per thread count
MODELS = {"llama-3.2-3b": ("llama 3B Q4_K - Medium", "q4_k_m"), "tinyllama-1.1b": ("llama 1B Q4_K - Medium", "q4_k_m"),
          "qwen2.5-0.5b": ("qwen2 0.5B Q8_0", "q8_0"), "llama-3.2-1b": ("llama 1B Q8_0", "q8_0")}


def llama_bench_json(soc, path, threads=(2, 4)) -> None:
    """What llama-bench -o json would print for these runs if the board were `soc` (by the simulator itself)."""
    records = []
    for name, (model_type, weights) in MODELS.items():
        model = load_model(name)
        for t in threads:
            for kind, n in (("pp", 512), ("tg", 128)):
                rate = predict_tokens_per_s(soc, BenchCase(model, weights, f"cpu:{t}", kind, n))
                records.append({"build_commit": "abc1234", "build_number": 4000, "cpu_info": "Cortex-A76",
                                "gpu_info": "", "backends": "CPU", "model_filename": f"{name}.gguf",
                                "model_type": model_type, "model_size": 1, "model_n_params": model.parameters(),
                                "n_threads": t, "n_gpu_layers": 0, "n_prompt": n if kind == "pp" else 0,
                                "n_gen": n if kind == "tg" else 0, "n_depth": 0, "avg_ts": rate, "stddev_ts": 0.0})
    path.write_text(json.dumps(records))


def test_the_fitter_recovers_known_bandwidths_rates_and_host_cost(tmp_path, capsys):
    base = load_soc("rpi5", calibrated=False)
    truth = {Param("bandwidth", "a76", 2): 6.5e9, Param("bandwidth", "a76", 4): 9.0e9,
             Param("matmul", "a76", 2, "q4_k_m"): 30e9, Param("matmul", "a76", 4, "q4_k_m"): 55e9,
             Param("matmul", "a76", 2, "q8_0"): 25e9, Param("matmul", "a76", 4, "q8_0"): 48e9,
             Param("token"): 1.5e-3}
    llama_bench_json(apply(base, truth), tmp_path / "bench.json")
    out = tmp_path / "fitted.yaml"
    models = [flag for name in MODELS for flag in ("--model", name)]
    assert main(["calibrate", str(tmp_path / "bench.json"), "--soc", "rpi5", "--out", str(out), *models]) == 0
    fitted = load_soc(str(out))
    a76 = fitted.pu("a76")
    got = {Param("bandwidth", "a76", p.units): p.value for p in a76.bandwidth_measured}
    got |= {Param("matmul", "a76", p.units, f): p.value for f, pts in a76.matmul_measured.items() for p in pts}
    got[Param("token")] = fitted.token_overhead_s
    assert set(got) == set(truth)
    for param, value in truth.items():
        assert got[param] == pytest.approx(value, rel=0.01), param.label
    assert "fitted: board not named, llama.cpp build abc1234 (4000)" in a76.bandwidth_measured[0].source


def test_one_model_at_one_thread_count_is_refused_as_underdetermined(tmp_path, capsys):
    records = json.loads((FIXTURES / "run.json").read_text())
    one = [r for r in records if r["model_type"].startswith("llama") and r["n_threads"] == 4 and not r.get("n_depth")]
    (tmp_path / "one.json").write_text(json.dumps(one))
    out = tmp_path / "x.yaml"
    assert main(["calibrate", str(tmp_path / "one.json"), "--soc", "imx95", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "underdetermined" in err and "per-token host cost" in err
    assert not out.exists()


def test_every_form_of_the_same_runs_gives_the_same_soc_file(tmp_path, capsys):
    texts = set()
    for form in ("json", "jsonl", "csv", "sql", "md"):
        out = tmp_path / f"{form}.yaml"
        assert main(["calibrate", str(FIXTURES / f"run.{form}"), "--soc", "imx95", "--out", str(out),
                     "--board", "test board", "--date", "2025-03-01"]) == 0
        texts.add(out.read_text())
    assert len(texts) == 1
    text = texts.pop()
    assert "fitted: test board" in text and "dtype_efficiency" in text     # the i.MX 95's IREE fit is kept


@pytest.mark.parametrize("soc", ["rk3588", "rpi5"])
def test_the_bundled_calibration_is_what_calibrate_writes_from_the_public_measurements(soc, tmp_path, capsys):
    out = tmp_path / f"{soc}.yaml"
    assert main(["calibrate", "--measurements", "public", "--soc", soc, "--out", str(out),
                 "--token-overhead-us", "0"]) == 0
    assert out.read_text() == (bundled_dir("socs") / f"{soc}.yaml").read_text()


def test_validate_predicts_every_public_measurement_within_10_percent(tmp_path, capsys):
    out = tmp_path / "v.json"
    assert main(["validate", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["measurements"]) == 7
    for m in doc["measurements"]:
        assert abs(m["predicted_tokens_per_s"] / m["measured_tokens_per_s"] - 1) < 0.10, m
        assert m["source"].startswith("http")
    # the spec-sheet files over-predict every token rate (reference/measurements.md): calibration is what fixes it
    assert main(["validate", "--uncalibrated", "--json", str(out)]) == 0
    assert all(m["predicted_tokens_per_s"] > m["measured_tokens_per_s"] for m in json.loads(out.read_text())["measurements"])


def test_a_spanning_placement_is_slower_than_the_big_cluster_alone_on_the_rk3588():
    # the 8-thread slowdown comes from the placement: each op waits for its A55 share
    soc, model = load_soc("rk3588"), load_model("phi-3-mini-4k")
    four = predict_tokens_per_s(soc, BenchCase(model, "iq4_xs", "cpu:4", "tg", 128))
    eight = predict_tokens_per_s(soc, BenchCase(model, "iq4_xs", "cpu:8", "tg", 128))
    a55 = predict_tokens_per_s(soc, BenchCase(model, "iq4_xs", "a55:4", "tg", 128))
    assert eight < four and eight > a55 / 2 * 0.99


def test_validate_refuses_a_bad_measurements_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "m.yaml"
    bad.write_text("measurements:\n  - {board: b, soc: rk3588, model: llama-3.2-3b, weights: q4_k_m, engine: e,\n"
                   "     device: 'cpu:4', test: tg-128, tokens_per_s: 5, source: s}\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tg-128" in err


def test_validate_draws_its_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "v.png"
    assert main(["validate", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _rk3588_fitted_to(keep) -> tuple:
    """The RK3588 calibrated (as `specsoc calibrate --measurements` does) on the public rows `keep` selects, and
    the rows it left out."""
    soc = load_soc("rk3588", calibrated=False)
    rows = from_measurements(load_measurements("public"), soc)
    used = [o for o in rows if keep(o.case)]
    result = fit(soc, used, 0.0)
    section = calibration_section(result, used, soc, Provenance("b", "e", "d"), None, {}, held_token_s=0.0)
    text = with_calibration((bundled_dir("socs") / "rk3588.yaml").read_text(), section)
    return parse_soc(yaml.safe_load(text), "fitted.yaml"), [o for o in rows if not keep(o.case)]


def test_the_8_thread_decode_rate_follows_from_the_spanning_placement():
    # fitted to the 4-thread row and the 8-thread prefill (which measures the A55's IQ4_XS rate: block formats'
    # rates come from prefill), the 8-thread decode is a prediction: each op ends with its A55 share
    soc, left = _rk3588_fitted_to(lambda c: c.device == "cpu:4" or (c.device == "cpu:8" and c.kind == "pp"))
    (tg8,) = [o for o in left if o.case.device == "cpu:8"]
    predicted = predict_tokens_per_s(soc, tg8.case)
    assert predicted == pytest.approx(3.81, rel=0.20)
    assert predicted < predict_tokens_per_s(soc, BenchCase(tg8.case.model, "iq4_xs", "cpu:4", "tg", 128))


@pytest.mark.xfail(strict=True, reason="the A55's IQ4_XS rate scaled from the A76's by spec peaks (0.375x per core) "
                                        "is about twice what the 8-thread prefill implies (0.20x): no public A55 "
                                        "llama.cpp measurement but the 8-thread row itself pins it")
def test_the_8_thread_row_from_the_4_thread_row_alone():
    soc, left = _rk3588_fitted_to(lambda c: c.device == "cpu:4")
    (tg8,) = [o for o in left if o.case.device == "cpu:8" and o.case.kind == "tg"]
    assert predict_tokens_per_s(soc, tg8.case) == pytest.approx(3.81, rel=0.20)


def test_validate_writes_the_same_rows_as_csv_and_json(tmp_path, capsys):
    assert main(["validate", "--json", str(tmp_path / "v.json"), "--csv", str(tmp_path / "v.csv")]) == 0
    doc = json.loads((tmp_path / "v.json").read_text())["measurements"]
    rows = list(csv.DictReader((tmp_path / "v.csv").open()))
    assert [(r["test"], float(r["predicted_tokens_per_s"])) for r in rows] == \
        [(m["test"], m["predicted_tokens_per_s"]) for m in doc]
