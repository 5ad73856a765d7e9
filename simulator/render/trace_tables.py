"""A trace's statistics (analysis/tracestats.py) as rich tables and lines."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from simulator.analysis.tracestats import at_gamma
from simulator.traces.trace import Trace


def _f(x, spec: str = ".3f") -> str:
    return "n/a" if x is None else format(x, spec)


def render_summary(console: Console, trace: Trace, stats: dict, written: str) -> None:
    """The few lines `trace synth` and `trace import` print after writing a trace."""
    kind = "synthetic" if trace.header.get("synthetic") else "measured"
    console.print(f"[bold]{written}[/]: {stats['samples']} samples ({kind}, record {trace.record}"
                  f"{', gamma ' + str(trace.gamma) if trace.gamma else ''}), {stats['output_tokens']:,} output tokens,"
                  f" alpha {stats['alpha']:.3f}")
    gammas = [trace.gamma] if trace.gamma else [1, 2, 4, 8]
    parts = []
    for g in gammas:
        row = at_gamma(stats, g)
        parts.append(f"gamma {g}: {row['mean_accepted_all_rounds']:.2f} accepted, "
                     f"{row['tokens_per_round_all_rounds']:.2f} tokens per round")
    console.print("mean per round (all rounds) at " + "; ".join(parts))


def render_stats(console: Console, stats: dict) -> None:
    what = "synthetic" if stats["synthetic"] else "measured" if stats["synthetic"] is False else "unlabelled"
    imitates = f" · imitates {stats['imitates']}" if stats["imitates"] else ""
    recorded = f", recorded gamma {stats['recorded_gamma']}" if stats["recorded_gamma"] else ""
    console.print(f"[bold]{stats['trace']}[/] · {what}{imitates} · record {stats['record']}{recorded} · "
                  f"{stats['samples']} samples, {stats['output_tokens']:,} output tokens · alpha {stats['alpha']:.4f}")

    table = Table(title="Mean accepted drafts and tokens per complete round, sequential replay "
                        "(i.i.d. = Eq. 1 at the trace's alpha; drawn = unknown agreements drawn)", title_justify="left")
    for col in ("gamma", "rounds", "accepted", "i.i.d.", "tokens", "i.i.d.", "tokens, all rounds", "drawn"):
        table.add_column(col, justify="right")
    for row in stats["by_gamma"]:
        table.add_row(str(row["gamma"]), f"{row['complete_rounds']:,}", _f(row["mean_accepted"]),
                      _f(row["iid_mean_accepted"]), _f(row["tokens_per_round"]), _f(row["iid_tokens_per_round"]),
                      _f(row["tokens_per_round_all_rounds"]), f"{row['drawn_positions']:,}")
    console.print(table)

    hist = stats["histogram"]
    table = Table(title=f"Accepted drafts per complete round at gamma {hist['gamma']} "
                        f"({hist['complete_rounds']:,} rounds)", title_justify="left")
    for col in ("accepted", "rounds", "share", "i.i.d. (geometric)"):
        table.add_column(col, justify="right")
    for row in hist["bins"]:
        table.add_row(str(row["accepted"]), f"{row['rounds']:,}", _f(row["share"]), _f(row["iid_share"]))
    console.print(table)

    table = Table(title="Acceptance per draft position (share of rounds with n >= i)", title_justify="left")
    for col in ("position", "acceptance", "i.i.d. alpha^i"):
        table.add_column(col, justify="right")
    for row in stats["per_position"]:
        table.add_row(str(row["position"]), _f(row["acceptance"]), _f(row["iid_acceptance"]))
    console.print(table)

    ind = stats["independence"]
    if ind["z"] is None:
        lag = "lag-1 autocorrelation: n/a (no variation in the known agreement bits)"
    else:
        verdict = "[red]dependent[/]" if ind["dependent"] else "[green]consistent with independence[/]"
        lag = (f"lag-1 autocorrelation of agreement bits r = {ind['lag1_autocorrelation']:+.3f} over "
               f"{ind['pairs']:,} pairs, z = {ind['z']:+.1f} (|z| > {ind['z_limit']:g} flags): {verdict}")
    console.print(lag)
    if ind["p_value"] is None:
        console.print("chi-square vs truncated geometric: n/a (too few rounds for two bins expecting >= 5)")
    else:
        verdict = "[red]not geometric[/]" if ind["p_value"] < 0.001 else "consistent with geometric"
        console.print(f"chi-square vs truncated geometric: {ind['chi_square']:.1f} on {ind['dof']} dof, "
                      f"p = {ind['p_value']:.3g}: {verdict}")
