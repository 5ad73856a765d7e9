"""The `specsoc` command: parse, build a Scenario, simulate, print. No modelling happens here."""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import InputError
from .dtypes import COMPUTE_DTYPES, WEIGHT_DTYPES
from .graph import GRANULARITIES
from .mapping import parse_device
from .model import Precision, load_model
from .report import check_output_path, render_run, write_json
from .resources import bundled_names
from .scenario import ModelRun, Scenario
from .simulate import simulate
from .soc import load_soc

EXAMPLES = """examples:
  specsoc run                                   # Llama 3.2 3B int8 on the i.MX 95's six A55 cores
  specsoc run --target-device gpu --target-dtype fp16 --no-kv-cache
  specsoc run --soc rk3588 --target qwen2.5-1.5b --target-dtype q4_0 --target-device a76:4 --json out.json
  specsoc run --target path/to/config.json      # any Hugging Face Llama/Qwen config.json
  specsoc list                                  # bundled SoCs and models
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage stays behind --help) and exits with 2."""

    def error(self, message: str):
        raise InputError(self.prog, message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="specsoc", description="Simulate LLM decoding on heterogeneous edge SoCs.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"specsoc {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="simulate decoding of one scenario", epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--soc", default="imx95", help="bundled SoC name or YAML path (default: imx95)")
    run.add_argument("--target", default="llama-3.2-3b", help="bundled model name, graphs YAML or HF config.json path")
    run.add_argument("--target-dtype", default="int8", choices=WEIGHT_DTYPES, help="weight format (default: int8)")
    run.add_argument("--target-act-dtype", choices=COMPUTE_DTYPES, help="activation format (default: follows weights)")
    run.add_argument("--target-kv-dtype", choices=COMPUTE_DTYPES, help="KV-cache format (default: activations')")
    run.add_argument("--target-device", default="cpu:6",
                     help="cpu:K, cpu, a cluster name[:K] such as a76:4, or gpu (default: cpu:6)")
    run.add_argument("--prompt-tokens", type=int, default=63, help="prompt length (default: 63, the paper's S_L)")
    run.add_argument("--new-tokens", type=int, default=32, help="tokens to generate (default: 32)")
    run.add_argument("--kv-cache", action=argparse.BooleanOptionalAction, default=True,
                     help="keep a KV cache (default); --no-kv-cache recomputes the sequence every pass, as the paper")
    run.add_argument("--granularity", choices=GRANULARITIES, default="op",
                     help="simulate each op, each layer, or the whole model as one task (default: op)")
    run.add_argument("--draft", default="none",
                     help="drafter model for speculative decoding; 'none' = plain autoregressive decoding")
    run.add_argument("--json", metavar="FILE", help="also write the scenario and results as JSON")

    sub.add_parser("list", help="list bundled SoCs and models")
    return parser


def _scenario(args: argparse.Namespace) -> Scenario:
    if args.draft != "none":
        raise InputError("--draft", "speculative decoding is not available in this version; use --draft none")
    soc = load_soc(args.soc)
    target = ModelRun(spec=load_model(args.target),
                      precision=Precision.resolve(args.target_dtype, args.target_act_dtype, args.target_kv_dtype),
                      device=parse_device(soc, args.target_device), device_text=args.target_device)
    return Scenario(soc=soc, target=target, prompt_tokens=args.prompt_tokens, new_tokens=args.new_tokens,
                    kv_cache=args.kv_cache, granularity=args.granularity)


def _cmd_run(args: argparse.Namespace, console: Console) -> None:
    if args.json:
        check_output_path(args.json)
    scenario = _scenario(args)
    started = time.perf_counter()
    with console.status("simulating...", spinner="dots"):
        results = simulate(scenario)
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
    models = Table(title="Bundled models (--target)", title_justify="left")
    for col in ("name", "parameters", "layers", "hidden", "heads / KV heads", "vocab"):
        models.add_column(col)
    for name in bundled_names("graphs", ".yaml"):
        m = load_model(name)
        models.add_row(name, f"{m.parameters() / 1e9:.2f} B", str(m.num_layers), str(m.hidden_size),
                       f"{m.num_heads} / {m.num_kv_heads}", f"{m.vocab_size:,}")
    console.print(models)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["run", *argv]
    console = Console()
    try:
        args = _build_parser().parse_args(argv)
        if args.command == "list":
            _cmd_list(console)
        else:
            _cmd_run(args, console)
    except InputError as err:
        Console(stderr=True).print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
