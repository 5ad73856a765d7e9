"""`specsoc calibrate` and `specsoc validate` on bad input: one line, exit 2, no output file, no hang."""

from __future__ import annotations

import json

import pytest
import yaml

from simulator.cli.main import main
from simulator.common.bundled import bundled_dir

FIXTURES = bundled_dir("socs").parent / "tests" / "fixtures" / "llamabench"
RUN = json.loads((FIXTURES / "run.json").read_text())


def refused(capsys, argv, *words) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


def bench(tmp_path, records, name="b.json"):
    path = tmp_path / name
    path.write_text(json.dumps(records))
    return str(path)


def test_a_rate_below_what_llama_bench_resolves_is_refused(tmp_path, capsys):
    records = [dict(r) for r in RUN]
    records[1]["avg_ts"] = 1e-300
    refused(capsys, ["calibrate", bench(tmp_path, records), "--soc", "imx95", "--out", str(tmp_path / "o.yaml")],
            "record 2", "below the 0.01 tok/s")
    assert not (tmp_path / "o.yaml").exists()


def test_repeats_of_one_test_that_contradict_each_other_are_refused(tmp_path, capsys):
    records = [dict(r) for r in RUN] + [{**RUN[1], "avg_ts": 30.0}]
    refused(capsys, ["calibrate", bench(tmp_path, records), "--soc", "imx95", "--out", str(tmp_path / "o.yaml")],
            "more than 10% apart")


def test_rates_no_soc_can_reach_are_refused_as_out_of_range(tmp_path, capsys):
    records = [dict(r) for r in RUN]
    for r in records:
        if r["n_gen"]:
            r["avg_ts"] *= 1000           # 1000x faster decode: far above the DRAM's bandwidth
    refused(capsys, ["calibrate", bench(tmp_path, records), "--soc", "imx95", "--out", str(tmp_path / "o.yaml")],
            "above the DRAM's usable bandwidth")


def test_a_test_beyond_any_context_is_refused_at_once(tmp_path, capsys):
    records = [dict(r) for r in RUN]
    records[1]["n_gen"] = 999_999_999
    refused(capsys, ["calibrate", bench(tmp_path, records), "--soc", "imx95", "--out", str(tmp_path / "o.yaml")],
            "record 2", "tokens of context")


def test_outputs_never_overwrite_inputs_or_each_other(tmp_path, capsys):
    path = bench(tmp_path, RUN)
    refused(capsys, ["calibrate", path, "--soc", "imx95", "--out", path], "--out", "input files")
    refused(capsys, ["calibrate", path, "--soc", "imx95", "--out", str(tmp_path / "s.yaml"),
                     "--json", str(tmp_path / "s.yaml")], "--json", "each output needs its own file")
    refused(capsys, ["validate", "--json", str(tmp_path / "c.png"), "--plot", str(tmp_path / "c.png")], "--plot")
    assert json.loads(open(path).read()) == RUN and not (tmp_path / "s.yaml").exists()


@pytest.mark.parametrize("flag,words", [("a55:4=1e26", ["GB/s in (0, 25.6]"]), ("a55:4=x", ["PU:CORES=GB_S"]),
                                        ("npu:1=3", ["no processing unit 'npu'"]), ("a55:9=3", ["cores must be 1..6"])])
def test_bad_bandwidth_flags(tmp_path, capsys, flag, words):
    refused(capsys, ["calibrate", bench(tmp_path, RUN), "--soc", "imx95", "--out", str(tmp_path / "o.yaml"),
                     "--bandwidth", flag], "--bandwidth", *words)


def test_a_bandwidth_given_twice_is_refused(tmp_path, capsys):
    refused(capsys, ["calibrate", bench(tmp_path, RUN), "--soc", "imx95", "--out", str(tmp_path / "o.yaml"),
                     "--bandwidth", "a55:4=3", "--bandwidth", "a55:4=5e0"], "given twice")


def test_a_flow_style_soc_file_is_calibrated(tmp_path, capsys):
    soc = yaml.safe_load((bundled_dir("socs") / "rpi5.yaml").read_text())
    flow = tmp_path / "flow.yaml"
    flow.write_text(yaml.safe_dump(soc, default_flow_style=True))
    out = tmp_path / "o.yaml"
    assert main(["calibrate", str(FIXTURES / "run.json"), "--soc", str(flow), "--out", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["calibration"]["a76"]["bandwidth_gb_s"][4]["value"] > 0


def test_recalibrating_replaces_the_earlier_measured_values(tmp_path, capsys):
    out = tmp_path / "o.yaml"
    assert main(["calibrate", str(FIXTURES / "run.json"), "--soc", "rk3588", "--out", str(out)]) == 0
    section = yaml.safe_load(out.read_text())["calibration"]
    assert set(section) == {"against", "token_overhead_us", "a76"}       # the public fit's a55 and Mali values are gone
    assert list(section["a76"]["bandwidth_gb_s"]) == [2, 4]


def test_a_measurements_file_naming_its_soc_by_path(tmp_path, capsys):
    entries = yaml.safe_load((bundled_dir("socs") / "measurements" / "public.yaml").read_text())["measurements"]
    soc = str(bundled_dir("socs") / "rpi5.yaml")
    mine = tmp_path / "m.yaml"
    mine.write_text(yaml.safe_dump({"measurements": [{**e, "soc": soc} for e in entries if e["soc"] == "rpi5"]}))
    assert main(["calibrate", "--measurements", str(mine), "--soc", soc, "--out", str(tmp_path / "o.yaml"),
                 "--token-overhead-us", "0"]) == 0


def test_bad_measurements_files(tmp_path, capsys):
    deep = tmp_path / "deep.yaml"
    deep.write_text("measurements: " + "[" * 5000 + "]" * 5000 + "\n")
    refused(capsys, ["validate", str(deep)], "nested too deeply")
    one = yaml.safe_load((bundled_dir("socs") / "measurements" / "public.yaml").read_text())["measurements"][0]
    for change, words in (({"model": "llama-99b"}, ["measurements[0].model", "llama-99b"]),
                          ({"tokens_per_s": 1e-320}, ["tokens_per_s"]),
                          ({"test": "tg999999 @ d999999"}, ["tokens of context"]),
                          ({"soc": "nosuchsoc"}, ["measurements[0]", "nosuchsoc"])):
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump({"measurements": [{**one, **change}]}))
        refused(capsys, ["validate", str(bad), "--json", str(tmp_path / "v.json")], *words)
        assert not (tmp_path / "v.json").exists()
    refused(capsys, ["validate", "nosuch"], "bundled: public")


@pytest.mark.parametrize("calibration,words", [
    ({"a76": {"bandwidth_gb_s": {4: {"value": 1e-308, "source": "measured: x"}}}}, ["must be >= 0.001"]),
    ({"a76": {"bandwidth_gb_s": {4: {"value": 30.0, "source": "measured: x"}}}}, ["must be <= 17.1"]),
    ({"a76": {"bandwidth_gb_s": {"4": {"value": 3.0, "source": "measured: x"}}}}, ["not a string"]),
    ({"token_overhead_us": {"value": 1e300, "source": "measured: x"}}, ["token_overhead_us.value"]),
    ({"token_overhead_us": {"value": 5, "source": "blog"}}, ["must start with"]),
])
def test_bad_calibration_sections(tmp_path, capsys, calibration, words):
    soc = yaml.safe_load((bundled_dir("socs") / "rpi5.yaml").read_text())
    soc["calibration"] = {"against": "test", **calibration}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(soc))
    refused(capsys, ["run", "--soc", str(path)], str(path), *words)
