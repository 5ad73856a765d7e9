"""Timelines of a run in the Chrome trace event format (ui.perfetto.dev, chrome://tracing).

One process per processing unit, with one track per CPU core (an op on several cores is drawn once, on the
track of the first of its cores; its args list them all) or one track for a GPU's in-order queue, plus a
track for handoffs into that PU. Every op of the run is one complete event carrying its pass, FLOPs, bytes,
achieved bandwidth and whether it was compute- or memory-bound. A "speculative rounds" process marks each
round with its verdict. A "DRAM" process carries one counter with a series for the total bandwidth in use
and one for each PU's share, in GB/s, stepping wherever the fluid sharing changed. Times are microseconds,
as the format wants, rounded to the nanosecond.
"""

from __future__ import annotations

from simulator.engine.eventlog import EventLog
from simulator.engine.dram import BandwidthSample
from simulator.hw.soc import SoC
from simulator.decode.speculative import Round

HANDOFF_TID = 1000


def chrome_trace(soc: SoC, log: EventLog, samples: list[BandwidthSample], rounds: list[Round], total_s: float) -> dict:
    pids = {pu.name: i + 1 for i, pu in enumerate(soc.pus)}
    rounds_pid, dram_pid = len(pids) + 1, len(pids) + 2
    events: list[dict] = []

    def meta(kind: str, pid: int, name: str, tid: int | None = None) -> None:
        event = {"name": kind, "ph": "M", "pid": pid, "args": {"name": name}}
        if tid is not None:
            event["tid"] = tid
        events.append(event)

    for pu in soc.pus:
        pid = pids[pu.name]
        meta("process_name", pid, f"{pu.name} ({pu.kind.upper()})")
        meta("process_sort_index", pid, str(pid))
        if pu.kind == "cpu":
            for core in range(pu.units):
                meta("thread_name", pid, f"core {core}", core)
        else:
            meta("thread_name", pid, "queue", 0)
        meta("thread_name", pid, "handoffs in", HANDOFF_TID)
    meta("process_name", rounds_pid, "speculative rounds")
    meta("thread_name", rounds_pid, "rounds", 0)
    meta("process_name", dram_pid, f"DRAM ({soc.dram.peak_bandwidth_B_s / 1e9:g} GB/s peak)")

    ops = log.ops
    for e in ops:
        tid = HANDOFF_TID if e.kind == "handoff" else e.cores[0]
        events.append(e.trace_event(pids[e.pu], tid))
    events.extend(r.trace_event(rounds_pid, 0) for r in rounds)
    names = [pu.name for pu in soc.pus]
    for s in samples:   # one counter event a step; Perfetto draws one track per series
        series = {"total": s.total_B_s / 1e9, **{name: s.rates_B_s.get(name, 0.0) / 1e9 for name in names}}
        events.append({"name": "DRAM bandwidth (GB/s)", "ph": "C", "pid": dram_pid, "ts": round(s.time_s * 1e6, 3),
                       "args": series})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"soc": soc.name, "total_time_s": total_s, "ops": log.ops_count(),
                          "dram_peak_B_s": soc.dram.peak_bandwidth_B_s, "dram_usable_B_s": soc.dram.usable_B_s}}
