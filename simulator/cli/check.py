"""`specsoc check`: the closed form against the simulation, one realistic effect at a time."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from simulator.analysis.check import check
from simulator.cli.common import run_flags, scenario_from_args
from simulator.common.errors import InputError
from simulator.render.run_tables import check_output_path, write_json

EXAMPLES = """examples:
  specsoc check                                    # the paper's validated setup (as `specsoc run`)
  specsoc check --trace translation-semiquant --samples 16
  specsoc check --kv-cache --target-device cpu:4 --mode overlap --alpha 0.9 --threshold 1 --json check.json
"""


def add_check_command(sub) -> None:
    cmd = sub.add_parser("check", help="which assumption of Eq. 1 moves the answer, and by how much",
                         description="Run the closed form and the simulation for one scenario (the flags of "
                                     "`specsoc run`), switching realistic effects on one at a time.",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    run_flags(cmd, granularity="layer")
    cmd.add_argument("--threshold", type=float, default=2.0,
                     help="flag an effect that moves the speedup by more than this many percent (default: 2)")
    cmd.add_argument("--json", metavar="FILE", help="also write the scenario and the waterfall as JSON")


def run_check_command(args, console: Console, progress) -> None:
    if args.json:
        check_output_path(args.json)
    if args.draft == "none":
        raise InputError("--draft", "check compares speculative decoding with Eq. 1: give a drafter")
    if args.threshold < 0:
        raise InputError("--threshold", f"must be >= 0, got {args.threshold}")
    scenario = scenario_from_args(args)
    result = check(scenario, args.threshold, progress)
    if args.json:
        write_json(args.json, {"scenario": scenario.describe(), "check": result})
    render_check(console, scenario.describe(), result)


def render_check(console: Console, scenario: dict, result: dict) -> None:
    t, d = scenario["target"], scenario["draft"]
    console.print(f"[bold]{scenario['soc']['name']}[/] · target {t['model']['name']} {t['weights_dtype']} on "
                  f"{t['placement']} · draft {d['model']['name']} {d['weights_dtype']} on {d['placement']} · gamma "
                  f"{scenario['gamma']}, {scenario['mode']} · {'KV cache on' if scenario['kv_cache'] else 'no KV cache'}")
    table = Table(title="From Eq. 1 to the simulation, one effect at a time (speedup against the target alone)",
                  title_justify="left")
    for col in ("step", "speedup", "change", "mean accepted / round", ""):
        table.add_column(col, justify="left" if col in ("step", "") else "right")
    for s in result["steps"]:
        change = "" if s["delta_percent"] is None else f"{s['delta_percent']:+.2f}%"
        accepted = "" if s["mean_accepted_per_round"] is None else f"{s['mean_accepted_per_round']:.3f}"
        table.add_row(s["label"], f"{s['speedup']:.3f}x", change, accepted,
                      f"[bold red]> {result['threshold_percent']:g}%[/]" if s["flagged"] else "")
    console.print(table)
    loo = Table(title="Leaving one effect out of the full scenario", title_justify="left")
    for col in ("effect", "speedup without it", "its effect", ""):
        loo.add_column(col, justify="left" if col in ("effect", "") else "right")
    for e in result["leave_one_out"]:
        loo.add_row(e["label"], f"{e['speedup_without']:.3f}x", f"{e['delta_percent']:+.2f}%",
                    f"[bold red]> {result['threshold_percent']:g}%[/]" if e["flagged"] else "")
    console.print(loo)
    flagged = sorted({s["label"] for s in result["steps"] if s["flagged"]}
                     | {e["label"] for e in result["leave_one_out"] if e["flagged"]})
    console.print(f"Eq. 1 predicts {result['closed_form_speedup']:.3f}x; the simulation {result['simulated_speedup']:.3f}x "
                  f"({100 * (result['simulated_speedup'] / result['closed_form_speedup'] - 1):+.1f}%). With every effect "
                  f"off they differ by {result['gap_all_off_percent']:+.2f}%.")
    console.print("Assumptions that move the result by more than the threshold: "
                  + (", ".join(flagged) if flagged else "none"))
