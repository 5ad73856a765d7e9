"""`specsoc bench`: what the simulator costs on this machine (the measurements are simulator/run/bench.py)."""

from __future__ import annotations

import argparse

from simulator.cli.registry import summary
from simulator.common.errors import InputError

OP, LAYER, MODEL = (f"default, 4 samples of 128 tokens, {g}" for g in ("op", "layer", "model"))
OVERLAP_100, OVERLAP_1000 = ("overlap with contention, 1 sample (~100 rounds)",
                             "overlap with contention, 10 samples (~1000 rounds)")


def add_commands(sub) -> None:
    from simulator.run.bench import __doc__ as bench_doc
    cmd = sub.add_parser("bench", help=summary("bench"),
                         description=bench_doc, formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="examples:\n  specsoc bench\n  specsoc bench --repeat 1 --json bench.json")
    cmd.add_argument("--repeat", type=int, default=3, help="runs per measurement, best kept (default: 3)")
    cmd.add_argument("--json", metavar="FILE", help="also write the figures as JSON")


def targets(doc: dict) -> list[tuple[str, float, str, bool]]:
    """Issue 14's targets, each a ratio taken in this run: (what, figure, target, met)."""
    sc, start, tl, walls = doc["scenarios"], doc["startup"], doc["timeline"], doc["granularities_wall_s"]
    noise = noise_of(walls)
    g = {name: min(walls[name], walls[f"{name}, again"]) for name in ("op", "layer", "model")}
    out = [("default 128 tokens, op: cost in simpy-timeout units", sc[OP]["cost_simpy_timeouts"], "<= 25,000",
            sc[OP]["cost_simpy_timeouts"] <= 25_000),
           ("model wall / layer wall (interleaved)", g["model"] / g["layer"], f"<= 1 (+ noise {noise:.3f})",
            g["model"] / g["layer"] <= 1 + noise),
           ("layer wall / op wall (interleaved)", g["layer"] / g["op"], f"<= 1 (+ noise {noise:.3f})",
            g["layer"] / g["op"] <= 1 + noise),
           ("overlap ~1000 rounds: wall / bare heapq over its DRAM instants",
            sc[OVERLAP_1000]["x_bare_heapq_over_dram_instants"], "<= 3", sc[OVERLAP_1000]["x_bare_heapq_over_dram_instants"] <= 3),
           ("overlap ~1000 rounds: peak RSS (MB)", sc[OVERLAP_1000]["peak_rss_mb"], "<= 150", sc[OVERLAP_1000]["peak_rss_mb"] <= 150),
           ("overlap: RSS at ~1000 rounds / at ~100", sc[OVERLAP_1000]["peak_rss_mb"] / sc[OVERLAP_100]["peak_rss_mb"],
            "<= 1.2", sc[OVERLAP_1000]["peak_rss_mb"] <= 1.2 * sc[OVERLAP_100]["peak_rss_mb"]),
           ("specsoc --help / import simpy", start["help_x_import_simpy"], "<= 2", start["help_x_import_simpy"] <= 2),
           ("specsoc run / importing its dependencies", start["run_x_import_dependencies"], "<= 1.5",
            start["run_x_import_dependencies"] <= 1.5)]
    if tl:
        out += [("default run, 4 samples, with --timeline / without", tl["ratio"], "<= 3", tl["ratio"] <= 3),
                ("default run, 4 samples, with --timeline: peak RSS (MB)", tl["peak_rss_mb"], "<= 200", tl["peak_rss_mb"] <= 200)]
    return out


def noise_of(walls: dict[str, float]) -> float:
    """How far apart the same work (each granularity measured twice in the same interleaved loop) lands, at most:
    the resolution of the granularity ratios on this machine."""
    pairs = [(walls[name], walls[f"{name}, again"]) for name in ("op", "layer", "model")]
    return max(max(a, b) / min(a, b) - 1 for a, b in pairs)


def execute(args, console) -> None:
    from rich.table import Table

    from simulator.common.output import check_output_path, write_json
    from simulator.run.bench import run_bench
    if args.repeat < 1:
        raise InputError("--repeat", f"must be >= 1, got {args.repeat}")
    if args.json:
        check_output_path(args.json)
    with console.status("benchmarking...") as status:
        result = run_bench(args.repeat, lambda step: status.update(f"benchmarking: {step}"))
    doc = result.to_json()
    doc["targets"] = [{"what": w, "value": v, "target": t, "met": m} for w, v, t, m in targets(doc)]
    if args.json:
        write_json(args.json, doc)
    console.print(f"yardsticks: bare simpy {doc['simpy_timeouts_per_s']:,.0f} timeouts/s, bare heapq loop "
                  f"{doc['heapq_events_per_s']:,.0f} events/s, bare two-stream fluid loop "
                  f"{doc['fluid_instants_per_s']:,.0f} instants/s")
    table = Table(title="scenarios, each in its own process (wall: best of --repeat inside it)", title_justify="left")
    for col in ("scenario", "wall s", "simpy events", "DRAM instants", "cost (simpy timeouts)", "peak RSS MB"):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    for name, f in doc["scenarios"].items():
        table.add_row(name, f"{f['wall_s']:.3f}", f"{f['simpy_events']:,}", f"{f['dram_instants']:,}",
                      f"{f['cost_simpy_timeouts']:,.0f}", f"{f['peak_rss_mb']:.0f}")
    console.print(table)
    for name in (OVERLAP_100, OVERLAP_1000):
        f = doc["scenarios"][name]
        console.print(f"{name}: {f['x_bare_heapq_over_dram_instants']:.1f} x a bare heapq loop, "
                      f"{f['x_bare_fluid_over_dram_instants']:.1f} x the bare fluid loop over its DRAM instants")
    g = doc["granularities_wall_s"]
    console.print("granularities (default 4 x 128 tokens, interleaved in one process, best of max(--repeat, 15)): "
                  + ", ".join(f"{name} {wall:.4f} s" for name, wall in g.items()) + f"; noise {noise_of(g):.3f}")
    s = doc["startup"]
    console.print(f"start-up (whole processes): import simpy {s['import_simpy_s']:.3f} s, import the dependencies "
                  f"{s['import_dependencies_s']:.3f} s, specsoc --help {s['specsoc_help_s']:.3f} s, specsoc run "
                  f"{s['specsoc_run_s']:.3f} s")
    t = doc["timeline"]
    console.print(f"timeline (default run, 4 samples, op granularity): {t['without_s']:.2f} s without, {t['with_s']:.2f} s with "
                  f"({t['size_mb']:.1f} MB, {t['write_mb_per_s']:.1f} MB/s), peak RSS {t['peak_rss_mb']:.0f} MB")
    checks = Table(title="targets (issue 14), each a ratio or figure of this run", title_justify="left")
    for col in ("what", "figure", "target", ""):
        checks.add_column(col, justify="left" if col == "what" else "right")
    for what, value, target, met in targets(doc):
        checks.add_row(what, f"{value:,.3f}", target, "[green]met[/]" if met else "[red]missed[/]")
    console.print(checks)
