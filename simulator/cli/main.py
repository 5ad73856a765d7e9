"""The `specsoc` command: parse, build a Scenario, simulate, print. No modelling happens here."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulator import __version__
from simulator.cli.common import Parser, run_flags, scenario_from_args
from simulator.common.errors import InputError
from simulator.llm.model import load_model
from simulator.render.run_tables import check_output_path, render_run, write_json
from simulator.common.bundled import bundled_names
from simulator.run.simulate import simulate_recorded
from simulator.hw.soc import load_soc
from simulator.traces.trace import load_trace

EXAMPLES = """examples:
  specsoc run                          # the paper's validated setup: 3B int8 on one A55 core, 1B fp16 drafting
                                       # on the Mali-G310, gamma 5, no KV cache, 63-token prompts, alpha 0.94
  specsoc run --trace translation-semiquant --samples 8 --granularity layer
  specsoc run --draft-device cpu:1 --gamma 3 --alpha 0.9          # drafter on the target's core
  specsoc run --kv-cache --target-device cpu:2 --mode overlap --alpha 0.9
  specsoc run --draft none --kv-cache --target-device cpu:6 --new-tokens 32 --json out.json
  specsoc run --soc rk3588 --target qwen2.5-1.5b --target-dtype q4_0 --target-device a76:4 --draft qwen2.5-0.5b
  specsoc trace synth iid --alpha 0.6 --samples 100 --out my.jsonl
  specsoc list                         # bundled SoCs, models and traces
"""


def _build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="specsoc", description="Simulate LLM decoding, plain and speculative, on edge SoCs.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"specsoc {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)

    run = sub.add_parser("run", help="simulate one scenario (speculative, or --draft none)", epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run_flags(run)
    run.add_argument("--json", metavar="FILE", help="also write the scenario and results as JSON")
    run.add_argument("--timeline", metavar="FILE", help="also write a Chrome/Perfetto trace of the run "
                     "(open in ui.perfetto.dev); --granularity layer keeps it small")

    sub.add_parser("list", help="list bundled SoCs, models and traces")
    from simulator.cli.trace import add_trace_commands
    add_trace_commands(sub, Parser)
    from simulator.cli.explore import add_explore_commands
    add_explore_commands(sub, Parser)
    from simulator.cli.check import add_check_command
    add_check_command(sub)
    from simulator.cli.bench import add_bench_command
    add_bench_command(sub)
    from simulator.cli.plot import add_plot_command
    add_plot_command(sub, Parser)
    return parser


@contextmanager
def _progress_bar(console: Console, unit: str):
    """A transient rich progress bar, shown from the first report on; yields the (phase, done, total) callback
    the simulators call. A command that fails before any work prints nothing."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} " + unit),
               TimeElapsedColumn())
    bar = Progress(*columns, console=console, transient=True)
    phases = {}

    def progress(phase: str, done: int, total: int) -> None:
        if not phases:
            bar.start()
        if phase not in phases:
            phases[phase] = bar.add_task(f"simulating {phase}", total=total)
        bar.update(phases[phase], completed=done)

    try:
        yield progress
    finally:
        if phases:
            bar.stop()


def _cmd_run(args: argparse.Namespace, console: Console) -> None:
    for path in (args.json, args.timeline):
        if path:
            check_output_path(path)
    scenario = scenario_from_args(args)
    started = time.perf_counter()
    with _progress_bar(console, "samples") as progress:
        results, record = simulate_recorded(scenario, progress)
    wall = time.perf_counter() - started
    described = scenario.describe()
    if args.json:
        write_json(args.json, {"scenario": described, "results": results})
    if args.timeline:
        write_json(args.timeline, record.chrome_trace())
    render_run(console, described, results)
    written = [f"{what} written to {path}" for what, path in (("JSON", args.json), ("timeline", args.timeline)) if path]
    console.print(f"[dim]simulated in {wall:.2f} s wall{'; ' + '; '.join(written) if written else ''}[/]")


def _cmd_list(console: Console) -> None:
    socs = Table(title="Bundled SoCs (--soc)", title_justify="left")
    for col in ("name", "processing units", "DRAM"):
        socs.add_column(col)
    for name in bundled_names("socs", ".yaml"):
        soc = load_soc(name)
        units = ", ".join(f"{pu.name} ({pu.units} {'cores' if pu.kind == 'cpu' else 'shader core(s)'}, "
                          f"{pu.clock_hz / 1e9:g} GHz)" for pu in soc.pus)
        socs.add_row(name, units, f"{soc.dram.kind} {soc.dram.peak_bandwidth_B_s / 1e9:g} GB/s peak")
    console.print(socs)
    models = Table(title="Bundled models (--target, --draft)", title_justify="left")
    for col in ("name", "parameters", "layers", "hidden", "heads / KV heads", "vocab"):
        models.add_column(col)
    for name in bundled_names("graphs", ".yaml"):
        m = load_model(name)
        models.add_row(name, f"{m.parameters() / 1e9:.2f} B", str(m.num_layers), str(m.hidden_size),
                       f"{m.num_heads} / {m.num_kv_heads}", f"{m.vocab_size:,}")
    console.print(models)
    traces = Table(title="Bundled traces (--trace)", title_justify="left")
    for col in ("name", "record", "samples", "imitates"):
        traces.add_column(col)
    for name in bundled_names("traces", ".jsonl"):
        t = load_trace(name)
        traces.add_row(name, t.record + (f" (gamma {t.gamma})" if t.gamma else ""), str(len(t.samples)),
                       str(t.header.get("imitates", t.header.get("source", ""))))
    console.print(traces)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["run", *argv]
    console = Console()
    try:
        args = _build_parser().parse_args(argv)
        if args.command == "list":
            _cmd_list(console)
        elif args.command == "trace":
            from simulator.cli.trace import run_trace_command
            run_trace_command(args, console)
        elif args.command == "bench":
            from simulator.cli.bench import run_bench_command
            run_bench_command(args, console)
        elif args.command == "check":
            from simulator.cli.check import run_check_command
            with _progress_bar(console, "simulations") as progress:
                run_check_command(args, console, progress)
        elif args.command in ("explore", "figure"):
            from simulator.cli.explore import run_explore_command
            with _progress_bar(console, "variants") as progress:
                run_explore_command(args, console, progress)
        elif args.command == "plot":
            from simulator.cli.plot import run_plot_command
            run_plot_command(args, console)
        else:
            _cmd_run(args, console)
    except InputError as err:
        Console(stderr=True).print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
