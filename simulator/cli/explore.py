"""`specsoc explore`: the paper's design space by Eq. 1 and by full simulation, and `specsoc figure`."""

from __future__ import annotations

import argparse
import os

from rich.console import Console

from simulator.analysis.explore import EXPLORE_SAMPLES, ExploreSpec, csv_rows, explore
from simulator.analysis.paper import table_for
from simulator.cli.common import (
    acceptance_flags,
    c_against_seq_len,
    check_ints,
    pair_flags,
    placed_pair,
    progress_bar,
    soc_flags,
)
from simulator.cli.registry import Parser, summary
from simulator.common.bundled import input_files
from simulator.common.errors import InputError
from simulator.common.output import check_outputs, csv_text, together, write_json, write_text
from simulator.run.builder import MAX_DRAFTS
from simulator.traces.trace import MAX_TOKENS
from simulator.render.explore_tables import render_c_vs_seq_len, render_explore, render_speedup_vs_alpha
from simulator.traces.trace import estimate_alpha

EXAMPLES = """examples:
  specsoc explore --alpha 0.90 --seq-len 63        # the paper's Table II on the i.MX 95
  specsoc explore --alpha 0.17 --no-simulate       # Table III, Eq. 1 only
  specsoc explore --trace translation-fp16 --json explore.json --csv explore.csv
  specsoc explore --alpha 0.6 --gamma 1,2,3 --jobs 2   # only these gammas, on 2 worker processes
  specsoc explore --partitions --draft-dtype int8  # also layer splits, op classes, matmul splits, the NPU
  specsoc figure speedup-vs-alpha --c 0.41         # Fig. 7
  specsoc figure c-vs-seq-len --cores 1            # Fig. 6
"""


def add_commands(sub) -> None:
    cmd = sub.add_parser("explore", help=summary("explore"),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    soc_flags(cmd)
    pair_flags(cmd)
    acceptance_flags(cmd, alpha_default=0.90, plain=False, samples_default=EXPLORE_SAMPLES)
    cmd.add_argument("--seq-len", type=int, default=63, help="S_L: sequence length c is profiled at, and the "
                     "synthetic prompt and output length (default: 63)")
    gammas = cmd.add_mutually_exclusive_group()
    gammas.add_argument("--gamma-max", type=int, default=8, help="try gamma 1..GAMMA_MAX (default: 8)")
    gammas.add_argument("--gamma", dest="gamma_list", metavar="LIST", help="try these gammas only, comma-separated (e.g. 1,2,3)")
    cmd.add_argument("--no-simulate", action="store_true", help="Eq. 1 only: skip the full simulations")
    cmd.add_argument("--partitions", action="store_true",
                     help="also explore partitioned placements: the target split by layers, by op class or matmul by "
                          "matmul between an accelerator (GPU, NPU) and the variant's cores, or on an NPU; the "
                          "drafter on an NPU (Eq. 1 for all, the best of each variant simulated)"),
    cmd.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                     help="worker processes for the variants' simulations (default: all cores; same results)")
    cmd.add_argument("--json", metavar="FILE", help="also write variants and mappings as JSON")
    cmd.add_argument("--csv", metavar="FILE", help="also write one row per mapping and gamma as CSV")

    fig = sub.add_parser("figure", help=summary("figure"),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    figs = fig.add_subparsers(dest="figure", required=True, parser_class=Parser)
    alpha = figs.add_parser("speedup-vs-alpha", help="Fig. 7: Eq. 1 speedup against alpha for each gamma")
    alpha.add_argument("--c", type=float, default=0.41, help="cost ratio c (default: 0.41, the paper's GPU drafter)")
    alpha.add_argument("--gamma-max", type=int, default=8, help="largest gamma drawn, 1..GAMMA_MAX (default: 8)")
    seq = figs.add_parser("c-vs-seq-len", help="Fig. 6: c against sequence length for each mapping")
    soc_flags(seq)
    pair_flags(seq)
    seq.add_argument("--cores", default="1", help="comma-separated core counts of the first cluster (default: 1)")
    seq.add_argument("--seq-lens", default="16,32,63,128,256,512", help="sequence lengths (default: 16,...,512)")


def execute(args, console: Console) -> None:
    if args.command == "figure":
        return _figure(args, console)
    check_outputs({"--json": args.json, "--csv": args.csv},
                  input_files(soc=args.soc, target=args.target, draft=args.draft, trace=args.trace))
    if not 1 <= args.seq_len <= MAX_TOKENS // 2:
        raise InputError("--seq-len", f"must be in 1..{MAX_TOKENS // 2:,} (prompt and output are S_L tokens each, "
                                      f"together at most {MAX_TOKENS:,}), got {args.seq_len}")
    if args.gamma_max < 1:
        raise InputError("--gamma-max", f"must be >= 1, got {args.gamma_max}")
    gammas = tuple(sorted(set(check_ints(args.gamma_list, "--gamma", MAX_DRAFTS)))) if args.gamma_list is not None else ()
    for flag, value in (("--gamma-max", args.gamma_max), ("--gamma", max(gammas, default=0))):
        if value > MAX_DRAFTS:
            raise InputError(flag, f"at most {MAX_DRAFTS} (a draft longer than that is not a design point: Eq. 1 "
                                   f"saturates long before), got {str(value)[:20]}")
    spec = placed_pair(args, prompt_tokens=args.seq_len, new_tokens=args.seq_len)
    scenario = spec.build()
    alpha = estimate_alpha(scenario.workload.trace) if args.trace else spec.alpha
    if args.jobs < 1:
        raise InputError("--jobs", f"must be >= 1, got {args.jobs}")
    explore_spec = ExploreSpec(scenario, alpha, args.seq_len, max(gammas, default=args.gamma_max),
                               not args.no_simulate, gammas=gammas, partitions=args.partitions)
    with progress_bar(console, "variants") as progress:
        result = explore(explore_spec, progress, args.jobs)
    with together():
        if args.json:
            write_json(args.json, result.to_json())
        if args.csv:
            write_text(args.csv, csv_text(csv_rows(result)))
    target, draft = explore_spec.target, explore_spec.draft
    pair = ((target.spec.name, target.precision.weights), (draft.spec.name, draft.precision.weights))
    render_explore(console, result, table_for(scenario.soc.name, alpha, *pair))


def _figure(args, console: Console) -> None:
    if args.figure == "speedup-vs-alpha":
        if not 0 <= args.c:
            raise InputError("--c", f"must be >= 0, got {args.c}")
        if not 1 <= args.gamma_max <= MAX_DRAFTS:
            raise InputError("--gamma-max", f"must be in 1..{MAX_DRAFTS}, got {str(args.gamma_max)[:20]}")
        return render_speedup_vs_alpha(console, args.c, args.gamma_max)
    soc, _target, _draft, seq_lens, rows = c_against_seq_len(args)
    render_c_vs_seq_len(console, soc.name, rows, seq_lens)
