"""The discrete-event engine: tasks wait for their placement's cores, then compute and stream DRAM bytes.

It knows nothing of LLMs: it runs PassPlans (ordered tasks on one placement) and handoffs, as simpy
processes, and records every task in an EventLog. A CPU op holds every core of its placement for its whole
duration; two placements on disjoint cores run at once, overlapping ones queue first-come first-served.
A GPU is one in-order queue. An op spends its dispatch/launch overhead, then streams its bytes through the
shared DRAM (fluid.py) no faster than its compute allows; with no bytes it simply computes.
"""

from __future__ import annotations

from collections import deque

import simpy

from .costs import PassPlan
from .eventlog import EventLog, OpEvent
from .fluid import FluidDram
from .mapping import Placement
from .soc import SoC


class CoreLock:
    """Hands out sets of cores of one PU; a waiter is served when all its cores are free, in arrival order."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.busy: set[int] = set()
        self.waiting: deque[tuple[frozenset[int], simpy.Event]] = deque()

    def try_acquire(self, cores: tuple[int, ...]) -> bool:
        if self.waiting or self.busy.intersection(cores):
            return False
        self.busy.update(cores)
        return True

    def wait(self, cores: tuple[int, ...]) -> simpy.Event:
        event = self.env.event()
        self.waiting.append((frozenset(cores), event))
        return event

    def release(self, cores: tuple[int, ...]) -> None:
        self.busy.difference_update(cores)
        while self.waiting and not self.busy & self.waiting[0][0]:
            wanted, event = self.waiting.popleft()
            self.busy.update(wanted)
            event.succeed()


class Engine:
    def __init__(self, soc: SoC):
        self.soc = soc
        self.env = simpy.Environment()
        caps = {pu.name: pu.bandwidth_cap_Bps for pu in soc.pus}
        if soc.interconnect.copy_bandwidth_Bps is not None:
            caps["copy"] = soc.interconnect.copy_bandwidth_Bps
        self.dram = FluidDram(self.env, soc.dram.usable_Bps, caps)
        self.locks = {pu.name: CoreLock(self.env) for pu in soc.pus}
        self.log = EventLog()

    def run_pass(self, plan: PassPlan, label: str):
        """Process body (use with `yield from`): run the plan's tasks in order on its placement."""
        env, dram, log = self.env, self.dram, self.log
        placement = plan.placement
        pu, cores = placement.pu.name, placement.cores
        lock = self.locks[pu]
        for task in plan.tasks:
            if not lock.try_acquire(cores):
                yield lock.wait(cores)
            start = env.now
            if task.overhead_s > 0:
                yield env.timeout(task.overhead_s)
            if task.bytes > 0:
                cap = task.bandwidth_cap_Bps
                if task.compute_s > 0:
                    cap = min(cap, task.bytes / task.compute_s)
                yield dram.stream(task.bytes, cap, pu)
            elif task.compute_s > 0:
                yield env.timeout(task.compute_s)
            lock.release(cores)
            log.ops.append(OpEvent(label, task.name, task.kind, pu, cores, start, env.now, task.flops,
                                   task.bytes, task.alone_s, task.compute_bound))

    def handoff(self, label: str, src: Placement, dst: Placement, nbytes: float):
        """Process body: hand data across PUs (fence, cache maintenance, runtime call; a copy if not shared)."""
        if src.pu.name == dst.pu.name:
            return
        inter = self.soc.interconnect
        start = self.env.now
        yield self.env.timeout(inter.handoff_latency_s)
        if not inter.shared_memory and nbytes > 0:
            yield self.dram.stream(nbytes, inter.copy_bandwidth_Bps, "copy")
        self.log.ops.append(OpEvent(label, "handoff", "handoff", dst.pu.name, (), start, self.env.now, 0.0,
                                    nbytes, inter.handoff_s(nbytes), False))

    def run(self, process) -> float:
        """Run one top-level process to the end; returns the simulated time."""
        self.env.process(process)
        self.env.run()
        return self.env.now
