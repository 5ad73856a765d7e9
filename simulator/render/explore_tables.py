"""`specsoc explore` and `specsoc figure` as rich tables: the best choice per variant, every mapping, Fig. 6 and 7."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from simulator.analysis.analytic import eq1
from simulator.analysis.explore import Decision, ExploreResult
from simulator.render.run_tables import interval


def cell(speculate: bool, gamma: int, heterogeneous: bool, speedup: float) -> str:
    """One decision in one cell: 'γ4 het 1.55x', or 'no 1.00x'."""
    if not speculate:
        return f"no {speedup:.2f}x"
    return f"γ{gamma} {'het' if heterogeneous else 'hom'} {speedup:.2f}x"


def _decision_cells(d: Decision, samples: int | None = None) -> list[str]:
    """The decision's cell, with `samples` its speedup's 95% interval, and its mapping as 'drafter -> target' (or
    the target alone, or '-')."""
    if d.mapping is None:
        arrow = "-"
    elif d.speculate:
        arrow = f"{d.mapping.draft_device} -> {d.mapping.target_device}"
    else:
        arrow = d.label
    ci = [] if samples is None else [interval(d.ci95, samples)]
    return [cell(d.speculate, d.gamma, d.heterogeneous, d.speedup), *ci, arrow]


def render_explore(console: Console, result: ExploreResult, paper: dict | None) -> None:
    """The best choice per variant (beside the paper's table when there is one), then every mapping."""
    spec = result.spec
    simulated = spec.simulate
    samples = len(spec.scenario.workload.samples)
    console.print(f"[bold]{spec.soc.name}[/] design space · alpha {spec.alpha:.3f} · S_L {spec.seq_len} · "
                  f"baseline per variant: the target alone on its k CPU cores"
                  + (f" · simulated over {samples} samples, sequential, every effect on; 95% CI: the simulated "
                     f"speedup's interval over them" if simulated else ""))
    table = Table(title="Best choice per design variant (the paper's Table II): gamma, heterogeneous (het) or "
                        "homogeneous (hom), speedup", title_justify="left")
    cols = ["variant", "Eq. 1", "drafter -> target"] + (["simulated", "95% CI", "drafter -> target"] if simulated else [])
    cols += ["paper"] if paper else []
    for c in cols:
        table.add_column(c, justify="left" if c in ("variant", "drafter -> target") else "right")
    for v in result.variants:
        row = [f"{v.cluster}:{v.cores}", *_decision_cells(v.decision("eq1"))]
        if simulated:
            row += _decision_cells(v.decision("simulated"), samples)
        if paper:
            p = paper.get(v.cores) if v.cluster == "a55" else None
            row += ["-" if p is None else cell(*p)]
        table.add_row(*row)
    console.print(table)
    maps = Table(title="Every mapping: c at S_L, best gamma and speedup against the variant's baseline",
                 title_justify="left")
    for c in ("variant", "draft", "target", "c", "Eq. 1 gamma", "Eq. 1 speedup") + (
            ("simulated gamma", "simulated speedup", "95% CI") if simulated else ()):
        maps.add_column(c, justify="left" if c in ("variant", "draft", "target") else "right")
    for v in result.variants:
        for m in v.mappings:
            g_eq1, s_eq1 = m.best("eq1")
            row = [f"{m.cluster}:{m.cores}", m.draft_device, m.target_device, f"{m.c:.3f}", str(g_eq1), f"{s_eq1:.3f}x"]
            if simulated:
                g_sim, s_sim = m.best("simulated")
                row += [str(g_sim), f"{s_sim:.3f}x", interval(m.ci95_at(g_sim), samples)]
            maps.add_row(*row)
    console.print(maps)
    if any(v.best_partition for v in result.variants):
        _render_partitions(console, result)


def _render_partitions(console: Console, result: ExploreResult) -> None:
    """Per variant, the best whole-model mapping beside the best partitioned one, plain and with a drafter."""
    simulated = result.spec.simulate
    samples = len(result.spec.scenario.workload.samples)
    table = Table(title="Partitions against whole-model mappings: the best of each per variant, by Eq. 1"
                        + (" (simulated, with the partition's 95% CI)" if simulated else ""), title_justify="left")
    for c in ("variant", "decoding", "best whole-model mapping", "best partition"):
        table.add_column(c, overflow="fold")       # a partition is one long word: fold it, never cut it

    def sim(value):
        return f" (sim {value:.2f}x)" if simulated and value is not None else ""

    for v in result.variants:
        if not v.best_partition:
            continue
        place, speedup = v.best_plain("eq1")
        whole = {"plain": f"{place} {speedup:.2f}x" + sim(v.best_plain("simulated")[1] if simulated else None)}
        d = v.decision("eq1")
        whole["speculative"] = (_arrow(d.label) + (f" γ{d.gamma}" if d.gamma else "") + f" {d.speedup:.2f}x"
                                + sim(v.decision("simulated").speedup if simulated else None))
        for kind, name in (("plain", "plain"), ("speculative", "with a drafter")):
            choice = v.best_partition.get(kind)
            text = "-"
            if choice is not None:
                text = (_arrow(choice.label) + (f" γ{choice.gamma}" if choice.gamma else "") + f" {choice.speedup_eq1:.2f}x")
                if choice.speedup_simulated is not None:
                    text += f" (sim {choice.speedup_simulated:.2f}x, {interval(choice.ci95, samples)})"
            table.add_row(f"{v.cluster}:{v.cores}" if kind == "plain" else "", name, whole[kind], text)
    console.print(table)
    for why in sorted({why for v in result.variants for _what, why in v.skipped}):
        console.print(f"[dim]left out: {why}[/]")


def _arrow(label: str | None) -> str:
    """A decision label as 'drafter -> target', or 'target alone'."""
    if label is None:
        return "-"
    return label.replace("draft ", "").replace(", target ", " -> ").replace("target ", "")


def render_speedup_vs_alpha(console: Console, c: float, gamma_max: int) -> None:
    """Fig. 7 as a table: Eq. 1 against alpha in steps of 0.05, one column per gamma, the best in bold."""
    gammas = range(1, gamma_max + 1)
    table = Table(title=f"Fig. 7: Eq. 1 speedup against alpha, c = {c}", title_justify="left")
    table.add_column("alpha")
    for g in gammas:
        table.add_column(f"gamma {g}", justify="right")
    for i in range(1, 20):
        alpha = i * 0.05
        row = [eq1(alpha, g, c) for g in gammas]
        best = max(row)
        table.add_row(f"{alpha:.2f}", *[f"[bold]{s:.2f}[/]" if s == best and s > 1 else f"{s:.2f}" for s in row])
    console.print(table)


def render_c_vs_seq_len(console: Console, soc_name: str, rows: list[dict], seq_lens: list[int]) -> None:
    """Fig. 6 as a table: c per mapping (rows of analysis.explore.c_vs_seq_len) against the sequence length."""
    table = Table(title=f"Fig. 6: c = t(draft pass) / t(target pass) against sequence length, no KV cache ({soc_name})",
                  title_justify="left")
    for c in ("draft", "target", *[f"S_L {n}" for n in seq_lens]):
        table.add_column(c, justify="left" if c in ("draft", "target") else "right")
    for r in rows:
        table.add_row(r["draft_device"], r["target_device"], *[f"{r['c'][n]:.3f}" for n in seq_lens])
    console.print(table)
