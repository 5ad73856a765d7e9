"""Processing units and placements against hand arithmetic on the hand SoC (tests/support.py)."""

from __future__ import annotations

import pytest

from simulator.common.errors import InputError
from simulator.hw.placement import parse_device, place
from simulator.hw.socfile import load_soc
from tests.support import hand_soc


def test_flop_rate_and_bandwidth_cap_by_hand():
    # cluster c: 2 cores at 1 GHz, 1 FLOP/cycle, parallel efficiency 0.5 here: 2 cores compute as 1.5
    soc = hand_soc(cpu={"parallel_efficiency": 0.5})
    c, g = soc.pu("c"), soc.pu("g")
    assert c.flop_rate("fp16", "matmul", 1) == 1e9
    assert c.flop_rate("fp16", "matmul", 2) == 1.5e9
    assert (c.op_bandwidth_cap(1), c.op_bandwidth_cap(2)) == (4e9, 8e9)     # per core 4 GB/s, cluster cap 8
    assert g.op_bandwidth_cap(1) == 6e9                                      # a GPU has one cap
    assert soc.dram.usable_B_s == 10e9


def test_a_dtype_the_pu_does_not_run_is_promoted_as_its_file_says():
    soc = hand_soc(gpu={"flop_per_cycle": {"fp32": 2, "fp16": 4}, "promote": {"int8": "fp32"}})
    g = soc.pu("g")
    assert g.compute_dtype("int8") == "fp32"
    assert g.flop_rate("int8", "matmul", 1) == g.flop_rate("fp32", "matmul", 1) == 2e9


def test_without_overheads_zeroes_dispatch_launch_and_handoff_latency():
    soc = hand_soc(cpu={"dispatch_overhead_us": 7}, interconnect={"handoff_latency_us": 100, "shared_memory": True})
    bare = soc.without_overheads()
    assert [pu.overhead_s for pu in bare.pus] == [0.0, 0.0] and bare.interconnect.handoff_latency_s == 0.0
    assert soc.pu("c").overhead_s == pytest.approx(7e-6)


@pytest.mark.parametrize("text,pu,cores", [("cpu:2", "c", (0, 1)), ("cpu", "c", (0, 1)), ("c:1@1", "c", (1,)),
                                           ("gpu", "g", (0,)), ("g", "g", (0,))])
def test_device_strings_place_models_on_cores(text, pu, cores):
    soc = hand_soc()
    (placement,) = place([parse_device(soc, text)])
    assert (placement.pu.name, placement.cores) == (pu, cores)


def test_a_big_little_soc_places_on_a_named_cluster():
    soc = load_soc("rk3588")
    (placement,) = place([parse_device(soc, "a76:4")])
    assert placement.pu.name == "a76" and placement.cores == (0, 1, 2, 3) and placement.label == "a76:4"


@pytest.mark.parametrize("text,problem", [("cpu:3", "has 2 CPU cores"), ("c:3", "core count must be 1..2"), ("cpu:", "give a core count"),
                                          ("c:2@1", "do not fit"), ("gpu:1", "placed whole"), ("npu", "has no NPU"), ("tpu", "no processing unit")])
def test_bad_device_strings_name_the_flag_and_the_problem(text, problem):
    with pytest.raises(InputError, match=f"^--draft-device: .*{problem}"):
        parse_device(hand_soc(), text, "--draft-device")
