"""explore --partitions: the candidates of a variant, Eq. 1 on partitioned mappings from their simulated passes
alone, the best partition per variant chosen and simulated, the same with one worker or two."""

from __future__ import annotations

import json

import pytest

from simulator.analysis.analytic import eq1
from simulator.analysis.explore import ExploreSpec, explore, pass_seconds
from simulator.analysis.partitions import candidates
from simulator.cli.main import main
from simulator.engine.engine import Engine
from simulator.hw.placement import Placement
from simulator.llm.planner import Planner
from simulator.llm.graph import PassShape
from simulator.llm.partition import parse_partition
from simulator.run.builder import ScenarioSpec

SMALL = dict(target="qwen2.5-0.5b", draft="qwen2.5-0.5b", target_dtype="int8", draft_dtype="int8", samples=1,
             prompt_tokens=16, new_tokens=16, alpha=0.8, target_device="cpu", draft_device="cpu")


@pytest.fixture(scope="module")
def small():
    sc = ScenarioSpec(**SMALL).build()
    return explore(ExploreSpec(sc, 0.8, 16, gammas=(2,), simulate=True, partitions=True))


def test_a_variant_has_every_split_point_op_class_ratio_and_npu_candidate():
    """i.MX 95, 28-layer target: per accelerator (the Mali, the Neutron) 3 split points (layers 0-6, 0-13, 0-20),
    the matmuls, 3 ratios: 14, and the target on the Neutron: 15; the fp16 drafter cannot go on the Neutron."""
    spec = ScenarioSpec()
    soc = spec.load_soc()
    sc = spec.build(soc)
    base = Placement(soc.pu("a55"), (0, 1))
    found = candidates(soc, base, sc.target, sc.speculation.draft, "model")
    texts = [p.text for p in found.target]
    assert len(texts) == 15 and "a55:2,L0-13=mali-g310" in texts and "a55:2,matmul=neutron*0.75+a55:2" in texts
    assert texts[-1] == "neutron,fallback=a55:2"
    assert found.draft == () and found.skipped[0][0] == "draft neutron,fallback=a55:2"
    assert "fp16" in found.skipped[0][1]


def test_partitioned_mappings_are_eq1_on_their_passes_alone(small):
    """c and r of a partitioned mapping come from its passes simulated alone (a fresh engine here), and its
    speedup at every gamma is Eq. 1 at that c divided by r."""
    spec = small.spec
    variant = small.variants[2]
    m = next(m for m in variant.partitions if "matmul=mali-g310*0.5" in m.target_device)
    planner = Planner(spec.soc, spec.granularity)
    target = parse_partition(spec.soc, m.target_device, "--x")
    plan = planner.plan(spec.target.spec, spec.target.precision, PassShape(1, 15, False), target)
    engine = Engine(spec.soc, fast_paths=False)
    engine.run(engine.run_pass(plan, "p"))
    base = Placement(spec.soc.pu("a55"), (0, 1, 2))
    assert m.r == pytest.approx(engine.env.now / pass_seconds(planner, spec.target, base, 16), rel=1e-12)
    assert m.speedup_eq1[2] == pytest.approx(eq1(0.8, 2, m.c) / m.r, rel=1e-12)


def test_the_best_partition_of_a_variant_is_the_best_of_its_partitions_and_is_simulated(small):
    for v in small.variants:
        plain, spec = v.best_partition["plain"], v.best_partition["speculative"]
        assert plain.speedup_eq1 == pytest.approx(max(1.0 / m.r for m in v.partitions if "," in m.target_device))
        assert spec.speedup_eq1 == pytest.approx(max(m.best("eq1")[1] for m in v.partitions))
        for choice in (plain, spec):
            assert choice.speedup_simulated is not None and choice.speedup_simulated > 0


def test_explore_partitions_from_the_command_line_same_with_two_workers(tmp_path, capsys):
    args = ["explore", "--partitions", "--target", "qwen2.5-0.5b", "--draft", "qwen2.5-0.5b", "--target-dtype", "int8",
            "--draft-dtype", "int8", "--samples", "1", "--seq-len", "16", "--gamma", "2"]
    one, two, table = tmp_path / "1.json", tmp_path / "2.json", tmp_path / "1.csv"
    assert main([*args, "--jobs", "1", "--json", str(one), "--csv", str(table)]) == 0
    assert main([*args, "--jobs", "2", "--json", str(two)]) == 0
    out = capsys.readouterr().out
    assert "Partitions against whole-model mappings" in out
    assert one.read_bytes() == two.read_bytes()
    doc = json.loads(one.read_text())
    assert all("best_partition" in v for v in doc["variants"])
    assert any("neutron" in m["target_device"] for m in doc["mappings"])
    assert "matmul=neutron" in table.read_text()
