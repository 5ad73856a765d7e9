"""The engine against hand arithmetic: one op is its roofline; shared DRAM follows the fluid model."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine.dram import FluidDram
from simulator.engine.engine import Engine
from simulator.engine.eventlog import AlonePass, OpEvent, TimedPass
from simulator.engine.plan import Plan
from simulator.engine.sharing import max_min_share
from simulator.llm.costs import make_task
from simulator.llm.graph import Op
from tests.support import cpu, gpu, hand_soc


def op(name="x", flops=0.0, nbytes=0.0, op_class="matmul", dtype="fp16"):
    return Op(name, name, op_class, dtype, flops, weights=nbytes)


def plan(soc, placement, *ops):
    return Plan.of(placement, (make_task(o.name, o.kind, (o,), placement, soc) for o in ops))


def run_together(soc, *plans, fast_paths=True):
    """Start every plan at t=0 on one engine; return the events by op name, and the engine. With fast paths the
    engine runs each pass on the DRAM's clock (its cores are free when it starts) or alone in closed form;
    without, op by op through simpy."""
    engine = Engine(soc, fast_paths=fast_paths)
    for i, p in enumerate(plans):
        engine.env.process(engine.run_pass(p, f"p{i}"))
    engine.env.run()
    return {e.name: e for e in engine.log.ops}, engine


# the hand-derived sharing cases hold on every path: op by op in simpy, and passes run on the DRAM's clock
both_paths = pytest.mark.parametrize("fast_paths", [False, True], ids=["simpy", "dram-clock"])


@settings(max_examples=60, deadline=None)
@given(flops=st.one_of(st.just(0.0), st.floats(1, 5e9)), nbytes=st.one_of(st.just(0.0), st.floats(1, 5e10)),
       cores=st.integers(1, 2),
       overhead_us=st.sampled_from([0, 7, 250]))
def test_one_op_alone_takes_its_roofline(flops, nbytes, cores, overhead_us):
    soc = hand_soc(cpu={"dispatch_overhead_us": overhead_us})
    place = cpu(soc, cores)
    # by hand: cores x 1 GFLOP/s; bandwidth min(cores x 4, 8 cluster, 10 DRAM) GB/s
    expected = overhead_us * 1e-6 + max(flops / (cores * 1e9), nbytes / (min(4 * cores, 8) * 1e9))
    events, _ = run_together(soc, plan(soc, place, op(flops=flops, nbytes=nbytes)))
    assert events["x"].duration_s == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert events["x"].contention_s == 0.0


@both_paths
def test_two_memory_bound_ops_share_dram_fairly(fast_paths):
    # a on c:2 (cap 8 GB/s) moves 8 GB; b on the GPU (cap 6) moves 3 GB; DRAM 10 GB/s.
    # Both at 5 GB/s: b ends at 3/5 = 0.6 s, a has 5 GB left, then runs alone at 8 GB/s: 0.6 + 5/8 = 1.225 s.
    soc = hand_soc()
    events, _ = run_together(soc, plan(soc, cpu(soc, 2), op("a", nbytes=8e9)), plan(soc, gpu(soc), op("b", nbytes=3e9)),
                             fast_paths=fast_paths)
    assert events["b"].end_s == pytest.approx(0.6, rel=1e-12)
    assert events["a"].end_s == pytest.approx(1.225, rel=1e-12)
    assert events["a"].contention_s == pytest.approx(1.225 - 1.0, rel=1e-9)   # alone: 8 GB at 8 GB/s = 1 s
    assert events["b"].contention_s == pytest.approx(0.6 - 0.5, rel=1e-9)     # alone: 3 GB at 6 GB/s


@both_paths
def test_an_op_capped_below_its_fair_share_leaves_the_rest_to_the_other(fast_paths):
    # The GPU's cap is 3 GB/s, below the fair 5: b streams at 3, a takes min(8, 10 - 3) = 7 GB/s.
    # b: 3 GB / 3 = 1.0 s. a: 7 GB in the first second, then 1 GB alone at 8 GB/s: 1.125 s.
    soc = hand_soc(gpu={"bandwidth_gb_s": 3.0})
    events, engine = run_together(soc, plan(soc, cpu(soc, 2), op("a", nbytes=8e9)),
                                  plan(soc, gpu(soc), op("b", nbytes=3e9)), fast_paths=fast_paths)
    assert events["b"].end_s == pytest.approx(1.0, rel=1e-12)
    assert events["a"].end_s == pytest.approx(1.125, rel=1e-12)
    assert [s.total_B_s for s in engine.dram.bandwidth_steps] == pytest.approx([10e9, 8e9, 0.0])


@both_paths
def test_a_compute_bound_op_never_pulls_faster_than_it_computes(fast_paths):
    # a on c:1: 2 GFLOP at 1 GFLOP/s = 2 s for 4 GB, so it asks only 2 GB/s; b on the GPU gets min(6, 10 - 2) = 6.
    soc = hand_soc()
    events, engine = run_together(soc, plan(soc, cpu(soc, 1), op("a", flops=2e9, nbytes=4e9)),
                                  plan(soc, gpu(soc), op("b", nbytes=6e9)), fast_paths=fast_paths)
    assert events["b"].end_s == pytest.approx(1.0, rel=1e-12)
    assert events["a"].end_s == pytest.approx(2.0, rel=1e-12)
    assert engine.dram.bandwidth_steps[0].rates_B_s == pytest.approx({"c": 2e9, "g": 6e9})


@both_paths
def test_ops_on_one_cluster_share_its_cap(fast_paths):
    # Two single-core ops on disjoint cores of c (4 GB/s each, 8 GB/s cluster) with the cluster cap lowered to 5:
    # each gets 2.5 GB/s; 5 GB each takes 2 s.
    soc = hand_soc(cpu={"bandwidth_cluster_gb_s": 5.0})
    events, _ = run_together(soc, plan(soc, cpu(soc, 1), op("a", nbytes=5e9)),
                             plan(soc, type(cpu(soc))(soc.pu("c"), (1,)), op("b", nbytes=5e9)), fast_paths=fast_paths)
    assert events["a"].end_s == pytest.approx(2.0, rel=1e-12)
    assert events["b"].end_s == pytest.approx(2.0, rel=1e-12)


@both_paths
def test_consecutive_ops_of_two_passes_share_dram_op_by_op(fast_paths):
    # a on c:2 (cap 8): two ops of 4 GB; b on the GPU (cap 6): two of 3 GB; DRAM 10 GB/s, no overheads.
    # 0..0.6: both at 5 GB/s, b1 ends (3 GB), a1 has 1 GB left; 0.6..0.8: a1 ends, b2 has 2 GB left;
    # 0.8..1.2: b2 ends, a2 has 2 GB left; then a2 alone at 8 GB/s: 1.2 + 0.25 = 1.45 s.
    soc = hand_soc()
    events, engine = run_together(soc, plan(soc, cpu(soc, 2), op("a1", nbytes=4e9), op("a2", nbytes=4e9)),
                                  plan(soc, gpu(soc), op("b1", nbytes=3e9), op("b2", nbytes=3e9)), fast_paths=fast_paths)
    spans = {name: (e.start_s, e.end_s) for name, e in events.items()}
    assert spans == {"a1": pytest.approx((0.0, 0.8)), "a2": pytest.approx((0.8, 1.45)),
                     "b1": pytest.approx((0.0, 0.6)), "b2": pytest.approx((0.6, 1.2))}
    assert engine.env.now == pytest.approx(1.45, rel=1e-12)
    assert engine.log.ops_count() == 4
    assert engine.log.contention_s() == pytest.approx(0.3 + 0.15 + 0.1 + 0.1, rel=1e-9)  # each op 0.5 s alone
    # a counter step wherever an op starts or ends: 10 GB/s until a2 is alone at 8, then nothing
    assert [s.time_s for s in engine.dram.bandwidth_steps] == pytest.approx([0.0, 0.6, 0.8, 1.2, 1.45])
    assert [s.total_B_s for s in engine.dram.bandwidth_steps] == pytest.approx([10e9, 10e9, 10e9, 8e9, 0.0])


@both_paths
def test_overlapping_placements_queue_for_their_cores(fast_paths):
    # Both want core 0: the second waits for the first (1 s of compute), then runs its own 1 s.
    soc = hand_soc()
    events, _ = run_together(soc, plan(soc, cpu(soc, 1), op("a", flops=1e9)), plan(soc, cpu(soc, 2), op("b", flops=2e9)),
                             fast_paths=fast_paths)
    assert (events["a"].start_s, events["a"].end_s) == (0.0, 1.0)
    assert events["b"].start_s == 1.0
    assert events["b"].end_s == pytest.approx(2.0)


def test_a_pass_alone_runs_in_closed_form():
    soc = hand_soc()
    events, engine = run_together(soc, plan(soc, cpu(soc, 2), op("a1", nbytes=4e9), op("a2", flops=1e9)))
    assert [type(e) for e in engine.log.entries] == [AlonePass]
    assert (events["a2"].start_s, events["a2"].end_s) == pytest.approx((0.5, 1.0))   # 4 GB at 8 GB/s, 1 GFLOP at 2


def test_a_pass_left_alone_finishes_in_closed_form():
    # a on the CPU and b on the GPU start together on the DRAM's clock; once b has ended, a's rest runs alone.
    soc = hand_soc()
    a = plan(soc, cpu(soc, 2), op("a1", nbytes=4e9), op("a2", nbytes=4e9), op("a3", nbytes=4e9))
    b = plan(soc, gpu(soc), op("b1", nbytes=3e9))
    fast, engine = run_together(soc, a, b)
    slow, _ = run_together(soc, a, b, fast_paths=False)
    kinds = [(type(e).__name__, e.label) for e in engine.log.entries]
    assert ("TimedPass", "p1") in kinds and ("AlonePass", "p0") in kinds
    alone = next(e for e in engine.log.entries if isinstance(e, AlonePass))
    assert alone.first >= 1                      # a's first op shared the DRAM with b
    for name in fast:
        assert (fast[name].start_s, fast[name].end_s) == pytest.approx((slow[name].start_s, slow[name].end_s))


def test_a_pass_on_the_drams_clock_hands_its_cores_to_a_pass_that_waits_for_them():
    # a and b both want core 0 and start together: a takes it, b queues; first come, first served, op by op:
    # a1 (1 s), b1 (1 s), a2, b2. a started on the DRAM's clock, then went on op by op once b waited.
    soc = hand_soc()
    a = plan(soc, cpu(soc, 1), op("a1", flops=1e9), op("a2", flops=1e9))
    b = plan(soc, cpu(soc, 1), op("b1", flops=1e9), op("b2", flops=1e9))
    fast, engine = run_together(soc, a, b)
    slow, _ = run_together(soc, a, b, fast_paths=False)
    starts = {name: e.start_s for name, e in fast.items()}
    assert starts == {"a1": 0.0, "b1": 1.0, "a2": 2.0, "b2": 3.0}
    assert starts == {name: e.start_s for name, e in slow.items()}
    assert isinstance(engine.log.entries[0], TimedPass) and engine.log.entries[0].ops_count == 1
    assert any(isinstance(e, OpEvent) and e.name == "a2" for e in engine.log.entries)


@both_paths
def test_a_pass_is_abandoned_at_the_op_boundary_after_its_event(fast_paths):
    # a computes three 1 s ops; `abandon`, a process, ends at 1.5 s: a ends its second op at 2 s and stops there.
    soc = hand_soc()
    engine = Engine(soc, fast_paths=fast_paths)

    def verify():
        yield engine.env.timeout(1.5)
    stop = engine.env.process(verify())
    a = plan(soc, cpu(soc, 1), op("a1", flops=1e9), op("a2", flops=1e9), op("a3", flops=1e9))
    done = engine.env.process(engine.run_pass(a, "a", abandon=stop))
    engine.env.run()
    assert done.value is False
    assert [e.name for e in engine.log.ops] == ["a1", "a2"] and engine.env.now == 2.0


def test_a_timeout_cannot_abandon_a_pass():
    # A simpy Timeout is triggered as soon as it is made: as `abandon` it would stop the pass at once.
    soc = hand_soc()
    engine = Engine(soc)
    engine.env.process(engine.run_pass(plan(soc, cpu(soc, 1), op("a", flops=1e9)), "a", abandon=engine.env.timeout(1)))
    with pytest.raises(TypeError, match="Timeout"):
        engine.env.run()


def test_a_flow_beside_a_pass_running_alone_fails_loudly():
    # The engine's safety net: the DRAM refuses a flow while a pass runs alone in closed form (with nothing else
    # in simpy the pass ends within the step that starts it, so the pass is put alone by hand here).
    soc = hand_soc()
    engine = Engine(soc)
    entry = engine._alone_entry(plan(soc, cpu(soc, 1), op("a", nbytes=4e9)), "a", 0, 0.0)
    assert isinstance(entry, AlonePass) and entry.end_s == pytest.approx(1.0)
    with pytest.raises(RuntimeError, match="ran alone"):
        engine.dram.stream(1e9, 4e9, "g")
    engine.dram.alone_done()
    engine.dram.stream(1e9, 4e9, "g")


def test_with_nothing_else_scheduled_a_pass_alone_moves_the_clock_without_a_simpy_event():
    soc = hand_soc()
    engine = Engine(soc)
    engine.env.process(engine.run_pass(plan(soc, cpu(soc, 1), op("a", nbytes=4e9)), "a"))
    engine.env.step()                                   # the process starts: its pass ends in the same step
    # 4 GB at the core's 4 GB/s; simpy scheduled the process's start and its end, and no timeout
    assert engine.env.now == pytest.approx(1.0) and engine.env.events_scheduled == 2


@pytest.mark.parametrize("side", [0.99, 1.01])
def test_crossover_sits_where_intensity_equals_flop_rate_over_bandwidth(side):
    # c:1 computes 1 GFLOP/s and streams 4 GB/s: the ridge is at 0.25 FLOP/byte.
    soc = hand_soc()
    nbytes = 4e9
    flops = 0.25 * side * nbytes
    task = make_task("x", "x", (op(flops=flops, nbytes=nbytes),), cpu(soc, 1), soc)
    assert task.compute_bound == (side > 1)
    assert task.alone_s == pytest.approx(max(flops / 1e9, nbytes / 4e9))
    assert task.alone_s == pytest.approx(1.01 if side > 1 else 1.0)


def test_water_filling_by_hand():
    assert max_min_share([10, 10], ["a", "b"], {}, 12) == [6, 6]
    assert max_min_share([2, 10], ["a", "b"], {}, 12) == [2, 10]
    assert max_min_share([10, 10, 10], ["a", "a", "b"], {"a": 4}, 12) == [2, 2, 8]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.1, 50), st.sampled_from("abc")), min_size=1, max_size=8),
       st.floats(1, 100), st.floats(1, 100))
def test_water_filling_is_feasible_and_max_min_fair(flows, total, cap_a):
    caps = [c for c, _ in flows]
    groups = [g for _, g in flows]
    rates = max_min_share(caps, groups, {"a": cap_a}, total)
    tol = 1e-9 * total
    assert sum(rates) <= total + tol
    assert sum(r for r, g in zip(rates, groups) if g == "a") <= cap_a + tol
    for r, c, g in zip(rates, caps, groups):
        assert -tol <= r <= c + tol
        # max-min: a flow below its cap has a saturated bottleneck where no flow gets more than it
        if r < c - tol:
            in_a = [x for x, h in zip(rates, groups) if h == "a"]
            held_by_group = g == "a" and sum(in_a) >= cap_a - tol and max(in_a) <= r + tol
            held_by_total = sum(rates) >= total - tol and max(rates) <= r + tol
            assert held_by_group or held_by_total


@pytest.mark.parametrize("t0", [0.0, 2e4, 3.7e6])
def test_flows_finish_at_large_simulated_times(t0):
    # Late in a long run, now + delay rounds by more than a picosecond; every flow must still end, on time.
    soc = hand_soc()
    engine = Engine(soc)
    ends = []

    def late(nbytes):
        yield engine.env.timeout(t0)
        yield engine.dram.stream(nbytes, 4e9, "c")
        ends.append(engine.env.now)

    sizes = [1e9 / 3 * k for k in range(1, 40)]
    for size in sizes:
        engine.env.process(late(size))
    engine.env.run(until=t0 + 1e3)
    assert len(ends) == len(sizes)
    # 39 flows share the 8 GB/s cluster cap fairly while two or more run; the biggest (13 GB) then runs alone at
    # its own 4 GB/s cap for the 1/3 GB it has beyond the next one: (260 - 1/3) / 8 + (1/3) / 4 = 32.5417 s
    tail = 1e9 / 3
    assert max(ends) == pytest.approx(t0 + (sum(sizes) - tail) / 8e9 + tail / 4e9, rel=1e-9)


def test_a_request_on_free_cores_does_not_wait_behind_a_blocked_one():
    # a holds core 0 for 2 s; b wants core 0 (waits); c wants core 1, free: c must start at once.
    soc = hand_soc()
    c1 = type(cpu(soc))(soc.pu("c"), (1,))
    events, _ = run_together(soc, plan(soc, cpu(soc, 1), op("a", flops=2e9)), plan(soc, cpu(soc, 1), op("b", flops=1e9)),
                             plan(soc, c1, op("c", flops=1e9)))
    assert events["c"].start_s == 0.0 and events["c"].end_s == 1.0
    assert events["b"].start_s == 2.0


def test_flows_ending_a_rounding_error_apart_each_end_once():
    # Three flows of ~3 GB share 9 GB/s: all end at 1 s, the middle one an ulp of bytes later; each process is told
    # exactly once (a flow rescheduled to the current instant by rounding must not be told twice).
    import math

    import simpy
    env = simpy.Environment()
    dram = FluidDram(env, 9e9, {})
    ends = []

    def op(nbytes):
        yield dram.stream(nbytes, 9e9, "a")
        ends.append(env.now)
    for nbytes in (3e9, math.nextafter(3e9, math.inf), 3e9):
        env.process(op(nbytes))
    env.run()
    assert ends == pytest.approx([1.0, 1.0, 1.0], rel=1e-12)
