"""DAG passes against hand arithmetic: nodes wait for their inputs and their cores, independent ones run at once
and share DRAM (the fluid model), a pass alone replays what it did when simulated."""

from __future__ import annotations

import pytest

from simulator.engine.dag import DagPlan
from simulator.engine.engine import Engine
from simulator.engine.plan import Task
from tests.support import cpu, gpu, hand_soc


def streaming(name: str, nbytes: float, cap: float, overhead: float = 0.0) -> Task:
    """A task that only streams `nbytes` at most at `cap` (its compute floor is nil)."""
    return Task(name, "matmul", 0.0, nbytes, 0.0, overhead, overhead + nbytes / cap, False, cap if nbytes > 0 else 0.0)


def run(soc, plan, fast_paths=True):
    engine = Engine(soc, fast_paths=fast_paths)
    engine.run(engine.run_pass(plan, "p"))
    return engine, {e.name: e for e in engine.log.ops}


@pytest.mark.parametrize("fast_paths", [False, True], ids=["simpy", "alone-replayed"])
def test_two_shares_of_a_split_op_share_dram_by_hand(fast_paths):
    """Hand SoC: DRAM 10 GB/s, CPU (2 cores) cap 8 GB/s, GPU cap 6 GB/s. Two shares of one op start together:
    the GPU's moves 4 GB, the CPU's 6 GB. Water-filling gives each 5 GB/s (both caps are above the fair share):
    the GPU share ends at 4 / 5 = 0.8 s, when the CPU share has 2 GB left, which it then streams at its own cap
    of 8 GB/s (the DRAM has 10): 0.25 s more, 1.05 s in all. A join node on the CPU (0.5 GB at 8 GB/s) waits for
    both: 1.05 + 0.0625 = 1.1125 s."""
    soc = hand_soc()
    c, g = cpu(soc, 2), gpu(soc)
    plan = DagPlan.of(((streaming("share_g", 4e9, 6e9), g, ()),
                    (streaming("share_c", 6e9, 8e9), c, ()),
                    (streaming("join", 0.5e9, 8e9), c, (0, 1))))
    engine, ops = run(soc, plan, fast_paths)
    assert ops["share_g"].end_s == pytest.approx(0.8, rel=1e-12)
    assert ops["share_c"].end_s == pytest.approx(1.05, rel=1e-12)
    assert ops["join"].start_s == pytest.approx(1.05, rel=1e-12)
    assert engine.env.now == pytest.approx(1.1125, rel=1e-12)
    assert engine.dram.peak_B_s == pytest.approx(10e9)


@pytest.mark.parametrize("fast_paths", [False, True], ids=["simpy", "alone-replayed"])
def test_a_chain_over_two_pus_is_the_sum_of_its_parts_plus_the_handoffs(fast_paths):
    """Nothing runs beside anything: 1 + 0.5 s of tasks, two handoffs of 100 us (shared memory: latency only),
    2 us of GPU launch."""
    soc = hand_soc(interconnect={"handoff_latency_us": 100, "shared_memory": True})
    c, g = cpu(soc, 2), gpu(soc)
    a = streaming("a", 8e9, 8e9)
    b = streaming("b", 3e9, 6e9, overhead=2e-6)
    hand = Task("h", "handoff", 0.0, 16.0, 0.0, 0.0, 0.0, False, 0.0)
    plan = DagPlan.of(((a, c, ()), (hand, g, (0,), c), (b, g, (1,)),
                    (hand, c, (2,), g), (streaming("z", 0.0, 1.0), c, (3,))))
    engine, ops = run(soc, plan, fast_paths)
    assert engine.env.now == pytest.approx(1.0 + 100e-6 + 2e-6 + 0.5 + 100e-6, rel=1e-12)
    assert sum(e.kind == "handoff" for e in engine.log.ops) == 2


def test_independent_nodes_on_one_pu_queue_and_on_two_pus_overlap():
    """Two independent 1 s tasks: on the same cores they run one after the other (2 s); on the CPU and the GPU
    at once (each streams 2 GB at its cap of 2 GB/s, 4 GB/s in all under the DRAM's 10)."""
    soc = hand_soc()
    c, g = cpu(soc, 2), gpu(soc)
    t = streaming("t", 2e9, 2e9)
    same, _ = run(soc, DagPlan.of(((t, c, ()), (t, c, ()))), fast_paths=False)
    apart, _ = run(soc, DagPlan.of(((t, c, ()), (t, g, ()))), fast_paths=False)
    assert same.env.now == pytest.approx(2.0)
    assert apart.env.now == pytest.approx(1.0)


def test_a_pass_alone_is_simulated_once_per_plan_and_replayed_at_each_start():
    soc = hand_soc()
    c, g = cpu(soc, 2), gpu(soc)
    plan = DagPlan.of(((streaming("x", 4e9, 6e9), g, ()), (streaming("y", 6e9, 8e9), c, ())))
    engine = Engine(soc)

    def twice():
        yield from engine.run_pass(plan, "first")
        yield from engine.run_pass(plan, "second")

    engine.run(twice())
    assert len(plan.alone_runs) == 1
    ends = sorted(e.end_s for e in engine.log.ops)
    assert ends == pytest.approx([0.8, 1.05, 1.05 + 0.8, 2.1], rel=1e-12)
    # per PU, the busy spans of both passes; the bandwidth counter replayed at each start
    spans = engine.log.spans(lambda label: "role")
    assert spans["g"]["role"].ravel().tolist() == pytest.approx([0.0, 0.8, 1.05, 1.85])
    peaks = [total for _t, _rates, total in engine.log.entries[1].counter_steps()]
    assert max(peaks) == pytest.approx(10e9)
