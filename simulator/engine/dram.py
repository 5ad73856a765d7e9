"""DRAM as one shared fluid resource, with its own clock.

Every task in flight that moves bytes is a flow. Its rate is capped by the task itself (its stream cap), by its
PU's group cap and by the DRAM's usable bandwidth, shared max-min fairly (sharing.py) and recomputed whenever a
flow starts or ends. Between two such instants every rate is constant, so each flow's finish time follows
exactly: it is stored when rates are set, and the flows whose finish time has come end together. With one flow
alone the rate is min(its caps, DRAM), and the task takes exactly its roofline time.

The resource keeps its own clock in simpy: one timer, at the next instant a flow ends. What streams through it
comes in two kinds, and this is its whole interface:
- a flow a simpy process waits on: `stream()` returns the event that fires when the last byte is in;
- a Streamer (passrun.PassRun: a pass run op by op on this clock), begun with `start()` and gone with
  `leave()`. It adds its flows with `add_flow()`; the resource tells it when a flow of its ended (`streamed`)
  and when its `wake_s` came (`wake`). While only streamers are in flight and nothing else is due in simpy
  first, the timer's callback goes on from instant to instant by itself: a contended stretch of tasks costs
  no simpy event per task. `succeed_at()` puts a streamer's end back into simpy, which stops that.
A pass that runs alone in closed form (the engine's AlonePass) streams nothing through here; `add_alone()`
records its counter steps and refuses any flow until `alone_done()`.

Nobody but this module writes its state.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import simpy

from simulator.engine.sharing import max_min_share, two_flows


class Streamer(Protocol):
    """What runs on the DRAM's clock (passrun.PassRun)."""

    wake_s: float          # when its current overhead or compute phase ends; inf while it streams or waits

    def begin(self, t: float) -> None: ...

    def wake(self, t: float) -> None: ...

    def streamed(self, t: float) -> None: ...


@dataclass(eq=False, slots=True)
class Flow:
    """One task's bytes in flight. A simpy process is told it ended by `done`; a streamer by a call to its
    `streamed`."""

    cap: float
    group: str
    done: simpy.Event | None
    remaining: float = 0.0
    rate: float = 0.0
    end_s: float = math.inf    # when it finishes if rates stay as they are
    streamer: Streamer | None = None


@dataclass
class BandwidthStep:
    """From `time_s` on (until the next step), flows in each group stream at these rates."""

    time_s: float
    rates_B_s: dict[str, float] = field(default_factory=dict)

    @property
    def total_B_s(self) -> float:
        return sum(self.rates_B_s.values())


class FluidDram:
    def __init__(self, env: simpy.Environment, usable_B_s: float, group_caps: dict[str, float], sharing: bool = True,
                 keep_counter: bool = True):
        """With sharing off (contention switched off), every flow streams at min(its cap, DRAM) as if alone.
        Without keep_counter only the counter's peak is kept, not its steps (a run without a timeline: memory
        then does not grow with the sharing instants)."""
        self._keep = keep_counter
        self.instants = 0             # sharing instants: times the flows in flight were shared anew
        self._peak = 0.0
        self._last_s, self._last_B_s = 0.0, 0.0     # the counter's last step (time, total), not yet in _peak
        self._limits: dict[str, float] = {}           # alone_limit by group
        self._env = env
        self.usable_B_s = usable_B_s
        self._group_caps = dict(group_caps)
        self._sharing = sharing
        self._flows: list[Flow] = []
        self._streamers: list[Streamer] = []
        self._outside = 0             # flows simpy processes wait on (their ends must be simpy events)
        self._flows_end_s = math.inf  # when the first flow ends, as of the last reshare
        self._dirty = False           # flows changed since the last reshare
        self._scheduled = False       # succeed_at put something in simpy: the run-ahead loop must look again
        self._timers = 0              # timers of this resource in simpy, not yet fired (stale ones included)
        self._times: list[float] = [0.0]      # the bandwidth counter, as parallel lists (it gets long)
        self._rates: list[dict[str, float]] = [{}]
        self._totals: list[float] = [0.0]
        self._alone: list[tuple[int, object]] = []   # (counter length when it began, engine AlonePass)
        self._alone_peak = 0.0
        self._alone_running = False
        self._crowded = False         # while streamers are told of an instant where something else happens too
        self._settled_at = 0.0
        self._generation = 0

    # ------------------------------------------------------------------------------------------ queries

    def alone_limit(self, group: str) -> float:
        """The most one flow of `group` gets with no other flow in flight, its own cap aside (what water-filling
        gives one flow: min(its cap, this)); memoised per group."""
        limit = self._limits.get(group)
        if limit is None:
            limit = self._limits[group] = (min(self._group_caps.get(group, math.inf), self.usable_B_s)
                                           if self._sharing else self.usable_B_s)
        return limit

    @property
    def crowded(self) -> bool:
        """Asked by a streamer while it is told of an instant: does anything else happen at that instant?"""
        return self._crowded

    @property
    def timers_pending(self) -> int:
        """This resource's timers waiting in simpy; with nothing in flight here they are all stale."""
        return self._timers

    @property
    def bandwidth_steps(self) -> list[BandwidthStep]:
        """The bandwidth counter's steps, in time order, alone passes' steps replayed in place."""
        return list(self.iter_bandwidth_steps())

    def iter_bandwidth_steps(self) -> Iterator[BandwidthStep]:
        """The same, one at a time: a step at the same instant as the one before replaces it (it lasted 0 s)."""
        return (BandwidthStep(t, rates) for t, rates in self.iter_counter())

    def iter_counter(self) -> Iterator[tuple[float, dict[str, float]]]:
        """The counter's steps as (time s, rates B/s by group): bandwidth_steps without an object each (a
        timeline writes hundreds of thousands)."""
        if not self._keep:
            raise RuntimeError("the bandwidth counter was not kept: make the engine with keep_timeline=True")
        times, rates = self._times, self._rates
        held_t, held_r = times[0], rates[0]
        alone = iter(self._alone)
        pending = next(alone, None)
        for i in range(1, len(times) + 1):
            while pending is not None and pending[0] == i:     # an alone pass's steps, replayed in place
                for t, r, _total in pending[1].counter_steps():
                    if t != held_t:
                        yield held_t, held_r
                    held_t, held_r = t, r
                pending = next(alone, None)
            if i < len(times):
                if times[i] != held_t:
                    yield held_t, held_r
                held_t, held_r = times[i], rates[i]
        yield held_t, held_r

    @property
    def peak_B_s(self) -> float:
        return max(max(self._totals), self._peak, self._last_B_s, self._alone_peak)

    # ------------------------------------------------------------------------- what streams through it

    def stream(self, nbytes: float, cap: float, group: str) -> simpy.Event:
        """Move `nbytes` for one task of `group`, at most `cap` bytes/s; the event fires when the last byte is in."""
        if not (nbytes > 0 and cap > 0):
            raise ValueError(f"a flow needs bytes > 0 and a cap > 0, got {nbytes} bytes at {cap} B/s")
        self._refuse_while_alone("a flow")
        now = self._now()
        self._settle(now)
        flow = Flow(cap, group, self._env.event(), remaining=nbytes)
        self._flows.append(flow)
        self._outside += 1
        self._reshare(now)
        self._set_timer(self._next_s())
        return flow.done

    def start(self, streamer: Streamer) -> None:
        """Begin a streamer on this clock: from now on it starts and ends its tasks inside this resource."""
        self._refuse_while_alone("a pass")
        now = self._now()
        self._settle(now)
        self._streamers.append(streamer)
        streamer.begin(now)
        if self._dirty:
            self._reshare(now)
        self._set_timer(self._next_s())

    def add_flow(self, flow: Flow, nbytes: float, cap: float) -> None:
        """A streamer's task starts streaming `nbytes` at most `cap` bytes/s (called by the streamer, inside this
        resource's clock), through the streamer's own Flow, which it reuses task after task."""
        self._refuse_while_alone("a flow")
        flow.cap, flow.remaining = cap, nbytes
        self._flows.append(flow)
        self._dirty = True

    def leave(self, streamer: Streamer) -> None:
        """A streamer is done with this clock (between two of its tasks: it has no flow in flight)."""
        self._streamers.remove(streamer)

    def succeed_at(self, t: float, event: simpy.Event, value) -> None:
        """Have `event` succeed with `value` at time `t` (a streamer's instant, never before now): how a streamer's
        end reaches the process that waits for it. At now, the event is scheduled at once, as a flow's end is;
        ahead of now, through a timer. The run-ahead loop stops there, since simpy has something due."""
        if t <= self._env.now:
            event.succeed(value)
        else:
            timer = self._env.timeout(t - self._env.now)
            timer.callbacks.append(lambda _timer: event.succeed(value))
        self._scheduled = True

    def add_alone(self, alone_pass, peak_B_s: float) -> None:
        """A pass runs alone in closed form from now until `alone_done()`, streaming at most `peak_B_s`: its
        counter steps are replayed from it when `bandwidth_steps` is read (when kept), and nothing else may stream
        meanwhile."""
        if self._flows or self._streamers:
            raise RuntimeError("a pass went alone while other work streams: it was not alone")
        if self._dirty:   # a streamer went alone as its last flow ended: that step comes first
            self._reshare(self._settled_at)
        if self._keep:
            self._alone.append((len(self._times), alone_pass))
        self._alone_peak = max(self._alone_peak, peak_B_s)
        self._alone_running = True

    def alone_done(self) -> None:
        self._alone_running = False

    # ------------------------------------------------------------------------------------ its clock

    def _refuse_while_alone(self, what: str) -> None:
        if self._alone_running:
            raise RuntimeError(f"{what} started while a pass ran alone in closed form: that pass was not alone")

    def _now(self) -> float:
        """Now, for a call from a simpy process: a streamer's end wakes its process at env.now + (t - env.now),
        which can fall an ulp short of t; the resource's clock never goes back."""
        return max(self._env.now, self._settled_at)

    def _note_total(self, time_s: float, total_B_s: float) -> None:
        """A new step of the counter when its steps are not kept: its peak, as of the steps as they would be kept
        (a step replaced at its instant lasted 0 s and does not count)."""
        if time_s != self._last_s:
            if self._last_B_s > self._peak:
                self._peak = self._last_B_s
            self._last_s = time_s
        self._last_B_s = total_B_s

    def _record(self, time_s: float, rates_B_s: dict[str, float], total_B_s: float) -> None:
        """A new step of the bandwidth counter (one at the same instant replaces the last, which lasted 0 s)."""
        if not self._keep:
            self._note_total(time_s, total_B_s)
            return
        if self._times[-1] == time_s:
            self._rates[-1] = rates_B_s
            self._totals[-1] = total_B_s
        else:
            self._times.append(time_s)
            self._rates.append(rates_B_s)
            self._totals.append(total_B_s)

    def _settle(self, now: float) -> None:
        dt = now - self._settled_at
        if dt > 0:
            for f in self._flows:
                f.remaining -= f.rate * dt
            self._settled_at = now

    def _reshare(self, now: float) -> None:
        """Share the DRAM between the flows in flight; note when each would end, and the counter's new step."""
        self.instants += 1
        flows = self._flows
        n = len(flows)
        if n == 1:       # the common cases unrolled: under contention this runs twice per task
            f = flows[0]
            limit = self._limits.get(f.group) or self.alone_limit(f.group)
            f.rate = rate = f.cap if f.cap < limit else limit
            self._flows_end_s = f.end_s = now + f.remaining / rate
            self._dirty = False
            if self._keep:
                self._record(now, {f.group: rate}, rate)
            else:
                self._note_total(now, rate)
            return
        if n == 2 and self._sharing:
            a, b = flows
            a.rate, b.rate = ra, rb = two_flows(a.cap, b.cap, a.group, b.group, self._group_caps, self.usable_B_s)
            a.end_s = end_a = now + a.remaining / ra
            b.end_s = end_b = now + b.remaining / rb
            self._flows_end_s = end_a if end_a < end_b else end_b
            self._dirty = False
            if self._keep:
                self._record(now, {a.group: ra, b.group: rb} if a.group != b.group else {a.group: ra + rb}, ra + rb)
            else:
                self._note_total(now, ra + rb)
            return
        if not flows:
            self._flows_end_s = math.inf
            self._dirty = False
            self._record(now, {}, 0.0)
            return
        if self._sharing:
            rates = max_min_share([f.cap for f in flows], [f.group for f in flows], self._group_caps, self.usable_B_s)
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
        self._record(now, by_group, sum(rates))

    def _next_s(self) -> float:
        """When the next flow or streamer phase ends, if nothing new starts meanwhile."""
        t = self._flows_end_s
        for streamer in self._streamers:
            if streamer.wake_s < t:
                t = streamer.wake_s
        return t

    def _set_timer(self, at_s: float) -> None:
        self._generation += 1
        if at_s < math.inf:
            timer = self._env.timeout(max(at_s - self._env.now, 0.0))
            timer.callbacks.append(partial(self._on_timer, self._generation))
            self._timers += 1

    def _on_timer(self, generation: int, _event=None) -> None:
        """Flows and streamer phases end; streamers go on to their next tasks. While only streamers are in
        flight, and nothing else is due in simpy before the next of their instants, go on to it right here (a
        streamer's end is put in simpy, so the loop stops at it).

        At an instant where anything else happens too (another flow ends, another streamer wakes, or an event is
        due in simpy), `crowded` is true while the streamers are told: a streamer at a task boundary then hands
        its decision to simpy (Engine._path), so that simpy's order of events decides it, as op by op. Flows
        ending together are told in the order they started, as simpy would resume their processes."""
        self._timers -= 1
        if generation != self._generation:
            return  # rates changed since this timer was set
        t = self._env.now
        streamers = self._streamers
        self._scheduled = False
        horizon = self._env.peek()    # the next instant anything else is due in simpy
        while True:
            dt = t - self._settled_at
            if dt > 0:              # _settle, inlined
                for f in self._flows:
                    f.remaining -= f.rate * dt
                self._settled_at = t
            finished = ()
            if self._flows_end_s <= t:
                finished, going = [], []
                for f in self._flows:
                    (finished if f.end_s <= t else going).append(f)
                self._flows = going
                self._dirty = True
            due = [s for s in streamers if s.wake_s <= t]
            self._crowded = len(finished) + len(due) > 1 or horizon <= t
            woken = False
            for f in finished:
                if f.streamer is not None:
                    f.streamer.streamed(t)
                else:
                    self._outside -= 1
                    f.done.succeed()     # its process resumes now, in simpy
                    woken = True
            for s in due:
                s.wake(t)
            self._crowded = False
            if self._dirty:
                self._reshare(t)
            t_next = self._flows_end_s           # _next_s, inlined
            for streamer in streamers:
                if streamer.wake_s < t_next:
                    t_next = streamer.wake_s
            if self._scheduled:          # a streamer ended: its process resumes in simpy
                self._scheduled = False
                horizon = self._env.peek()
            if woken or self._outside or t_next >= horizon:
                self._set_timer(t_next)
                return
            t = t_next
