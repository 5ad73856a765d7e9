"""`specsoc run`: simulate one scenario (speculative, or plain with --draft none) and print its results."""

from __future__ import annotations

import argparse
import time

from rich.console import Console

from simulator.cli.common import progress_bar, run_flags, scenario_spec
from simulator.common.bundled import input_files
from simulator.common.output import check_outputs, csv_text, write_json, write_text
from simulator.render.run_tables import render_run
from simulator.render.timeline import chrome_trace
from simulator.run.simulate import simulate_recorded

EXAMPLES = """examples:
  specsoc run                          # the paper's validated setup: 3B int8 on one A55 core, 1B fp16 drafting
                                       # on the Mali-G310, gamma 5, no KV cache, 63-token prompts, alpha 0.94,
                                       # 64 samples (the speedup's 95% interval is over them)
  specsoc run --trace translation-semiquant --samples 8 --granularity layer
  specsoc run --draft-device cpu:1 --gamma 3 --alpha 0.9          # drafter on the target's core
  specsoc run --kv-cache --target-device cpu:2 --mode overlap --alpha 0.9
  specsoc run --draft none --kv-cache --target-device cpu:6 --new-tokens 32 --json out.json --csv out.csv
  specsoc run --soc rk3588 --target qwen2.5-1.5b --target-dtype q4_0 --target-device a76:4 --draft qwen2.5-0.5b
  specsoc trace synth iid --alpha 0.6 --samples 100 --out my.jsonl
  specsoc list                         # bundled SoCs, models and traces
"""


def add_commands(sub) -> None:
    run = sub.add_parser("run", help="simulate one scenario (speculative, or --draft none)", epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run_flags(run)
    run.add_argument("--json", metavar="FILE", help="also write the scenario and results as JSON")
    run.add_argument("--csv", metavar="FILE", help="also write the scenario and results as one CSV row (nested "
                                                   "keys joined by '.'; per-sample lists only in --json)")
    run.add_argument("--timeline", metavar="FILE", help="also write a Chrome/Perfetto trace of the run "
                     "(open in ui.perfetto.dev); --granularity layer keeps it small")


def execute(args: argparse.Namespace, console: Console) -> None:
    check_outputs({"--json": args.json, "--csv": args.csv, "--timeline": args.timeline},
                  input_files(soc=args.soc, target=args.target, draft=args.draft, trace=args.trace))
    scenario = scenario_spec(args).build()
    started = time.perf_counter()
    with progress_bar(console, "samples") as progress:
        results, record = simulate_recorded(scenario, progress)
    wall = time.perf_counter() - started
    document = {"scenario": scenario.describe(), "results": results.to_json()}
    if args.json:
        write_json(args.json, document)
    if args.csv:
        write_text(args.csv, csv_text([document]))
    if args.timeline:
        write_json(args.timeline, chrome_trace(record))
    render_run(console, scenario, results)
    written = [f"{what} written to {path}" for what, path in (("JSON", args.json), ("CSV", args.csv),
                                                              ("timeline", args.timeline)) if path]
    console.print(f"[dim]simulated in {wall:.2f} s wall{'; ' + '; '.join(written) if written else ''}[/]")
