"""Timelines of a run in the Chrome trace event format (ui.perfetto.dev, chrome://tracing), written and read back.

One process per processing unit, with one track per CPU core (an op on several cores is drawn once, on the
track of the first of its cores; its args list them all) or one track for a GPU's in-order queue, plus a
track for handoffs into that PU. Every op of the run is one complete event carrying its pass, its role (draft
or target), FLOPs, bytes, achieved bandwidth and whether it was compute- or memory-bound. A "speculative
rounds" process marks each round with its verdict. A "DRAM" process carries one counter with a series for the
total bandwidth in use and one for each PU's share, in GB/s, stepping wherever the fluid sharing changed. Times
are microseconds, as the format wants, rounded to the nanosecond.

The schema: display names are for people; programs read `otherData.specsoc_timeline`, which says which process
is which (`pus`: pid, name, kind, tracks; `rounds_pid`, `dram_pid`). `read_timeline` reads a file through it
(`specsoc plot timeline`).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left
from collections.abc import Iterator
from itertools import islice
from dataclasses import dataclass, field

import numpy as np

from simulator.common.config import is_number, read_json
from simulator.common.errors import InputError
from simulator.common.output import write_stream
from simulator.decode.runtime import role_of
from simulator.engine.eventlog import DagPass, OpEvent
from simulator.run.simulate import RunRecord

SCHEMA = 1
HANDOFF_TID = 1000
COUNTER = "DRAM bandwidth (GB/s)"


def chrome_trace(record: RunRecord) -> dict:
    """The run's timeline as a Chrome trace document (in memory: for tests; write_chrome_trace streams it)."""
    return {**trace_header(record), "traceEvents": list(trace_events(record))}


def trace_header(record: RunRecord) -> dict:
    """Everything of the document but its events: the display unit and otherData (the schema)."""
    engine = record.engine
    soc, log = engine.soc, engine.log
    pids = _pids(soc)
    schema = {"version": SCHEMA, "rounds_pid": len(pids) + 1, "dram_pid": len(pids) + 2,
              "pus": [{"pid": pids[pu.name], "name": pu.name, "kind": pu.kind,
                       "tracks": pu.units if pu.kind == "cpu" else 1} for pu in soc.pus]}
    return {"displayTimeUnit": "ms",
            "otherData": {"soc": soc.name, "total_time_s": engine.env.now, "ops": log.ops_count(),
                          "dram_peak_B_s": soc.dram.peak_bandwidth_B_s, "dram_usable_B_s": soc.dram.usable_B_s,
                          "specsoc_timeline": schema}}


def _pids(soc) -> dict[str, int]:
    return {pu.name: i + 1 for i, pu in enumerate(soc.pus)}


def trace_events(record: RunRecord) -> Iterator[dict]:
    """The run's events, one at a time, in the order they are written: names of processes and tracks, every op
    and handoff, the rounds (`op_events`), the DRAM counter's steps."""
    yield from op_events(record)
    dram_pid = len(record.engine.soc.pus) + 2
    for ts, series in counter_steps(record):
        yield {"name": COUNTER, "ph": "C", "pid": dram_pid, "ts": ts, "args": series}


def op_events(record: RunRecord) -> Iterator[dict]:
    """Names of processes and tracks, every op and handoff, the rounds."""
    engine = record.engine
    pids = _pids(engine.soc)
    yield from _meta_events(engine.soc, pids)
    lanes = _HandoffLanes()
    for e in engine.log.iter_ops():
        yield from _op_events(e, pids, lanes)
    for r in record.rounds:
        yield r.trace_event(len(pids) + 1, 0)


def _meta_events(soc, pids: dict[str, int]) -> Iterator[dict]:
    """Names of processes and tracks."""
    rounds_pid, dram_pid = len(pids) + 1, len(pids) + 2

    def meta(kind: str, pid: int, name: str, tid: int | None = None) -> dict:
        event = {"name": kind, "ph": "M", "pid": pid, "args": {"name": name}}
        if tid is not None:
            event["tid"] = tid
        return event

    for pu in soc.pus:
        pid = pids[pu.name]
        yield meta("process_name", pid, f"{pu.name} ({pu.kind.upper()})")
        yield meta("process_sort_index", pid, str(pid))
        if pu.kind == "cpu":
            for core in range(pu.units):
                yield meta("thread_name", pid, f"core {core}", core)
        else:
            yield meta("thread_name", pid, "queue", 0)
        yield meta("thread_name", pid, "handoffs in", HANDOFF_TID)
    yield meta("process_name", rounds_pid, "speculative rounds")
    yield meta("thread_name", rounds_pid, "rounds", 0)
    yield meta("process_name", dram_pid, f"DRAM ({soc.dram.peak_bandwidth_B_s / 1e9:g} GB/s peak)")


class _HandoffLanes:
    """Handoffs into one PU may overlap (both models handing over at once, or a DAG's producers): each goes on the
    first of its PU's handoff tracks (HANDOFF_TID, HANDOFF_TID + 1, ...) where it overlaps nothing already there,
    in whole nanoseconds as Perfetto reads them; a track is named when it is first used."""

    def __init__(self):
        self._lanes: dict[int, list[list[tuple[int, int]]]] = {}

    def place(self, pid: int, start_s: float, end_s: float) -> tuple[int, bool]:
        """(the track's tid, whether it is new)."""
        span = (round(start_s * 1e9), round(end_s * 1e9))
        lanes = self._lanes.setdefault(pid, [])
        for i, lane in enumerate(lanes):
            k = bisect_left(lane, span)
            if (k == 0 or lane[k - 1][1] <= span[0]) and (k == len(lane) or span[1] <= lane[k][0]):
                lane.insert(k, span)
                return HANDOFF_TID + i, False
        lanes.append([span])
        return HANDOFF_TID + len(lanes) - 1, len(lanes) > 1


def _op_events(e: OpEvent, pids: dict[str, int], lanes: _HandoffLanes) -> Iterator[dict]:
    """One op or handoff: an op on its first cluster's track (spanning: the first of its clusters), with its role;
    a handoff on a handoff track of its PU (first naming a new one)."""
    pid = pids[e.pu.split("+")[0]]
    if e.kind == "handoff":
        tid, new = lanes.place(pid, e.start_s, e.end_s)
        if new:
            yield {"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                   "args": {"name": f"handoffs in ({tid - HANDOFF_TID + 1})"}}
        yield e.trace_event(pid, tid)
        return
    event = e.trace_event(pid, e.cores[0])
    event["args"]["role"] = role_of(e.pass_label)
    yield event


def counter_steps(record: RunRecord) -> Iterator[tuple[float, dict[str, float]]]:
    """The DRAM counter's events, one a step (Perfetto draws one track per series): (ts, GB/s in use in all and
    by each PU)."""
    names = [pu.name for pu in record.engine.soc.pus]
    for time_s, rates in record.engine.dram.iter_counter():
        yield round(time_s * 1e6, 3), {"total": sum(rates.values()) / 1e9, **{name: rates.get(name, 0.0) / 1e9
                                                                              for name in names}}


def _pass_lines(entry, pid: int, quoted: dict[str, str]) -> list[str]:
    """The ops of one pass record (AlonePass, TimedPass) as JSON text, formatted directly: what encoding their
    events (OpEvent.trace_event, with their role) gives, keys sorted, without an object or a dict per op. What
    does not change from op to op is formatted once per distinct task of the pass, what does is computed for all
    its ops at once (the same arithmetic as trace_event and us_span, element by element)."""
    label, role, cores = json.dumps(entry.label), json.dumps(role_of(entry.label)), json.dumps(list(entry.cores))
    tail = f', "ph": "X", "pid": {pid}, "tid": {entry.cores[0]}, "ts": '
    plan, first = entry.plan, entry.first
    order = np.asarray(plan.order[first:])
    fragments = [(f', "bound": "{"compute" if t.compute_bound else "memory"}", "bytes": {t.bytes!r}, "contention_s": ',
                  f', "cores": {cores}, "flops": {t.flops!r}, "pass": {label}, "role": {role}}}, "cat": '
                  f'{json.dumps(t.kind)}, "dur": ') for t in plan.unique]
    starts, ends = entry.time_arrays()
    starts, ends = starts[:len(ends)], ends[:len(starts)]
    order = order[:len(starts)]
    duration = ends - starts
    nbytes, alone = np.asarray(plan.column("bytes"))[order], np.asarray(plan.column("alone_s"))[order]
    moving = duration > 0
    bandwidth = np.where(moving, nbytes / np.where(moving, duration, 1.0) / 1e9, 0.0)
    lost = duration - alone
    contention = np.where(lost > 1e-9 * alone + 1e-12, lost, 0.0)
    start_ns, end_ns = np.rint(starts * 1e9), np.rint(ends * 1e9)     # us_span: whole nanoseconds
    names = [quoted.get(name) or quoted.setdefault(name, json.dumps(name)) for name in plan.names[first:]]
    return [f'{{"args": {{"achieved_bandwidth_GB_s": {bw!r}{fragments[i][0]}{c!r}{fragments[i][1]}{dur!r}, '
            f'"name": {name}{tail}{ts!r}}}'
            for i, name, bw, c, dur, ts in zip(order.tolist(), names, bandwidth.tolist(), contention.tolist(),
                                              ((end_ns - start_ns) / 1000).tolist(), (start_ns / 1000).tolist())]


def write_chrome_trace(path: str, record: RunRecord, progress=lambda done, total: None) -> None:
    """Stream the timeline to `path` as it is produced (one event a line; the file appears whole, or not at all),
    calling progress(events written, events in all) now and then. Ops of pass records and the DRAM counter's
    steps are formatted directly (tests/render/test_timeline.py checks the file equals chrome_trace's document);
    everything else goes through the JSON encoder."""
    encode = json.JSONEncoder(sort_keys=True, allow_nan=False, check_circular=False).encode   # made once
    header = encode(trace_header(record))
    engine = record.engine
    total = engine.log.ops_count() + len(record.rounds)
    pids = _pids(engine.soc)
    dram_pid = len(pids) + 2
    keys = sorted(["total", *(pu.name for pu in engine.soc.pus)])
    quoted = [json.dumps(k) for k in keys]
    tail = f', "name": {json.dumps(COUNTER)}, "ph": "C", "pid": {dram_pid}, "ts": '

    def events():
        names: dict[str, str] = {}
        lanes = _HandoffLanes()
        for event in _meta_events(engine.soc, pids):
            yield encode(event)
        for e in engine.log.entries:
            if isinstance(e, OpEvent) or isinstance(e, DagPass):   # a DAG pass: its nodes, each its own event
                for op in (e,) if isinstance(e, OpEvent) else e.events():
                    for event in _op_events(op, pids, lanes):
                        yield encode(event)
            else:
                yield from _pass_lines(e, pids[e.pu.split("+")[0]], names)
        for r in record.rounds:
            yield encode(r.trace_event(len(pids) + 1, 0))

    def counter():
        pus = [None if k == "total" else k for k in keys]
        args_of: dict[tuple, str] = {}          # a step's args by its rates: alone passes repeat a few of them
        for time_s, rates in engine.dram.iter_counter():
            key = tuple(rates.items())
            args = args_of.get(key)
            if args is None:
                gb_s = sum(rates.values()) / 1e9
                args = args_of[key] = ", ".join(f"{q}: {float.__repr__(gb_s if pu is None else rates.get(pu, 0.0) / 1e9)}"
                                                for q, pu in zip(quoted, pus))
            # ts to the nanosecond: "%.3f" rounds as round(ts, 3) does (both from the exact binary value)
            yield f'{{"args": {{{args}}}{tail}{time_s * 1e6:.3f}}}'

    def chunks():       # a few thousand lines a write, joined
        yield header[:-1] + ', "traceEvents": [\n'
        done, first = 0, True
        for source, counts in ((events(), True), (counter(), False)):
            while True:
                batch = list(islice(source, 4096))
                if not batch:
                    break
                yield ("" if first else ",\n") + ",\n".join(batch)
                first = False
                if counts:
                    done += len(batch)
                    progress(min(done, total), total)
        yield "\n]}\n"

    write_stream(path, chunks())
    progress(total, total)


# ------------------------------------------------------------------------------------------- reading back

@dataclass
class PUTrack:
    """One processing unit's ops, read back from a timeline."""

    name: str
    kind: str                   # "CPU" or "GPU"
    units: int                  # cores (CPU), 1 for a GPU's in-order queue
    starts_us: list[float] = field(default_factory=list)
    ends_us: list[float] = field(default_factory=list)
    cores: list[int] = field(default_factory=list)
    roles: set[str] = field(default_factory=set)
    used: set[int] = field(default_factory=set)

    def label(self) -> str:
        role = "/".join(sorted(self.roles)) or "idle"
        if self.kind == "CPU":
            used = sorted(self.used)
            span = (f"core {used[0]}" if len(used) == 1 else
                    f"cores {used[0]}-{used[-1]}" if used == list(range(used[0], used[-1] + 1)) else
                    "cores " + ",".join(map(str, used))) if used else "no cores"
            return f"{self.name} ({role}, {span} of {self.units})"
        return f"{self.name} GPU ({role})"


@dataclass
class Timeline:
    """A timeline file read back: per-PU ops, DRAM counter steps, round starts."""

    soc: str
    total_s: float
    ops: int | None
    peak_GB_s: float
    pus: list[PUTrack]
    counter_us: np.ndarray      # step times of the DRAM counters
    total_GB_s: np.ndarray
    shares_GB_s: dict[str, np.ndarray]
    round_starts_us: list[float]
    usable_GB_s: float | None = None   # peak x achievable fraction


WRONG = "not a `specsoc run --timeline` file"


def read_timeline(path: str) -> Timeline:
    """A `specsoc run --timeline` file, read back through its schema into per-PU ops and DRAM counter steps."""
    doc = read_json(path, "specsoc run --timeline")
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        raise InputError(path, f"{WRONG} (no 'traceEvents' list)")
    other = doc.get("otherData")
    if not isinstance(other, dict) or not is_number(other.get("total_time_s")) or other["total_time_s"] <= 0:
        raise InputError(path, f"{WRONG} (no positive otherData.total_time_s)")
    if not isinstance(other.get("specsoc_timeline"), dict) or other["specsoc_timeline"].get("version") != SCHEMA:
        raise InputError(path, f"{WRONG} (no otherData.specsoc_timeline version {SCHEMA}: written by another "
                               "version of specsoc? run `specsoc run --timeline` again)")
    if not is_number(other.get("dram_peak_B_s")) or other["dram_peak_B_s"] <= 0:
        raise InputError(path, f"{WRONG} (no positive otherData.dram_peak_B_s)")
    try:
        return _parse(doc, path)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputError(path, f"{WRONG}: malformed event ({type(err).__name__}: {err})") from None


def _parse(doc: dict, path: str) -> Timeline:
    other = doc["otherData"]
    schema = other["specsoc_timeline"]
    pus = {int(p["pid"]): PUTrack(str(p["name"]), str(p["kind"]).upper(), int(p["tracks"])) for p in schema["pus"]}
    if not pus:
        raise InputError(path, f"{WRONG} (its schema lists no processing units)")
    rounds_pid, dram_pid = schema["rounds_pid"], schema["dram_pid"]
    steps: dict[float, dict[str, float]] = {}     # DRAM counter values by time; later events at a time win
    rounds = []
    for e in doc["traceEvents"]:
        ph = e.get("ph")
        if ph == "X" and e["pid"] in pus and e.get("cat") != "handoff":
            track = pus[e["pid"]]
            ts, dur = float(e["ts"]), float(e["dur"])
            cores = e["args"]["cores"]
            if not isinstance(cores, list) or not math.isfinite(ts + dur) or dur < 0:
                raise ValueError(f"op {e.get('name')!r} at ts {ts} has a bad duration or cores")
            track.starts_us.append(ts)
            track.ends_us.append(ts + dur)
            track.cores.append(max(len(cores), 1))
            track.used.update(int(c) for c in cores)
            track.roles.add(str(e["args"].get("role", "?")))
        elif ph == "X" and e["pid"] == rounds_pid:
            rounds.append(float(e["ts"]))
        elif ph == "C" and e["pid"] == dram_pid:
            ts = float(e["ts"])
            if not math.isfinite(ts):
                raise ValueError(f"counter at ts {ts}")
            steps.setdefault(ts, {}).update({str(k): float(v) for k, v in e["args"].items()})
    if not steps:
        raise InputError(path, f"{WRONG} (no DRAM bandwidth counter events)")
    names = [p.name for p in pus.values()]
    t = np.asarray(sorted(steps))
    by_pu = {n: np.asarray([steps[x].get(n, 0.0) for x in t]) for n in names}
    totals = np.asarray([steps[x]["total"] if "total" in steps[x] else sum(steps[x].get(n, 0.0) for n in names)
                         for x in t])
    usable = other.get("dram_usable_B_s")
    return Timeline(str(other.get("soc", "?")), float(other["total_time_s"]),
                    other.get("ops") if is_number(other.get("ops")) else None, other["dram_peak_B_s"] / 1e9,
                    list(pus.values()), t, totals, by_pu, sorted(rounds),
                    float(usable) / 1e9 if is_number(usable) else None)
