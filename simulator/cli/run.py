"""`specsoc run`: simulate one scenario (speculative, or plain with --draft none) and print its results."""

from __future__ import annotations

import argparse
import time

from rich.console import Console

from simulator.cli.common import progress_bar, run_flags, scenario_spec
from simulator.cli.registry import TOP_EXAMPLES, summary
from simulator.common.bundled import input_files
from simulator.common.errors import InputError
from simulator.common.output import check_outputs, csv_text, together, write_json, write_text
from simulator.render.run_tables import render_run
from simulator.run.simulate import simulate_recorded
from simulator.traces.trace import estimate_alpha

BYTES_PER_OP = 800    # a timeline's bytes per op, its counter steps included, erring high (measured: 535-595 at op
                      # granularity, ~620 at layer, ~750 at model)


def add_commands(sub) -> None:
    run = sub.add_parser("run", help=summary("run"), epilog=TOP_EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run_flags(run)
    run.add_argument("--json", metavar="FILE", help="also write the scenario and results as JSON")
    run.add_argument("--csv", metavar="FILE", help="also write the scenario and results as one CSV row (nested "
                                                   "keys joined by '.'; per-sample lists only in --json)")
    run.add_argument("--timeline", metavar="FILE", help="also write a Chrome/Perfetto trace of the run "
                     "(open in ui.perfetto.dev); --granularity layer keeps it small")
    run.add_argument("--max-tokens", type=int, default=200_000, metavar="N",
                     help="refuse a run that would generate more output tokens over all its samples (default: "
                          "200,000, up to ~30 s and ~400 MB; the default run generates 4,032 in ~0.1 s)")
    run.add_argument("--timeline-max-mb", type=float, default=1024, metavar="MB",
                     help=f"refuse a timeline estimated larger than this (about {BYTES_PER_OP} bytes an op; "
                          "default: 1024 MB)")


def execute(args: argparse.Namespace, console: Console) -> None:
    check_outputs({"--json": args.json, "--csv": args.csv, "--timeline": args.timeline},
                  input_files(soc=args.soc, target=args.target, draft=args.draft, trace=args.trace,
                              target_device=args.target_device, draft_device=args.draft_device))
    if not args.timeline_max_mb > 0:
        raise InputError("--timeline-max-mb", f"must be > 0, got {args.timeline_max_mb}")
    if args.max_tokens < 1:
        raise InputError("--max-tokens", f"must be >= 1, got {args.max_tokens}")
    spec = scenario_spec(args)
    spec.check()                        # each value in its range first, then the work they make together
    if spec.trace is None:              # the work, before the workload is made
        _check_tokens(spec.synthetic_tokens(), args.max_tokens)
    scenario = spec.build()
    _check_tokens(sum(s.output_tokens for s in scenario.workload.samples), args.max_tokens)
    _check_partitions(scenario, args.max_tokens)
    started = time.perf_counter()
    with progress_bar(console, "samples") as progress:
        results, record = simulate_recorded(scenario, progress, keep_timeline=args.timeline is not None)
    wall = time.perf_counter() - started
    if args.timeline:       # the size it would have, before writing it: a run is quick, its timeline may not be
        ops = record.engine.log.events_count()
        size_mb = ops * BYTES_PER_OP / 1e6
        if size_mb > args.timeline_max_mb:
            raise InputError("--timeline", f"would be about {size_mb:,.0f} MB ({ops:,} ops and handoffs), more than "
                                           f"--timeline-max-mb {args.timeline_max_mb:g}: raise it, or shrink the "
                                           "timeline with --granularity layer or fewer --samples")
    document = {"scenario": scenario.describe(), "results": results.to_json()}
    with together():        # the outputs appear together at the end, or none of them
        if args.json:
            write_json(args.json, document)
        if args.csv:
            write_text(args.csv, csv_text([document]))
        if args.timeline:
            with progress_bar(console, "events") as progress:
                from simulator.render.timeline import write_chrome_trace   # only when asked: start-up
                write_chrome_trace(args.timeline, record, lambda done, total: progress("timeline", done, total))
    render_run(console, scenario, results)
    written = [f"{what} written to {path}" for what, path in (("JSON", args.json), ("CSV", args.csv),
                                                              ("timeline", args.timeline)) if path]
    console.print(f"[dim]simulated in {wall:.2f} s wall{'; ' + '; '.join(written) if written else ''}[/]")


def _check_tokens(tokens: int, limit: int) -> None:
    """Refuse a run of more output tokens than --max-tokens, with its estimate (measured: 20 us a token for short
    samples to 140 us for samples of 100,000 tokens, more under contention; ~1 KB of memory a token)."""
    if tokens > limit:
        raise InputError("--max-tokens", f"the run would generate {tokens:,} output tokens ({_duration(tokens * 20e-6)} "
                                         f"to {_duration(tokens * 140e-6)}, ~{tokens / 1e3:,.0f} MB or more), more "
                                         f"than {limit:,}: raise --max-tokens if you mean it, or give fewer --samples "
                                         "or --new-tokens")


PARTITION_WORK_PER_TOKEN = 10      # node-shapes a partitioned run may simulate per token of --max-tokens (2 M)
PARTITION_PASSES_PER_TOKEN = 100   # node-passes it may keep (20 M), 25 when they run node by node (overlap: 5 M)


def _check_partitions(scenario, limit: int) -> None:
    """Refuse a partitioned run that would take too long or too much memory, with its estimate, before any work.
    A partitioned pass alone is simulated once per shape, node by node, then replayed: nodes x context lengths x
    the shapes a round may make at each (gamma + 2) node-shapes, measured 7-18 us and 40-60 bytes each (20 us and
    60 bytes taken). Every pass leaves its busy spans for the results: nodes x passes node-passes, ~25 bytes each;
    in overlap mode passes run beside each other, node by node through simpy: ~10 us each (measured: the default
    run with the drafter on the Neutron, overlap, KV cache: 3.7 M estimated, 36 s, 240 MB). Passes: one a token
    without a drafter (and as many for the baseline); with one, rounds = tokens / Eq. 1's tokens a round at the
    trace's alpha, each gamma drafts (2 gamma + 1 pre-drafting in overlap mode) and one verify."""
    spec = scenario.speculation
    gamma = spec.gamma if spec else 0
    overlap = spec is not None and spec.mode == "overlap"
    contexts = _context_lengths(scenario.workload.samples)
    tokens = sum(s.output_tokens for s in scenario.workload.samples)
    runs = [("--target-device", scenario.target, 2 * tokens)]
    if spec:
        alpha = min(estimate_alpha(scenario.workload.trace), 0.999)
        rounds = tokens * (1 - alpha) / (1 - alpha ** (gamma + 1))
        runs.append(("--draft-device", spec.draft, round(rounds * (2 * gamma + 1 if overlap else gamma))))
    for flag, run, passes in runs:
        if run.partition is None:
            continue
        nodes = run.partition["nodes_per_pass"]
        shapes, node_passes = nodes * contexts * (gamma + 2), nodes * passes
        allowed = limit * (PARTITION_PASSES_PER_TOKEN // 4 if overlap else PARTITION_PASSES_PER_TOKEN)
        seconds = shapes * 20e-6 + (node_passes * 10e-6 if overlap else 0.0)
        megabytes = (shapes * 60 + node_passes * 25) / 1e6
        if shapes > limit * PARTITION_WORK_PER_TOKEN or node_passes > allowed:
            raise InputError(flag, f"a pass of this partition is a DAG of {nodes:,} nodes: ~{shapes:,} node-shapes to "
                                   f"simulate and ~{node_passes:,} node-passes to run here (~{_duration(seconds)}, "
                                   f"~{megabytes:,.0f} MB), more than --max-tokens {limit:,} allows "
                                   f"({limit * PARTITION_WORK_PER_TOKEN:,} and {allowed:,}): use "
                                   "--granularity layer or model, fewer or shorter samples, or raise --max-tokens")


def _context_lengths(samples) -> int:
    """How many distinct context lengths the samples' passes attend (the union of prompt .. prompt + output)."""
    spans = sorted((s.prompt_tokens, s.prompt_tokens + s.output_tokens) for s in samples)
    total, end = 0, -1
    for a, b in spans:
        if b > end:
            total += b - max(a, end + 1) + 1
            end = b
    return total


def _duration(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds < 120 else f"{seconds / 60:,.0f} min" if seconds < 7200 else f"{seconds / 3600:,.0f} h"
