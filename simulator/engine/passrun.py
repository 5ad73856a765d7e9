"""Passes run task by task on the DRAM's own clock.

A pass whose cores are free and unwanted when it starts runs here (the engine decides: engine.py). What it does
between two simpy events then depends only on the DRAM: each task spends its overhead, streams its bytes at the
rate the fluid sharing gives it (or computes), and the next task begins. The FluidDram advances such passes
itself, task by task, up to the next instant at which anything else is due in simpy, so a contended stretch
costs no simpy event per task. The arithmetic is the task-by-task path's (tests/engine/test_fast_paths.py pins
the two equal).

At each task boundary the run asks whether its `abandon` event has triggered (then it is abandoned there), then
the engine how to go on: alone in closed form, handing its cores over to a pass that waits for them (the rest
then runs task by task through simpy), or on this clock. It ends by telling the engine how (Engine._run_ended);
the engine, not the run, writes the log and gives the cores back.
"""

from __future__ import annotations

import math

from simulator.engine.dram import Flow
from simulator.engine.plan import Plan

ALONE, AHEAD, TASKS = "alone", "ahead", "tasks"   # how a pass goes on (Engine._path decides)
DONE, ABANDONED = "done", "abandoned"              # how else a run ends
_OVERHEAD, _COMPUTE = 0, 1   # what a run waits for when it is not streaming


class PassRun:
    """One pass on the DRAM's clock (a dram.Streamer): its plan, how far it got, and when each task ran."""

    __slots__ = ("engine", "plan", "label", "abandon", "done", "ended", "index", "phase", "wake_s", "task",
                 "op_start_s", "starts", "ends", "flow", "overheads", "caps", "nbytes", "computes")

    def __init__(self, engine, plan: Plan, label: str, abandon=None):
        self.engine = engine
        self.plan = plan
        self.label = label
        self.abandon = abandon      # a simpy event: abandon the pass at the next task boundary once it triggered
        self.done = engine.env.event()   # fires with (how it ended, index of the next task)
        self.ended = None           # the same, when it ended as it began (its process then does not wait)
        self.index = 0              # the task running, or next to run
        self.phase = _OVERHEAD
        self.wake_s = math.inf      # when its overhead or compute phase ends; inf while it streams
        self.task = 0               # the task running: its index among the plan's distinct tasks
        # the plan's distinct tasks, the fields a run reads, as lists (made per pass: a plan keeps no objects)
        self.overheads, self.caps = plan.column("overhead_s"), plan.column("stream_cap_B_s")
        self.nbytes, self.computes = plan.column("bytes"), plan.column("compute_s")
        self.op_start_s = 0.0
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.flow = Flow(0.0, plan.placement.group, None, streamer=self)   # one task's bytes at a time

    def begin(self, t: float) -> None:
        self._boundary(t)

    def wake(self, t: float) -> None:
        """Its overhead or compute phase ended."""
        if self.phase == _OVERHEAD and self._work(t):
            return
        self._task_done(t)

    def _task_done(self, t: float) -> None:
        """Its task ended: its last byte is in (the DRAM calls `streamed`), or its compute phase is over."""
        self._close_task(t)
        self._boundary(t)

    streamed = _task_done

    def _close_task(self, t: float) -> None:
        self.starts.append(self.op_start_s)
        self.ends.append(t)
        self.index += 1

    def _boundary(self, t: float) -> None:
        """Between two tasks: end, be abandoned, go alone, hand the cores over, or start the next task."""
        order, overheads = self.plan.order, self.overheads
        engine = self.engine
        while True:
            if self.index == len(order):
                return engine._run_ended(self, t, DONE)
            if self.abandon is not None and self.abandon.triggered:
                return engine._run_ended(self, t, ABANDONED)
            path = engine._path(self.plan, AHEAD)
            if path != AHEAD:
                return engine._run_ended(self, t, path)
            task = self.task = order[self.index]
            self.op_start_s = t
            if overheads[task] > 0:
                self.phase = _OVERHEAD
                self.wake_s = t + overheads[task]
                return
            if self._work(t):
                return
            self._close_task(t)     # a task with nothing to do ends where it starts

    def _work(self, t: float) -> bool:
        """The task's overhead is spent: stream its bytes, or compute; False if it has nothing to do."""
        task = self.task
        cap = self.caps[task]
        if cap > 0:
            self.wake_s = math.inf
            self.engine.dram.add_flow(self.flow, self.nbytes[task], cap)
            return True
        if self.computes[task] > 0:
            self.phase = _COMPUTE
            self.wake_s = t + self.computes[task]
            return True
        return False
