"""Passes that hold their cores to themselves, run op by op on the DRAM's own clock.

A pass whose cores no other pass will ask for while it runs (Engine.run_pass's `exclusive` promise: in
overlap mode, drafter and target on different PUs or disjoint cores) never queues. What it does between two
simpy events then depends only on the DRAM: each op spends its overhead, streams its bytes at the rate the
fluid sharing gives it (or computes), and the next op begins. So the FluidDram advances such passes itself,
op by op, up to the next instant at which anything else is due in simpy, and a contended stretch costs no
simpy event per op. The arithmetic is the event-by-event path's (tests/test_fast_paths.py pins the two equal).

At each op boundary, as on the event-by-event path, the pass asks `stop` (abandon it here) and `alone`
(nothing else can run until it ends: its rest is then computed in closed form, as a SoloPass).
"""

from __future__ import annotations

import math

from simulator.engine.eventlog import TimedPass
from simulator.engine.dram import Flow

_OVERHEAD, _COMPUTE = 0, 1   # what a run waits for when it is not streaming


class PassRun:
    __slots__ = ("engine", "dram", "plan", "label", "pu", "cores", "stop", "alone", "done", "index", "phase",
                 "wake_s", "task", "op_start_s", "starts", "ends", "flow")

    def __init__(self, engine, plan, label: str, stop=None, alone=None):
        self.engine = engine
        self.dram = engine.dram
        self.plan = plan
        self.label = label
        self.pu = plan.placement.pu.name
        self.cores = plan.placement.cores
        self.stop = stop
        self.alone = alone
        self.done = engine.env.event()
        self.index = 0              # the op running, or next to run
        self.phase = _OVERHEAD
        self.wake_s = math.inf      # when its overhead or compute phase ends; inf while it streams
        self.task = None            # the op running (a costs.Task)
        self.op_start_s = 0.0
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.flow = Flow(0.0, self.pu, None, run=self)   # its ops' bytes in flight, one op at a time

    def begin(self, t: float) -> None:
        self._boundary(t)

    def wake(self, t: float) -> None:
        """Its overhead or compute phase ended."""
        if self.phase == _OVERHEAD and self._work(t):
            return
        self._op_done(t)

    def _op_done(self, t: float) -> None:
        """Its op ended: its last byte is in (the DRAM calls `streamed`), or its compute phase is over."""
        self._close_op(t)
        self._boundary(t)

    streamed = _op_done

    def _close_op(self, t: float) -> None:
        self.starts.append(self.op_start_s)
        self.ends.append(t)
        self.index += 1

    def _boundary(self, t: float) -> None:
        """Between two ops: end the pass, abandon it, finish it alone in closed form, or start the next op."""
        order, unique = self.plan.order, self.plan.unique
        while True:
            if self.index == len(order):
                return self._finish(t, True)
            if self.stop is not None and self.stop():
                return self._finish(t, False)
            if self.alone is not None and self.dram.quiet_for(self) and self.alone():
                return self._go_solo(t)
            task = self.task = unique[order[self.index]]
            self.op_start_s = t
            if task.overhead_s > 0:
                self.phase = _OVERHEAD
                self.wake_s = t + task.overhead_s
                return
            if self._work(t):
                return
            self._close_op(t)     # an op with nothing to do ends where it starts

    def _work(self, t: float) -> bool:
        """The op's overhead is spent: stream its bytes, or compute; False if it has nothing to do."""
        task = self.task
        if task.stream_cap_B_s > 0:
            self.wake_s = math.inf
            flow = self.flow
            flow.cap, flow.remaining = task.stream_cap_B_s, task.bytes
            self.dram.add_flow(flow)
            return True
        if task.compute_s > 0:
            self.phase = _COMPUTE
            self.wake_s = t + task.compute_s
            return True
        return False

    def _log(self) -> None:
        if self.starts:
            self.engine.log.entries.append(TimedPass(self.label, self.pu, self.cores, self.plan, self.starts, self.ends))

    def _finish(self, t: float, result: bool) -> None:
        """Leave the DRAM's clock; the pass's process hears of it at `t`, in simpy."""
        self.dram.runs.remove(self)
        self._log()
        self._at(t, result)

    def _go_solo(self, t: float) -> None:
        """Nothing else can run until the pass ends: its remaining ops in closed form (Engine.solo_entry, which
        marks the DRAM solo until then)."""
        self.dram.runs.remove(self)
        self._log()
        entry = self.engine.solo_entry(self.plan, self.label, self.index, t)

        def unsolo():
            self.dram.solo = False
        self._at(entry.end_s, True, unsolo)

    def _at(self, t: float, result: bool, then=None) -> None:
        """At `t`, in simpy: give the cores back and tell the pass's process."""
        def fire(_event):
            if then is not None:
                then()
            self.engine.locks[self.pu].release(self.cores)
            self.done.succeed(result)
        self.dram.call_at(t, fire)
