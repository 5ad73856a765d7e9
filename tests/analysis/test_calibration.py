"""The i.MX 95 calibration: its two multipliers reproduce the paper's one-core c values and nothing else moves."""

from __future__ import annotations

import pytest

from simulator.analysis.calibrate import PassPair, cost_ratio, fit_dtype_efficiency, fit_efficiency_scale
from simulator.hw.placement import Placement
from simulator.hw.socfile import load_soc
from simulator.llm.graph import PassShape
from simulator.llm.model import Precision
from simulator.llm.modelfile import load_model

PAIR = PassPair(load_model("llama-3.2-1b"), Precision.resolve("fp16"), load_model("llama-3.2-3b"),
                Precision.resolve("int8"), PassShape(63, 0, False))


def _c(soc, draft_pu):
    return cost_ratio(soc, PAIR, Placement(soc.pu(draft_pu), (0,)), Placement(soc.pu("a55"), (0,)))


def test_calibrated_imx95_reproduces_the_papers_one_core_c_values():
    soc = load_soc("imx95")
    assert "0.80" in soc.calibration and "0.41" in soc.calibration
    assert _c(soc, "a55") == pytest.approx(0.80, rel=0.005)
    assert _c(soc, "mali-g310") == pytest.approx(0.41, rel=0.005)


def test_the_files_multipliers_are_the_fit():
    spec = load_soc("imx95", calibrated=False)
    calibrated = load_soc("imx95")
    assert calibrated.pu("a55").dtype_efficiency["fp16"] == pytest.approx(
        fit_dtype_efficiency(spec, PAIR, "a55", "fp16", 0.80), rel=0.002)
    scale = fit_efficiency_scale(spec, PAIR, "mali-g310", "a55", 0.41)
    for op_class, eff in spec.pu("mali-g310").efficiency.items():
        assert calibrated.pu("mali-g310").efficiency[op_class] == pytest.approx(eff * scale, rel=0.002)


def test_calibration_touches_only_what_it_names():
    spec, calibrated = load_soc("imx95", calibrated=False), load_soc("imx95")
    assert spec.calibration == "" and spec.pu("a55").dtype_efficiency == {}
    a55, a55_spec = calibrated.pu("a55"), spec.pu("a55")
    assert a55.efficiency == a55_spec.efficiency                  # the int8 target's speed is the spec's
    assert a55.flop_rate("int8", "matmul", 1) == a55_spec.flop_rate("int8", "matmul", 1)
    assert calibrated.dram == spec.dram and calibrated.interconnect == spec.interconnect
