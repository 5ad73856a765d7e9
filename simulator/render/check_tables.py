"""`specsoc check`'s waterfall and leave-one-out as rich tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from simulator.analysis.check import CheckResult
from simulator.render.run_tables import interval, interval_phrase, scenario_line
from simulator.run.scenario import Scenario


def render_check(console: Console, scenario: Scenario, result: CheckResult) -> None:
    console.print(scenario_line(scenario))
    flag = f"[bold red]> {result.threshold_percent:g}%[/]"
    table = Table(title="From Eq. 1 to the simulation, one effect at a time (speedup against the target alone)",
                  title_justify="left")
    samples = len(scenario.workload.samples)
    for col in ("step", "speedup", "95% CI", "change", "mean accepted / round", ""):
        table.add_column(col, justify="left" if col in ("step", "") else "right")
    for s in result.steps:
        change = "" if s.delta_percent is None else f"{s.delta_percent:+.2f}%"
        accepted = "" if s.mean_accepted is None else f"{s.mean_accepted:.3f}"
        ci = "" if s.samples is None else interval(s.ci95, s.samples)
        table.add_row(s.label, f"{s.speedup:.3f}x", ci, change, accepted, flag if s.flagged else "")
    console.print(table)
    loo = Table(title="Leaving one effect out of the full scenario", title_justify="left")
    for col in ("effect", "speedup without it", "95% CI", "its effect", ""):
        loo.add_column(col, justify="left" if col in ("effect", "") else "right")
    for e in result.leave_one_out:
        loo.add_row(e.label, f"{e.speedup_without:.3f}x", interval(e.ci95_without, samples), f"{e.delta_percent:+.2f}%",
                    flag if e.flagged else "")
    console.print(loo)
    flagged = result.flagged_labels
    console.print(f"Eq. 1 predicts {result.closed_form_speedup:.3f}x; the simulation {result.simulated_speedup:.3f}x "
                  f"({100 * (result.simulated_speedup / result.closed_form_speedup - 1):+.1f}%; "
                  f"{interval_phrase(result.simulated_ci95, samples)}). With every effect off they differ by "
                  f"{result.gap_all_off_percent:+.2f}%. An effect is switched on the same samples: its change is "
                  f"surer than the intervals.")
    console.print("Assumptions that move the result by more than the threshold: "
                  + (", ".join(flagged) if flagged else "none"))
