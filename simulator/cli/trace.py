"""The `specsoc trace` commands: synth (seeded synthetic traces), import (real tools' logs), stats (what a trace says)."""

from __future__ import annotations

import argparse

from rich.console import Console

from simulator.cli.registry import Parser, seed, summary
from simulator.analysis.tracestats import trace_stats
from simulator.common.output import check_output_path, write_json
from simulator.render.trace_tables import render_stats, render_summary
from simulator.traces.importers import FORMATS, ImportOptions, import_trace
from simulator.traces.synth import Curve, Iid, Lengths, Markov, generate, parse_curve, parse_quantiles
from simulator.traces.trace import load_trace

TRACE_EXAMPLES = """examples:
  specsoc trace synth iid --alpha 0.6 --samples 100 --seed 1 --out iid.jsonl
  specsoc trace import --format vllm vllm.log --samples 80 --out vllm.jsonl
  specsoc trace stats translation-semiquant --gamma 5 --json stats.json
"""

SYNTH_EXAMPLES = """examples:
  specsoc trace synth iid --alpha 0.6 --samples 100 --seed 1 --out iid.jsonl
  specsoc trace synth iid --alpha-quantiles 0:0,0.5:0.17,0.9:0.9,1:1 --samples 80 --prompt-tokens 63 \\
      --prompt-sd-tokens 20 --output-tokens 63 --output-sd-tokens 20 --seed 1 --out semiquant.jsonl
  specsoc trace synth curve --curve 0.837,0.685,0.562,0.46 --samples 80 --seed 3 --out curve.jsonl
  specsoc trace synth markov --alpha 0.6 --rho 0.5 --samples 50 --output-tokens 200 --seed 7 --out bursty.jsonl

The header records the generator, every parameter, the seed and the command line that makes the file again.
"""

IMPORT_EXAMPLES = """examples:
  specsoc trace import --format spec-bench answers.jsonl --gamma 5 --category translation --out sb.jsonl
  specsoc trace import --format llama-cpp speculative.log --samples 80 --seed 1 --out llama.jsonl
  specsoc trace import --format vllm serve.log --samples 80 --output-tokens 128 --out vllm.jsonl

formats:
  spec-bench  Spec-Bench answer JSONL (choices[0].accept_lengths per question): real rounds, needs --gamma
  llama-cpp   a llama.cpp log: per-round "accepted N/M draft tokens" lines (real rounds); else the server's
              "acceptance rate per position" line (curve) or the end-of-run summary (n_drafted, n_accept:
              i.i.d. alpha), replayed through a seeded generator
  vllm        vLLM "SpecDecoding metrics: ... Per-position acceptance rate: ..." lines, replayed through a
              seeded generator (lines averaged, weighted by drafted tokens)
"""

STATS_EXAMPLES = """examples:
  specsoc trace stats translation-semiquant
  specsoc trace stats path/to/trace.jsonl --gamma 4 --json stats.json

Shows alpha, mean accepted drafts per round at gamma 1..8 against Eq. 1's i.i.d. prediction, the accepted-length
histogram against the truncated geometric, acceptance per draft position, and two tests of independence
(lag-1 autocorrelation of the agreement bits; chi-square of the histogram).
"""


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _common_synth(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=int, metavar="N", default=80, help="samples to generate (default: 80)")
    parser.add_argument("--prompt-tokens", type=float, metavar="N", default=63, help="mean prompt length (default: 63)")
    parser.add_argument("--prompt-sd-tokens", type=float, metavar="N", default=0,
                        help="standard deviation of the prompt length; 0 = fixed (default: 0)")
    parser.add_argument("--output-tokens", type=float, metavar="N", default=63, help="mean output length (default: 63)")
    parser.add_argument("--output-sd-tokens", type=float, metavar="N", default=0,
                        help="standard deviation of the output length; 0 = fixed (default: 0)")
    parser.add_argument("--seed", type=seed, metavar="S", default=0, help="generator seed (default: 0)")
    parser.add_argument("--imitates", metavar="TEXT", help="what the trace stands in for (kept in the header)")
    parser.add_argument("--notes", metavar="TEXT", help="free text for the header, e.g. which parameters are assumptions")
    parser.add_argument("--out", metavar="FILE", required=True, help="write the trace (JSONL) here")


def add_commands(sub) -> None:
    """Add `trace synth|import|stats` to the CLI's subcommands."""
    trace = sub.add_parser("trace", help=summary("trace"),
                           description="Make, import and inspect acceptance traces (JSONL; see traces/README.md).",
                           epilog=TRACE_EXAMPLES, formatter_class=_formatter)
    commands = trace.add_subparsers(dest="trace_command", parser_class=Parser, required=True,
                                    metavar="{synth,import,stats}")

    synth = commands.add_parser("synth", help="generate a seeded synthetic trace",
                                description="Generate a seeded synthetic acceptance trace.",
                                epilog=SYNTH_EXAMPLES, formatter_class=_formatter)
    generators = synth.add_subparsers(dest="generator", parser_class=Parser, required=True,
                                      metavar="{iid,curve,markov}")
    iid = generators.add_parser("iid", help="independent agreement bits, alpha fixed or per sample",
                                description="Each output position agrees with probability alpha, independently. "
                                            "alpha is fixed, or drawn per sample from a piecewise-linear quantile "
                                            "function.", epilog=SYNTH_EXAMPLES, formatter_class=_formatter)
    which = iid.add_mutually_exclusive_group(required=True)
    which.add_argument("--alpha", type=float, metavar="A", help="acceptance rate of every sample, in [0, 1]")
    which.add_argument("--alpha-quantiles", metavar="P:A,...",
                       help="per-sample alpha quantile points probability:alpha, e.g. 0:0,0.5:0.17,0.9:0.9,1:1 "
                            "(monotone, from probability 0 to 1)")
    _common_synth(iid)
    curve = generators.add_parser("curve", help="rounds from a per-position acceptance curve",
                                  description="Rounds at gamma = length of the curve; draft position i accepted "
                                              "with unconditional probability a_i (as vLLM and llama.cpp report it).",
                                  epilog=SYNTH_EXAMPLES, formatter_class=_formatter)
    curve.add_argument("--curve", required=True, metavar="A1,A2,...",
                       help="acceptance per draft position, non-increasing, e.g. 0.837,0.685,0.562")
    _common_synth(curve)
    markov = generators.add_parser("markov", help="bursty agreement: a two-state Markov chain",
                                   description="Agreement bits from a two-state chain with stationary mean alpha "
                                               "and lag-1 correlation rho: P(1|1) = alpha + rho(1 - alpha), "
                                               "P(1|0) = alpha(1 - rho).",
                                   epilog=SYNTH_EXAMPLES, formatter_class=_formatter)
    markov.add_argument("--alpha", type=float, metavar="A", required=True, help="stationary acceptance rate, in [0, 1]")
    markov.add_argument("--rho", type=float, metavar="R", required=True, help="lag-1 correlation of the agreement bits, in [0, 1)")
    _common_synth(markov)

    imp = commands.add_parser("import", help="convert a real tool's log or answer file into a trace",
                              description="Convert Spec-Bench answers, a llama.cpp log or a vLLM log into a trace.",
                              epilog=IMPORT_EXAMPLES, formatter_class=_formatter)
    imp.add_argument("file", metavar="FILE", help="the log or answer file")
    imp.add_argument("--format", required=True, metavar="FORMAT", help=f"one of: {', '.join(FORMATS)}")
    imp.add_argument("--gamma", type=int, metavar="G", help="spec-bench: the draft length the run used (required)")
    imp.add_argument("--category", metavar="NAME", help="spec-bench: keep only this category, e.g. translation")
    imp.add_argument("--prompt-tokens", type=int, metavar="N", default=63,
                     help="prompt length of every sample; no format records it (default: 63)")
    imp.add_argument("--samples", type=int, metavar="N", default=80,
                     help="aggregate-only sources: samples to generate (default: 80)")
    imp.add_argument("--output-tokens", type=int, metavar="N",
                     help="aggregate-only sources: output length per sample (default: n_predict for a llama.cpp "
                          "summary, else 63)")
    imp.add_argument("--seed", type=seed, metavar="S", default=0, help="aggregate-only sources: generator seed (default: 0)")
    imp.add_argument("--out", metavar="FILE", required=True, help="write the trace (JSONL) here")

    stats = commands.add_parser("stats", help="acceptance statistics of a trace and tests of the i.i.d. assumption",
                                description="Acceptance statistics of a trace, beside Eq. 1's i.i.d. predictions.",
                                epilog=STATS_EXAMPLES, formatter_class=_formatter)
    stats.add_argument("trace", metavar="FILE", help="a trace file, or a bundled trace name")
    stats.add_argument("--gamma", type=int, metavar="G",
                       help="draft length of the histogram and per-position table (default: the recorded gamma, "
                            "else 5)")
    stats.add_argument("--seed", type=seed, metavar="S", default=0,
                       help="seed for agreements the record does not know (default: 0)")
    stats.add_argument("--json", metavar="FILE", help="also write the statistics as JSON")


def _synth(args: argparse.Namespace):
    if args.generator == "iid":
        if args.alpha_quantiles is not None:
            generator = Iid(quantiles=parse_quantiles(args.alpha_quantiles))
        else:
            generator = Iid(alpha=args.alpha)
    elif args.generator == "curve":
        generator = Curve(parse_curve(args.curve))
    else:
        generator = Markov(args.alpha, args.rho)
    lengths = Lengths(args.prompt_tokens, args.prompt_sd_tokens, args.output_tokens, args.output_sd_tokens)
    return generate(generator, args.samples, lengths, args.seed, {"imitates": args.imitates, "notes": args.notes})


def execute(args: argparse.Namespace, console: Console) -> None:
    """Run `specsoc trace ...`; bad input raises InputError before any file is written."""
    if args.trace_command == "stats":
        if args.json:
            check_output_path(args.json)
        stats = trace_stats(load_trace(args.trace), args.gamma, args.seed)
        if args.json:
            write_json(args.json, stats)
        render_stats(console, stats)
        if args.json:
            console.print(f"[dim]JSON written to {args.json}[/]")
        return
    check_output_path(args.out)
    if args.trace_command == "synth":
        trace = _synth(args)
    else:
        options = ImportOptions(gamma=args.gamma, prompt_tokens=args.prompt_tokens, category=args.category,
                                samples=args.samples, output_tokens=args.output_tokens, seed=args.seed)
        trace = import_trace(args.format, args.file, options)
    trace.write(args.out)
    render_summary(console, trace, trace_stats(trace), args.out)
