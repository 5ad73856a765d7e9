"""The discrete-event engine: runs plans of tasks on placements, and handoffs between PUs, in simpy.

It knows nothing of LLMs: a plan is tasks with compute floors, bytes and overheads (plan.py), labelled by the
caller. A task holds every core of its placement for its whole duration; two placements on disjoint cores run
at once, overlapping ones queue first come, first served (cores.py). A GPU is one in-order queue. A task spends
its overhead, then streams its bytes through the shared DRAM (dram.py) no faster than its compute allows; with
no bytes it simply computes. Simulated time passes only in the engine's work: passes, handoffs, their flows.

A pass over several placements (a DagPlan: dag.py) runs as its DAG: each node starts when its inputs have ended
and its cores are free, through simpy (`_dag`).

A caller says only what it needs: run this plan (`run_pass`), and abandon it at the next task boundary once the
simpy event `abandon` has triggered (a process: once it has ended). How a pass runs is decided here, in `_path`, from the engine's own state, at its start
and at every task boundary:
- alone, in closed form: nothing else is in flight in the engine (no other pass, handoff or flow) and nothing
  is due in simpy but the DRAM's stale timers, so nothing can start before the pass ends; its rest takes each
  task's time alone, worked out at once (one AlonePass in the log, one simpy timeout);
- ahead, on the DRAM's clock (passrun.py): its cores are free and nobody waits for them when it starts; if a
  pass comes to wait for them, it hands them over at its next task boundary and goes on task by task; it does
  so too at a boundary where anything else happens at the same instant, so that simpy's order of events
  decides what comes first there, as it does op by op;
- task by task through simpy: otherwise, or with fast paths off (`fast_paths=False`, for tests).
The three give the same times, to float rounding (tests/engine/test_fast_paths.py, tests/engine/test_ties.py),
with one exception: a task that moves no bytes (it only computes) and ends at the very instant of another event
is ordered op by op by when its simpy timeout was made, ahead by the DRAM's timer; both are first come, first
served. (A forward pass's ops all move bytes.)
"""

from __future__ import annotations

import copy

import numpy as np
import simpy

from simulator.engine.cores import CoreLock
from simulator.engine.dag import DagNode, DagPlan
from simulator.engine.dram import FluidDram
from simulator.engine.eventlog import (
    AlonePass,
    DagAlone,
    DagPass,
    DagSummary,
    DagTotals,
    EventLog,
    OpEvent,
    PassSummary,
    TimedPass,
)
from simulator.engine.passrun import ABANDONED, AHEAD, ALONE, TASKS, PassRun
from simulator.engine.plan import Plan, Task
from simulator.hw.placement import Placement
from simulator.hw.soc import SoC


class _Clock(simpy.Environment):
    """simpy's environment, with what the engine reads and does beyond simpy's API: its queue (`_queue`, a heap in
    every release since 3.0: simpy offers only `peek()`), its clock moved on without an event when nothing is
    scheduled (`_now`), and its event counter (`_eid`)."""

    def advance(self, delay: float) -> simpy.Timeout | None:
        """Let `delay` pass: the timeout to yield, or None when the clock moved on at once. With nothing scheduled
        in simpy no one else can act before it has passed (every other process waits on an event only this one
        can trigger), so the clock moves on as simpy would when the timeout fired, without an event."""
        if self._queue:
            return self.timeout(delay)
        self._now += delay
        return None

    @property
    def events_scheduled(self) -> int:
        """Events scheduled so far (simpy numbers each from its `_eid` counter; read from a copy of it)."""
        return next(copy.copy(self._eid))


class Engine:
    def __init__(self, soc: SoC, contention: bool = True, fast_paths: bool = True, keep_timeline: bool = True):
        """keep_timeline: keep what a timeline replays (every op's times, the DRAM counter's steps); without it the
        log keeps each pass's totals and the DRAM its peak, so memory does not grow with the ops."""
        self.soc = soc
        self.contention = contention
        self.keep_timeline = keep_timeline
        self.env = _Clock()
        caps = {pu.name: pu.bandwidth_cap_B_s for pu in soc.pus}
        if soc.interconnect.copy_bandwidth_B_s is not None:
            caps["copy"] = soc.interconnect.copy_bandwidth_B_s
        self.dram = FluidDram(self.env, soc.dram.usable_B_s, caps, sharing=contention, keep_counter=keep_timeline)
        self.log = EventLog()
        self.fast_paths = fast_paths
        self._locks = {"cpu": CoreLock(self.env)} | {pu.name: CoreLock(self.env) for pu in soc.pus if pu.kind != "cpu"}
        self._active = 0                            # passes and handoffs in flight (started, not returned)
        self._starting: PassRun | None = None       # the pass being started on the DRAM's clock

    # ------------------------------------------------------------------------------ what callers use

    def run_pass(self, plan: Plan | DagPlan, label: str, abandon: simpy.Event | None = None):
        """Process body (use with `yield from`): run the plan's tasks in order on its placement (a DagPlan: its
        nodes as their inputs end).

        Returns True when the pass ran to its end, False when it was abandoned: `abandon` had triggered at a task
        boundary (or when its cores were handed to it). A simpy Timeout triggers as it is made: wrap it in a
        process to abandon at a time."""
        if isinstance(abandon, simpy.Timeout):
            raise TypeError("abandon: a simpy Timeout triggers as it is made; give a process or an event")
        self._active += 1
        try:
            if isinstance(plan, DagPlan):
                return (yield from self._dag(plan, label, abandon))
            path = self._path(plan, None)
            first = 0
            if path == ALONE:
                yield from self._alone(plan, label, 0)
                return True
            if path == AHEAD:
                lock, cores = self._locks[plan.placement.lock], plan.placement.slots
                lock.try_acquire(cores)
                run = self._starting = PassRun(self, plan, label, abandon)
                self.dram.start(run)
                self._starting = None
                how, first = run.ended if run.ended else (yield run.done)
                if how == ALONE:
                    self.dram.alone_done()
                lock.release(cores)     # here, in the pass's process, as the task-by-task path does
                if how != TASKS:
                    return how != ABANDONED
            return (yield from self._tasks(plan, label, abandon, first))
        finally:
            self._active -= 1

    def handoff(self, label: str, src: Placement, dst: Placement, nbytes: float, name: str = "handoff",
                into: list | None = None):
        """Process body: hand data across PUs (fence, cache maintenance, runtime call; a copy if not shared). Its
        event goes to the log, or to `into` when given."""
        if src.pu.name == dst.pu.name:
            return
        inter = self.soc.interconnect
        start = self.env.now
        self._active += 1
        try:
            wait = self.env.advance(inter.handoff_latency_s)
            if wait is not None:
                yield wait
            if not inter.shared_memory and nbytes > 0:
                yield self.dram.stream(nbytes, inter.copy_bandwidth_B_s, "copy")
        finally:
            self._active -= 1
        (self.log.entries if into is None else into).append(OpEvent(
            label, name, "handoff", dst.pu.name, (), start, self.env.now, 0.0, nbytes,
            inter.handoff_s(nbytes, self.soc.dram.usable_B_s), False))

    def run(self, process) -> float:
        """Run one top-level process to the end; returns the simulated time."""
        self.env.process(process)
        self.env.run()
        return self.env.now

    # ------------------------------------------------------------------- how a pass runs: decided here

    def _path(self, plan: Plan, running: str | None) -> str:
        """ALONE, AHEAD or TASKS: how a pass goes on, asked at its start (`running` None) and at each task
        boundary (`running`: how it runs now). A pass never leaves TASKS but to go alone."""
        if not self.fast_paths:
            return TASKS
        if self._active == 1 and len(self.env._queue) == self.dram.timers_pending:
            return ALONE
        lock, cores = self._locks[plan.placement.lock], plan.placement.slots
        if running is None:
            return AHEAD if lock.free(cores) else TASKS
        if running == AHEAD and (lock.wanted(cores) or self.dram.crowded):
            return TASKS
        return running

    # ---------------------------------------------------------------------------------- the three paths

    def _tasks(self, plan: Plan, label: str, abandon, first: int):
        """Tasks `first`.. of the pass, one by one through simpy: each waits for its cores, spends its overhead,
        then streams (or computes), and gives the cores back."""
        place = plan.placement
        slots, lock = place.slots, self._locks[place.lock]
        unique = plan.unique
        order, names = plan.order, plan.names
        for index in range(first, len(order)):
            task = unique[order[index]]
            if abandon is not None and abandon.triggered:
                return False
            if self._path(plan, TASKS) == ALONE:
                yield from self._alone(plan, label, index)
                return True
            if not lock.try_acquire(slots):
                yield lock.wait(slots)
                if abandon is not None and abandon.triggered:   # it triggered while the pass queued: give them back
                    lock.release(slots)
                    return False
            yield from self._task(task, names[index], place, label)
        return True

    def _task(self, task: Task, name: str, place: Placement, label: str, into: list | None = None):
        """One task whose cores are held: its overhead, then its bytes streamed (or its compute); the cores given
        back, its event logged (or put `into` a list)."""
        env = self.env
        start = env.now
        if task.overhead_s > 0:
            yield env.timeout(task.overhead_s)
        if task.stream_cap_B_s > 0:
            yield self.dram.stream(task.bytes, task.stream_cap_B_s, place.group)
        elif task.compute_s > 0:
            yield env.timeout(task.compute_s)
        self._locks[place.lock].release(place.slots)
        (self.log.entries if into is None else into).append(OpEvent(
            label, name, task.kind, place.group, place.cores, start, env.now, task.flops, task.bytes, task.alone_s,
            task.compute_bound))

    def _dag(self, plan: DagPlan, label: str, abandon):
        """A pass over several placements: every node a process that waits for its inputs, then runs (a task: as on
        the task-by-task path; a handoff: as `handoff`). Once `abandon` has triggered, nodes not yet started are
        skipped; the pass returns when every node has ended or been skipped (False if any was)."""
        if self.fast_paths and self._active == 1 and len(self.env._queue) == self.dram.timers_pending:
            yield from self._dag_alone(plan, label)
            return True
        return (yield from self._dag_nodes(plan, label, abandon))

    def _dag_nodes(self, plan: DagPlan, label: str, abandon, times: list | None = None):
        """The DAG's nodes as processes. With a timeline their events go to the log; without, the pass is logged
        as its totals (a DagSummary: memory does not grow with its nodes)."""
        env = self.env
        start = env.now
        ended = [env.event() for _ in plan.nodes]
        skipped = []
        into = None if self.keep_timeline else []
        for i, (node, task, done) in enumerate(zip(plan.nodes, plan.tasks(), ended)):
            env.process(self._dag_node(i, node, task, [ended[j] for j in node.inputs], done, label, abandon, skipped,
                                       times, into))
        yield env.all_of(ended)
        if into is not None:
            self.log.entries.append(DagSummary(label, start, env.now, DagTotals.of(into, start)))
        return not skipped

    def _dag_node(self, i: int, node: DagNode, task: Task, inputs: list, done: simpy.Event, label: str, abandon,
                  skipped: list, times: list | None, into: list | None):
        """One node of a DAG pass: wait for its inputs, then run (`times[i]`, when given, gets its start and end)."""
        if len(inputs) == 1:
            yield inputs[0]
        elif inputs:
            yield self.env.all_of(inputs)
        start = self.env.now
        if abandon is not None and abandon.triggered:
            skipped.append(task.name)
        elif node.handoff:
            yield from self.handoff(label, node.source, node.placement, task.bytes, task.name, into)
        else:
            lock = self._locks[node.placement.lock]
            if not lock.try_acquire(node.placement.slots):
                yield lock.wait(node.placement.slots)
                start = self.env.now
            yield from self._task(task, task.name, node.placement, label, into)
        if times is not None:
            times[i] = (start, self.env.now)
        done.succeed()

    def _dag_alone(self, plan: DagPlan, label: str):
        """A DAG pass with nothing else in flight: its run alone, simulated once per plan (dag.DagAlone) and
        replayed from now: one DagPass in the log, one simpy timeout; the DRAM refuses flows until it ends."""
        alone = self._alone_run(plan)
        start = self.env.now
        entry = (DagPass(label, plan, alone, start) if self.keep_timeline else
                 DagSummary(label, start, start + alone.duration_s, alone.totals))
        self.log.entries.append(entry)
        self.dram.add_alone(entry, alone.peak_B_s)
        wait = self.env.advance(alone.duration_s)
        if wait is not None:
            yield wait
        self.dram.alone_done()

    def _alone_run(self, plan: DagPlan) -> DagAlone:
        """The plan's run alone on this engine's SoC, simulated the first time it is asked for (memoised on the plan
        by SoC, contention and whether a timeline is kept: the SoC is kept by the key, so that no other takes its
        identity)."""
        key = (self.soc, self.contention, self.keep_timeline)
        alone = plan.alone_runs.get(key)
        if alone is None:
            alone = plan.alone_runs[key] = self._simulate_alone(plan)
        return alone

    def _simulate_alone(self, plan: DagPlan) -> DagAlone:
        """The plan alone on a fresh engine of the same SoC, node by node. Without a timeline only its duration,
        peak and totals are kept (what results read); with one, each node's times and the DRAM counter's steps."""
        private = Engine(self.soc, self.contention, fast_paths=False, keep_timeline=self.keep_timeline)
        times = [None] * len(plan.nodes)
        private.run(private._dag_nodes(plan, "alone", None, times))
        if not self.keep_timeline:
            return DagAlone(None, None, private.env.now, (), private.dram.peak_B_s, None, private.log.entries[-1].totals)
        inter, dram = self.soc.interconnect, self.soc.dram.usable_B_s
        steps = tuple((t, dict(rates), sum(rates.values())) for t, rates in private.dram.iter_counter())
        alone = [inter.handoff_s(t.bytes, dram) if n.handoff else t.alone_s for n, t in zip(plan.nodes, plan.tasks())]
        return DagAlone(np.array([t[0] for t in times]), np.array([t[1] for t in times]), private.env.now, steps,
                        private.dram.peak_B_s, np.array(alone), DagTotals.of(private.log.entries, 0.0))

    def _alone(self, plan: Plan, label: str, first: int):
        """Tasks `first`.. of the pass, alone, in closed form: one timeout."""
        lock, cores = self._locks[plan.placement.lock], plan.placement.slots
        if not lock.try_acquire(cores):
            raise RuntimeError(f"pass {label} went alone but its cores are in use")
        entry = self._alone_entry(plan, label, first, self.env.now)
        wait = self.env.advance(entry.end_s - entry.start_s)
        if wait is not None:
            yield wait
        self.dram.alone_done()
        lock.release(cores)

    def _alone_entry(self, plan: Plan, label: str, first: int, start: float) -> AlonePass | PassSummary:
        """Tasks `first`.. of the pass, alone from `start`: one AlonePass in the log (its events and DRAM counter
        steps are replayed from the same arithmetic when asked for), or without keep_timeline its totals (a
        PassSummary: the log then holds no plan, so memory does not grow with the shapes a run meets); the DRAM
        refuses flows until it ends. A whole pass costs its plan's closed form (Plan.alone: a few array
        operations, memoised per plan)."""
        steps = plan.alone(self.dram.alone_limit(plan.placement.group))
        if first == 0:
            duration, nbytes = steps.total_s, plan.bytes
        else:                       # in run order, as AlonePass replays them
            rest = plan.order[first:]
            duration = float(steps.offsets(rest)[1][-1])
            task_bytes = plan.column("bytes")
            nbytes = sum(task_bytes[i] for i in rest)
        place = plan.placement
        if self.keep_timeline:
            entry = AlonePass(label, place.group, place.cores, plan, steps, start, start + duration, float(nbytes), first)
        else:
            entry = PassSummary(label, place.group, place.cores, start, start + duration, len(plan.order) - first,
                                float(nbytes), 0.0)
        self.log.entries.append(entry)
        self.dram.add_alone(entry, steps.peak_B_s)
        return entry

    def _run_ended(self, run: PassRun, t: float, how: str) -> None:
        """A pass on the DRAM's clock stops at a task boundary at `t`: DONE, ABANDONED, ALONE (its rest in closed
        form, from `t`) or TASKS (it hands its cores over and goes on task by task). Its process hears of it in
        simpy, at `t` or when the closed form ends, and gives the cores back."""
        self.dram.leave(run)
        plan = run.plan
        pu, cores = plan.placement.group, plan.placement.cores
        if run.starts:
            timed = TimedPass(run.label, pu, cores, plan, run.starts, run.ends)
            self.log.entries.append(timed if self.keep_timeline else timed.summary())
        if run is self._starting:   # ended as it began (abandoned, or nothing to do): its process goes straight on
            run.ended = (how, run.index)
            return
        end = self._alone_entry(plan, run.label, run.index, t).end_s if how == ALONE else t
        self.dram.succeed_at(end, run.done, (how, run.index))



def alone_seconds(soc: SoC, plan: Plan | DagPlan, contention: bool = True) -> float:
    """How long a pass takes alone on the SoC: a plan's closed form, or a DAG pass simulated (once per plan)."""
    if isinstance(plan, Plan):
        return plan.alone_s
    return Engine(soc, contention)._alone_run(plan).duration_s
