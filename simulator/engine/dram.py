"""DRAM as one shared fluid resource.

Every op in flight is a flow of bytes. Its rate is capped by the op itself (its PU's bandwidth cap for its
cores, and bytes / compute time: it never pulls bytes faster than it can use them), by its PU's group cap
(all ops on one CPU cluster or GPU together) and by the DRAM's usable bandwidth (all flows together). Rates
are shared max-min fairly by water-filling, and recomputed whenever a flow starts or ends; between two such
instants every rate is constant, so each flow's finish time follows exactly: it is stored when rates are
set, and the flows whose finish time has come end together. With one flow alone the rate is min(its caps,
DRAM), and the op takes exactly its roofline time.

The resource keeps its own clock in simpy: one timer, at the next instant a flow ends. An op of a simpy
process is told by an event. A pass that holds its cores to itself can instead be run on this clock
(passrun.PassRun): its next op starts inside the timer's callback, and while only such passes are in flight
and nothing else is due in simpy first, the callback goes on from instant to instant by itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import simpy

def max_min_share(caps: list[float], groups: list[str], group_caps: dict[str, float], total: float) -> list[float]:
    """Max-min fair rates by progressive filling.

    All unfrozen flows rise together; a flow freezes when it reaches its own cap, or when its group or the
    total runs out. Each round freezes at least one flow, so it ends in at most len(caps) rounds.
    """
    n = len(caps)
    if n == 1:  # the common case, in closed form: what progressive filling gives for one flow
        return [min(caps[0], group_caps.get(groups[0], math.inf), total)]
    if n == 2:
        return _two_flows(caps[0], caps[1], groups[0], groups[1], group_caps, total)
    rates = [0.0] * n
    active = list(range(n))
    left_total = total
    left_group = {g: group_caps.get(g, math.inf) for g in set(groups)}
    tol = 1e-12 * total
    while active:
        counts: dict[str, int] = {}
        for i in active:
            counts[groups[i]] = counts.get(groups[i], 0) + 1
        inc = left_total / len(active)
        for g, k in counts.items():
            inc = min(inc, left_group[g] / k)
        for i in active:
            inc = min(inc, caps[i] - rates[i])
        inc = max(inc, 0.0)
        for i in active:
            rates[i] += inc
        left_total -= inc * len(active)
        for g, k in counts.items():
            left_group[g] -= inc * k
        active = [i for i in active
                  if caps[i] - rates[i] > tol and left_group[groups[i]] > tol and left_total > tol]
    return rates


def _two_flows(c0: float, c1: float, g0: str, g1: str, group_caps: dict[str, float], total: float) -> list[float]:
    """Progressive filling for two flows in closed form (drafter and target streaming at once).

    In one group the pair shares min(total, group cap); in two groups each flow is also held to its own group's
    cap. Each gets half of what they share, unless its cap is lower: then the other takes the rest, up to its own.
    """
    inf = math.inf
    if g0 == g1:
        share = min(total, group_caps.get(g0, inf))
    else:
        c0 = min(c0, group_caps.get(g0, inf))
        c1 = min(c1, group_caps.get(g1, inf))
        share = total
    half = share / 2
    if c0 <= half and c1 <= half:
        return [c0, c1]
    if c0 <= half:
        return [c0, min(c1, share - c0)]
    if c1 <= half:
        return [min(c0, share - c1), c1]
    return [half, half]


@dataclass(eq=False, slots=True)
class Flow:
    """One op's bytes in flight. An op of a simpy process is told it ended by `done`; an op of a pass run on
    the DRAM's clock (passrun.PassRun) by a call to its `run`."""

    cap: float
    group: str
    done: simpy.Event | None
    remaining: float = 0.0
    rate: float = 0.0
    end_s: float = math.inf    # when it finishes if rates stay as they are
    run: object = None


@dataclass
class BandwidthSample:
    """From `time_s` on (until the next sample), flows in each group stream at these rates."""

    time_s: float
    rates_B_s: dict[str, float] = field(default_factory=dict)

    @property
    def total_B_s(self) -> float:
        return sum(self.rates_B_s.values())


class FluidDram:
    def __init__(self, env: simpy.Environment, usable_B_s: float, group_caps: dict[str, float], sharing: bool = True):
        """With sharing off (contention switched off), every flow streams at min(its cap, DRAM) as if alone."""
        self.env = env
        self.usable_B_s = usable_B_s
        self.group_caps = dict(group_caps)
        self.sharing = sharing
        self.flows: list[Flow] = []
        self.runs: list = []          # passes run on this resource's clock (passrun.PassRun), in flight
        self._outside = 0             # flows of ops that simpy processes wait on (their ends must be simpy events)
        self._flows_end_s = math.inf  # when the first flow ends, as of the last reshare
        self._dirty = False           # flows changed since the last reshare
        self._scheduled = False       # call_at put something in simpy: the run-ahead loop must look again
        self._times: list[float] = [0.0]      # the bandwidth counter, as parallel lists (it gets long)
        self._rates: list[dict[str, float]] = [{}]
        self._totals: list[float] = [0.0]
        self._solo: list[tuple[int, object]] = []   # (counter length when it began, eventlog.SoloPass)
        self._solo_peak = 0.0
        self._settled_at = 0.0
        self._generation = 0
        self.solo = False      # a solo pass is running (engine.run_pass): nothing else may stream meanwhile

    def alone_rate(self, cap: float, group: str) -> float:
        """The rate a flow gets with no other flow in flight: what water-filling gives one flow."""
        if not self.sharing:
            return min(cap, self.usable_B_s)
        return min(cap, self.group_caps.get(group, math.inf), self.usable_B_s)

    def record(self, time_s: float, rates_B_s: dict[str, float], total_B_s: float) -> None:
        """A new step of the bandwidth counter (one at the same instant replaces the last, which lasted 0 s)."""
        if self._times[-1] == time_s:
            self._rates[-1] = rates_B_s
            self._totals[-1] = total_B_s
        else:
            self._times.append(time_s)
            self._rates.append(rates_B_s)
            self._totals.append(total_B_s)

    def add_solo(self, solo_pass) -> None:
        """A pass that ran alone: its counter steps are replayed from it when `samples` is read."""
        if self._dirty:   # a run goes solo as its last flow ends: that step comes first
            self._reshare(self._settled_at)
        self._solo.append((len(self._times), solo_pass))
        self._solo_peak = max([self._solo_peak] + [rate for _o, _b, rate in solo_pass.steps])

    @property
    def samples(self) -> list[BandwidthSample]:
        """The bandwidth counter's steps, in time order, solo passes' steps replayed in place."""
        times, rates, totals = [self._times[0]], [self._rates[0]], [self._totals[0]]

        def add(t, r, total):
            if times[-1] == t:
                rates[-1], totals[-1] = r, total
            else:
                times.append(t)
                rates.append(r)
                totals.append(total)

        solo = iter(self._solo)
        pending = next(solo, None)
        for i in range(1, len(self._times) + 1):
            while pending is not None and pending[0] == i:
                for step in pending[1].counter_steps():
                    add(*step)
                pending = next(solo, None)
            if i < len(self._times):
                add(self._times[i], self._rates[i], self._totals[i])
        return [BandwidthSample(t, r) for t, r in zip(times, rates)]

    @property
    def peak_B_s(self) -> float:
        return max(max(self._totals), self._solo_peak)

    def stream(self, nbytes: float, cap: float, group: str) -> simpy.Event:
        """Move `nbytes` for one op of `group`, at most `cap` bytes/s; the event fires when the last byte is in."""
        if not (nbytes > 0 and cap > 0):
            raise ValueError(f"a flow needs bytes > 0 and a cap > 0, got {nbytes} bytes at {cap} B/s")
        if self.solo:
            raise RuntimeError("a flow started while a solo pass was running: that pass was not alone")
        now = self._now()
        self._settle(now)
        self.flows.append(Flow(cap, group, self.env.event(), remaining=nbytes))
        self._outside += 1
        self._reshare(now)
        self._set_timer(self._next_s())
        return self.flows[-1].done

    def start(self, run) -> simpy.Event:
        """Begin a pass run on the DRAM's clock (passrun.PassRun): from now on its ops start and end inside
        this resource, without simpy events; its `done` fires when it ends or is abandoned."""
        if self.solo:
            raise RuntimeError("a pass started while a solo pass was running: that pass was not alone")
        now = self._now()
        self._settle(now)
        self.runs.append(run)
        run.begin(now)
        if self._dirty:
            self._reshare(now)
        self._set_timer(self._next_s())
        return run.done

    def add_flow(self, flow: Flow) -> None:
        """A run's op starts streaming (called by the run, inside this resource's clock)."""
        if self.solo:
            raise RuntimeError("a flow started while a solo pass was running: that pass was not alone")
        self.flows.append(flow)
        self._dirty = True

    def call_at(self, t: float, callback) -> None:
        """Have simpy call `callback` at time `t` (a run's instant, never before now): how a run tells its
        process it ended. The run-ahead loop stops there, since simpy has something due."""
        timer = self.env.timeout(max(t - self.env.now, 0.0))
        timer.callbacks.append(callback)
        self._scheduled = True

    def _now(self) -> float:
        """Now, for a call from a simpy process: a run's end wakes its process at env.now + (t - env.now), which
        can fall an ulp short of t; the resource's clock never goes back."""
        return max(self.env.now, self._settled_at)

    @property
    def busy(self) -> bool:
        """Anything in flight: a flow, a run (even between its flows), or a solo pass."""
        return bool(self.flows or self.runs or self.solo)

    def quiet_for(self, run) -> bool:
        """Nothing but `run` is in flight: no flow, no other run, no solo pass."""
        return not self.flows and not self.solo and len(self.runs) == 1 and self.runs[0] is run

    def _settle(self, now: float) -> None:
        dt = now - self._settled_at
        if dt > 0:
            for f in self.flows:
                f.remaining -= f.rate * dt
            self._settled_at = now

    def _reshare(self, now: float) -> None:
        """Share the DRAM between the flows in flight; note when each would end, and the counter's new step."""
        flows = self.flows
        n = len(flows)
        if n == 1:       # the common cases unrolled: under contention this runs twice per op
            f = flows[0]
            f.rate = rate = self.alone_rate(f.cap, f.group)
            self._flows_end_s = f.end_s = now + f.remaining / rate
            self._dirty = False
            self.record(now, {f.group: rate}, rate)
            return
        if n == 2 and self.sharing:
            a, b = flows
            a.rate, b.rate = ra, rb = _two_flows(a.cap, b.cap, a.group, b.group, self.group_caps, self.usable_B_s)
            a.end_s = now + a.remaining / ra
            b.end_s = now + b.remaining / rb
            self._flows_end_s = min(a.end_s, b.end_s)
            self._dirty = False
            self.record(now, {a.group: ra, b.group: rb} if a.group != b.group else {a.group: ra + rb}, ra + rb)
            return
        if not flows:
            self._flows_end_s = math.inf
            self._dirty = False
            self.record(now, {}, 0.0)
            return
        if self.sharing:
            rates = max_min_share([f.cap for f in flows], [f.group for f in flows], self.group_caps, self.usable_B_s)
        else:
            rates = [min(f.cap, self.usable_B_s) for f in flows]
        by_group: dict[str, float] = {}
        first = math.inf
        for f, r in zip(flows, rates):
            f.rate = r
            end = f.end_s = now + f.remaining / r
            if end < first:
                first = end
            by_group[f.group] = by_group.get(f.group, 0.0) + r
        self._flows_end_s = first
        self._dirty = False
        self.record(now, by_group, sum(rates))

    def _next_s(self) -> float:
        """When the next flow or run phase ends, if nothing new starts meanwhile."""
        t = self._flows_end_s
        for run in self.runs:
            if run.wake_s < t:
                t = run.wake_s
        return t

    def _set_timer(self, at_s: float) -> None:
        self._generation += 1
        if at_s < math.inf:
            timer = self.env.timeout(max(at_s - self.env.now, 0.0))
            timer.callbacks.append(partial(self._on_timer, self._generation))

    def _on_timer(self, generation: int, _event=None) -> None:
        """Flows and run phases end; runs go on to their next ops. While only runs are in flight, and nothing
        else is due in simpy before the next of their instants, go on to it right here (a run's own ending is
        put in simpy, so the loop stops at it): a contended stretch of ops costs no simpy event per op.

        At an instant where something else is due in simpy too, the runs decide (stop, alone) before it is
        processed: ties between a run's op boundary and another process are broken that way."""
        if generation != self._generation:
            return  # rates changed since this timer was set
        t = self.env.now
        runs = self.runs
        self._scheduled = False
        horizon = self.env.peek()    # the next instant anything else is due in simpy
        while True:
            self._settle(t)
            finished = ()
            if self._flows_end_s <= t:
                finished = [f for f in self.flows if f.end_s <= t]
                self.flows = [f for f in self.flows if f.end_s > t]
                self._dirty = True
                for f in finished:
                    if f.run is not None:
                        f.run.streamed(t)
            for due in [r for r in runs if r.wake_s <= t]:
                due.wake(t)
            if self._dirty:
                self._reshare(t)
            woken = False
            for f in finished:
                if f.run is None:
                    self._outside -= 1
                    f.done.succeed()     # its process resumes now, in simpy
                    woken = True
            t_next = self._next_s()
            if self._scheduled:          # a run ended: its process resumes in simpy
                self._scheduled = False
                horizon = self.env.peek()
            if woken or self._outside or t_next >= horizon:
                self._set_timer(t_next)
                return
            t = t_next
