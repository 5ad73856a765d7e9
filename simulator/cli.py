"""The `specsoc` command: parse, build a Scenario, simulate, print. No modelling happens here."""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .dtypes import COMPUTE_DTYPES, WEIGHT_DTYPES
from .errors import InputError
from .graph import GRANULARITIES
from .mapping import parse_device
from .model import Precision, load_model
from .report import check_output_path, render_run, write_json
from .resources import bundled_names
from .scenario import MODES, ModelRun, Scenario, Speculation, Workload
from .simulate import simulate
from .soc import load_soc
from .synth import Iid, Lengths, generate
from .traces import load_trace

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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage stays behind --help) and exits with 2."""

    def error(self, message: str):
        raise InputError(self.prog, message)


def _model_flags(run: argparse.ArgumentParser, role: str, model: str, dtype: str, device: str) -> None:
    run.add_argument(f"--{role}-dtype", default=dtype, choices=WEIGHT_DTYPES, help=f"weight format (default: {dtype})")
    run.add_argument(f"--{role}-act-dtype", choices=COMPUTE_DTYPES, help="activation format (default: follows weights)")
    run.add_argument(f"--{role}-kv-dtype", choices=COMPUTE_DTYPES, help="KV-cache format (default: activations')")
    run.add_argument(f"--{role}-device", default=device,
                     help=f"cpu:K[@FIRST], cpu, a cluster name[:K] such as a76:4, or gpu (default: {device})")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="specsoc", description="Simulate LLM decoding, plain and speculative, on edge SoCs.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"specsoc {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="simulate one scenario (speculative, or --draft none)", epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--soc", default="imx95", help="bundled SoC name or YAML path (default: imx95)")
    run.add_argument("--uncalibrated", action="store_true",
                     help="ignore the SoC file's calibration section: spec-derived values and assumptions only")
    run.add_argument("--target", default="llama-3.2-3b", help="bundled model, graphs YAML or HF config.json path")
    _model_flags(run, "target", "llama-3.2-3b", "int8", "cpu:1")
    run.add_argument("--draft", default="llama-3.2-1b",
                     help="drafter model (default: llama-3.2-1b); 'none' = plain autoregressive decoding")
    _model_flags(run, "draft", "llama-3.2-1b", "fp16", "gpu")
    run.add_argument("--gamma", type=int, default=5, help="drafts per round (default: 5)")
    run.add_argument("--mode", choices=MODES, default="sequential",
                     help="sequential: draft then verify (the paper); overlap: draft the next block during verify")
    acceptance = run.add_mutually_exclusive_group()
    acceptance.add_argument("--trace", metavar="NAME|FILE", help="acceptance trace (bundled name or JSONL file)")
    acceptance.add_argument("--alpha", type=float,
                            help="i.i.d. acceptance rate for synthetic samples (default: 0.94, the paper's validation)")
    run.add_argument("--samples", type=int,
                     help="samples to decode: the first N of the trace (default: all), or N synthetic ones (default: 4)")
    run.add_argument("--seed", type=int, default=0, help="seed for synthetic samples and unknown agreements (default: 0)")
    run.add_argument("--prompt-tokens", type=int, default=63, help="synthetic prompt length (default: 63, the paper's S_L)")
    run.add_argument("--new-tokens", type=int, default=63,
                     help="synthetic output length (default: 63; the paper's outputs are about as long as inputs)")
    run.add_argument("--kv-cache", action=argparse.BooleanOptionalAction, default=False,
                     help="keep KV caches (default: off, the paper's setting: every pass recomputes the sequence)")
    run.add_argument("--granularity", choices=GRANULARITIES, default="op",
                     help="simulate each op, each layer, or a whole pass as one task (default: op)")
    run.add_argument("--json", metavar="FILE", help="also write the scenario and results as JSON")

    sub.add_parser("list", help="list bundled SoCs, models and traces")
    from .trace_cli import add_trace_commands
    add_trace_commands(sub, _Parser)
    return parser


def _model_run(args, soc, role: str, model: str) -> ModelRun:
    flag = f"--{role}-device"
    device = getattr(args, f"{role}_device")
    precision = Precision.resolve(getattr(args, f"{role}_dtype"), getattr(args, f"{role}_act_dtype"),
                                  getattr(args, f"{role}_kv_dtype"), flag=f"--{role}-dtype")
    return ModelRun(load_model(model), precision, parse_device(soc, device, flag), device)


def _workload(args) -> Workload:
    if args.samples is not None and args.samples < 1:
        raise InputError("--samples", f"must be >= 1, got {args.samples}")
    if args.trace:
        trace = load_trace(args.trace)
        samples = trace.samples[: args.samples] if args.samples else trace.samples
        return Workload(trace, samples, args.seed)
    for flag, value in (("--prompt-tokens", args.prompt_tokens), ("--new-tokens", args.new_tokens)):
        if value < 1:
            raise InputError(flag, f"must be >= 1, got {value}")
    alpha = 0.94 if args.alpha is None else args.alpha
    if not 0.0 <= alpha <= 1.0:
        raise InputError("--alpha", f"must be in 0..1, got {alpha}")
    trace = generate(Iid(alpha=alpha), args.samples or (1 if args.draft == "none" else 4),
                     Lengths(args.prompt_tokens, 0, args.new_tokens, 0), args.seed)
    return Workload(trace, trace.samples, args.seed)


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    soc = load_soc(args.soc, calibrated=not args.uncalibrated)
    target = _model_run(args, soc, "target", args.target)
    speculation = None
    if args.draft != "none":
        speculation = Speculation(_model_run(args, soc, "draft", args.draft), args.gamma, args.mode)
    return Scenario(soc=soc, target=target, workload=_workload(args), kv_cache=args.kv_cache,
                    granularity=args.granularity, speculation=speculation)


def _cmd_run(args: argparse.Namespace, console: Console) -> None:
    if args.json:
        check_output_path(args.json)
    scenario = scenario_from_args(args)
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} samples"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        phases = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in phases:
                phases[phase] = bar.add_task(f"simulating {phase}", total=total)
            bar.update(phases[phase], completed=done)

        results = simulate(scenario, progress)
    wall = time.perf_counter() - started
    described = scenario.describe()
    if args.json:
        write_json(args.json, {"scenario": described, "results": results})
    render_run(console, described, results)
    console.print(f"[dim]simulated in {wall:.2f} s wall{'; JSON written to ' + args.json if args.json else ''}[/]")


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
            from .trace_cli import run_trace_command
            run_trace_command(args, console)
        else:
            _cmd_run(args, console)
    except InputError as err:
        Console(stderr=True).print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
