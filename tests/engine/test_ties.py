"""Ties: events at the very instant a task ends are ordered on the DRAM's clock as simpy orders them op by op."""

from __future__ import annotations

import pytest

from simulator.engine.engine import Engine
from simulator.engine.plan import Plan, Task
from tests.support import cpu, gpu, hand_soc

# streams 1 GB at the 4 GB/s of one core: 0.25 s alone
STREAM = Task("t", "k", 0.0, 1e9, 0.0, 0.0, 0.25, False, 4e9)
NOTHING = Task("z", "k", 0.0, 0.0, 0.0, 0.0, 0.0, False, 0.0)


def ends(plans_and_delays, fast_paths):
    """Start each plan after its delay (a process timeout); the time each pass ends, by label."""
    soc = hand_soc()
    engine = Engine(soc, fast_paths=fast_paths)
    env, out = engine.env, {}

    def one(label, plan, delay):
        if delay:
            yield env.timeout(delay)
        yield from engine.run_pass(plan, label)
        out[label] = env.now

    def top():
        yield env.all_of([env.process(one(label, p, d)) for label, (p, d) in plans_and_delays.items()])
    engine.run(top())
    return out


@pytest.mark.parametrize("fast_paths", [True, False], ids=["dram-clock", "simpy"])
def test_a_pass_asking_for_the_cores_as_a_task_ends_is_served_first_come_first_served(fast_paths):
    # A streams two tasks on core 0 (0.25 s each); B asks for core 0 at exactly 0.25 s, when A's first task ends.
    # Simpy has B's timeout due before A's process would resume: B queues first, and is served before A's second
    # task, on both paths: B ends at 0.5 s, A at 0.75 s.
    soc = hand_soc()
    a = Plan.of(cpu(soc, 1), [STREAM, STREAM])
    b = Plan.of(cpu(soc, 1), [STREAM])
    assert ends({"A": (a, 0.0), "B": (b, 0.25)}, fast_paths) == pytest.approx({"A": 0.75, "B": 0.5})


def test_a_pass_with_nothing_to_do_ends_at_once_on_every_path():
    # A zero-work pass ends without a simpy step op by op; on the DRAM's clock too, so ordering stays the same.
    soc = hand_soc()
    empty = Plan.of(gpu(soc), [NOTHING, NOTHING])
    other = Plan.of(cpu(soc, 1), [STREAM])
    fast = ends({"E": (empty, 0.0), "S": (other, 0.0)}, True)
    slow = ends({"E": (empty, 0.0), "S": (other, 0.0)}, False)
    assert fast == slow == {"E": 0.0, "S": 0.25}
