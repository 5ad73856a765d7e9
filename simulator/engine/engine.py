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

from simulator.llm.costs import PassPlan
from simulator.engine.eventlog import EventLog, OpEvent, SoloPass
from simulator.engine.dram import FluidDram
from simulator.hw.placement import Placement
from simulator.engine.passrun import PassRun
from simulator.hw.soc import SoC


class CoreLock:
    """Hands out sets of cores of one PU.

    A request is served as soon as all its cores are free and no earlier waiter wants any of them: requests
    on disjoint cores never hold each other up, and overlapping ones are served in arrival order.
    """

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.busy: set[int] = set()
        self.exclusive: set[int] = set()   # held by a pass that promised no one else would ask for them
        self.waiting: deque[tuple[frozenset[int], simpy.Event]] = deque()

    def try_acquire(self, cores: tuple[int, ...]) -> bool:
        if self.busy.intersection(cores) or any(not wanted.isdisjoint(cores) for wanted, _ in self.waiting):
            return False
        self.busy.update(cores)
        return True

    def wait(self, cores: tuple[int, ...]) -> simpy.Event:
        if not self.exclusive.isdisjoint(cores):
            raise RuntimeError(f"cores {sorted(cores)} were asked for while a pass holds them exclusively")
        event = self.env.event()
        self.waiting.append((frozenset(cores), event))
        return event

    def release(self, cores: tuple[int, ...]) -> None:
        self.busy.difference_update(cores)
        self.exclusive.difference_update(cores)
        if not self.waiting:
            return
        blocked: set[int] = set()      # cores wanted by earlier waiters that are still waiting
        still = deque()
        for wanted, event in self.waiting:
            if self.busy.isdisjoint(wanted) and blocked.isdisjoint(wanted):
                self.busy.update(wanted)
                event.succeed()
            else:
                blocked.update(wanted)
                still.append((wanted, event))
        self.waiting = still


class Engine:
    def __init__(self, soc: SoC, contention: bool = True):
        self.soc = soc
        self.env = simpy.Environment()
        caps = {pu.name: pu.bandwidth_cap_B_s for pu in soc.pus}
        if soc.interconnect.copy_bandwidth_B_s is not None:
            caps["copy"] = soc.interconnect.copy_bandwidth_B_s
        self.dram = FluidDram(self.env, soc.dram.usable_B_s, caps, sharing=contention)
        self.locks = {pu.name: CoreLock(self.env) for pu in soc.pus}
        self.log = EventLog()
        self._steps: dict[int, tuple] = {}     # solo steps by plan (the planner keeps plans alive)

    def run_pass(self, plan: PassPlan, label: str, stop=None, solo: bool = False, alone=None, exclusive: bool = False):
        """Process body (use with `yield from`): run the plan's tasks in order on its placement.

        `stop`, if given, is asked before each task; when it answers True the pass is abandoned there (the
        work is being thrown away) and run_pass returns False. A pass run to its end returns True.
        `solo` promises that nothing else runs until this pass ends (plain decoding, sequential rounds): then
        every op takes exactly its time alone, and the pass is computed in closed form as one timeout.
        `alone`, if given, is asked before each task whether, from now on, nothing else can run until this pass
        ends; once it says so and no other op is streaming, the rest of the pass is computed in closed form.
        `exclusive` promises that no other pass asks for this placement's cores until this one ends: then its
        ops run on the DRAM's own clock, with no simpy event per op (passrun.py). `stop` and `alone` are then
        asked at the run's own instants, ahead of env.now: they must depend on simpy state only, not on time.
        """
        if solo:
            yield from self._run_solo(plan, label)
            return True
        if exclusive:
            lock = self.locks[plan.placement.pu.name]
            if not lock.try_acquire(plan.placement.cores):
                raise RuntimeError(f"pass {label} was declared exclusive but its cores are in use")
            lock.exclusive.update(plan.placement.cores)
            return (yield self.dram.start(PassRun(self, plan, label, stop, alone)))
        env, dram, log = self.env, self.dram, self.log
        placement = plan.placement
        pu, cores = placement.pu.name, placement.cores
        lock = self.locks[pu]
        unique = plan.unique
        for index, (i, name) in enumerate(zip(plan.order, plan.names)):
            task = unique[i]
            if stop is not None and stop():
                return False
            if alone is not None and not dram.busy and alone() and lock.try_acquire(cores):
                yield from self._solo_from(plan, label, index)
                return True
            if not lock.try_acquire(cores):
                yield lock.wait(cores)
                if stop is not None and stop():   # the verdict came while it queued: give the cores back
                    lock.release(cores)
                    return False
            start = env.now
            if task.overhead_s > 0:
                yield env.timeout(task.overhead_s)
            cap = task.stream_cap_B_s
            if cap > 0:
                yield dram.stream(task.bytes, cap, pu)
            elif task.compute_s > 0:
                yield env.timeout(task.compute_s)
            lock.release(cores)
            log.entries.append(OpEvent(label, name, task.kind, pu, cores, start, env.now, task.flops,
                                       task.bytes, task.alone_s, task.compute_bound))
        return True

    def _solo_steps(self, plan: PassPlan) -> tuple[tuple[float, float, float], ...]:
        """Per task of the plan alone on this engine: (overhead, stream or compute time, DRAM rate or 0)."""
        cached = self._steps.get(id(plan))
        if cached is not None and cached[0] is plan:
            return cached[1]
        dram, pu = self.dram, plan.placement.pu.name
        steps = []
        for task in plan.unique:
            cap = task.stream_cap_B_s
            if cap > 0:
                rate = dram.alone_rate(cap, pu)
                steps.append((task.overhead_s, task.bytes / rate, rate))
            else:
                steps.append((task.overhead_s, task.compute_s, 0.0))
        steps = tuple(steps)
        self._steps[id(plan)] = (plan, steps)
        return steps

    def _run_solo(self, plan: PassPlan, label: str):
        """The pass alone: each op spends its overhead, then streams at the single-flow rate (or computes)."""
        lock = self.locks[plan.placement.pu.name]
        if self.dram.busy or not lock.try_acquire(plan.placement.cores):
            raise RuntimeError(f"pass {label} was declared solo but its cores or DRAM are in use")
        yield from self._solo_from(plan, label, 0)

    def _solo_from(self, plan: PassPlan, label: str, first: int):
        """Ops `first`.. of the pass, now alone with its cores held, in closed form: one timeout."""
        entry = self.solo_entry(plan, label, first, self.env.now)
        yield self.env.timeout(entry.end_s - entry.start_s)
        self.dram.solo = False
        self.locks[entry.pu].release(entry.cores)

    def solo_entry(self, plan: PassPlan, label: str, first: int, start: float) -> SoloPass:
        """Ops `first`.. of the pass, alone from `start`: one SoloPass in the log (its events and DRAM counter
        steps are replayed from the same arithmetic when asked for); the DRAM is marked solo until it ends."""
        steps = self._solo_steps(plan)
        order = plan.order[first:]
        t = start
        for i in order:
            overhead, busy, _rate = steps[i]
            t += overhead
            t += busy
        nbytes = plan.bytes if first == 0 else sum(plan.unique[i].bytes for i in order)
        entry = SoloPass(label, plan.placement.pu.name, plan.placement.cores, plan, steps, start, t, nbytes, first)
        self.log.entries.append(entry)
        self.dram.add_solo(entry)
        self.dram.solo = True
        return entry

    def handoff(self, label: str, src: Placement, dst: Placement, nbytes: float):
        """Process body: hand data across PUs (fence, cache maintenance, runtime call; a copy if not shared)."""
        if src.pu.name == dst.pu.name:
            return
        inter = self.soc.interconnect
        start = self.env.now
        yield self.env.timeout(inter.handoff_latency_s)
        if not inter.shared_memory and nbytes > 0:
            yield self.dram.stream(nbytes, inter.copy_bandwidth_B_s, "copy")
        self.log.entries.append(OpEvent(label, "handoff", "handoff", dst.pu.name, (), start, self.env.now, 0.0,
                                    nbytes, inter.handoff_s(nbytes, self.soc.dram.usable_B_s), False))

    def run(self, process) -> float:
        """Run one top-level process to the end; returns the simulated time."""
        self.env.process(process)
        self.env.run()
        return self.env.now
