"""`specsoc bench` runs and reports the issue's keys. Speed targets are measured by the benchmark, not here."""

from __future__ import annotations

import json

from simulator.cli.main import main
from simulator.run import bench
from simulator.run.builder import DEFAULT_SAMPLES, ScenarioSpec


def test_bench_writes_every_figure(tmp_path, monkeypatch, capsys):
    small = ScenarioSpec(kv_cache=True, target="qwen2.5-1.5b", draft="qwen2.5-0.5b", target_device="cpu:4",
                         mode="overlap", alpha=0.9, gamma=3, samples=1, new_tokens=12, granularity="layer")
    monkeypatch.setattr(bench, "OVERLAP", small)
    monkeypatch.setattr(bench, "simpy_timeouts_per_s", lambda events=200_000: 1e6)
    out = tmp_path / "b.json"
    assert main(["bench", "--repeat", "1", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc) >= {"simpy_timeouts_per_s", "ops_per_s", "ratio_ops_to_simpy", "default_wall_s",
                        "overlap_1000_rounds_wall_s", "peak_rss_mb"}
    assert set(doc["default_wall_s"]) == {"op", "layer", "model"}
    assert doc["default_run_wall_s"] > 0 and doc["default_run_samples"] == DEFAULT_SAMPLES
    assert doc["ratio_ops_to_simpy"] == doc["ops_per_s"] / doc["simpy_timeouts_per_s"]
    assert doc["peak_rss_mb"] > 0 and doc["overlap_rounds"] > 0
    assert "ratio ops / simpy timeouts" in capsys.readouterr().out


def test_bare_simpy_rate_counts_events():
    assert bench.simpy_timeouts_per_s(2000) > 0
