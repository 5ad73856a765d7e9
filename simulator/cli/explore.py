"""`specsoc explore`: the paper's design space by Eq. 1 and by full simulation, and `specsoc figure`."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from simulator.analysis.analytic import eq1
from simulator.cli.common import acceptance_flags, check_ints, model_run, pair_flags, soc_flags, workload
from simulator.common.errors import InputError
from simulator.analysis.explore import ExploreSpec, c_vs_seq_len, explore
from simulator.analysis.paper import table_for
from simulator.render.run_tables import check_output_path, write_json
from simulator.hw.soc import load_soc
from simulator.traces.trace import estimate_alpha

EXAMPLES = """examples:
  specsoc explore --alpha 0.90 --seq-len 63        # the paper's Table II on the i.MX 95
  specsoc explore --alpha 0.17 --no-simulate       # Table III, Eq. 1 only
  specsoc explore --trace translation-fp16 --json explore.json
  specsoc figure speedup-vs-alpha --c 0.41         # Fig. 7
  specsoc figure c-vs-seq-len --cores 1            # Fig. 6
"""


def add_explore_commands(sub, parser_class) -> None:
    cmd = sub.add_parser("explore", help="the paper's design space: every mapping and gamma, Eq. 1 vs simulation",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    soc_flags(cmd)
    pair_flags(cmd)
    acceptance_flags(cmd, alpha_default=0.90)
    cmd.add_argument("--seq-len", type=int, default=63, help="S_L: sequence length c is profiled at, and the "
                     "synthetic prompt and output length (default: 63)")
    cmd.add_argument("--gamma-max", type=int, default=8, help="largest gamma tried (default: 8)")
    cmd.add_argument("--no-simulate", action="store_true", help="Eq. 1 only: skip the full simulations")
    cmd.add_argument("--json", metavar="FILE", help="also write variants and mappings as JSON")

    fig = sub.add_parser("figure", help="the paper's figures as tables: speedup vs alpha, c vs sequence length",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    figs = fig.add_subparsers(dest="figure", required=True, parser_class=parser_class)
    alpha = figs.add_parser("speedup-vs-alpha", help="Fig. 7: Eq. 1 speedup against alpha for each gamma")
    alpha.add_argument("--c", type=float, default=0.41, help="cost ratio c (default: 0.41, the paper's GPU drafter)")
    alpha.add_argument("--gamma-max", type=int, default=8)
    seq = figs.add_parser("c-vs-seq-len", help="Fig. 6: c against sequence length for each mapping")
    soc_flags(seq)
    pair_flags(seq)
    seq.add_argument("--cores", default="1", help="comma-separated core counts of the first cluster (default: 1)")
    seq.add_argument("--seq-lens", default="16,32,63,128,256,512", help="sequence lengths (default: 16,...,512)")


def run_explore_command(args, console: Console, progress) -> None:
    if args.command == "figure":
        return _figure(args, console)
    if args.json:
        check_output_path(args.json)
    for flag, value, low in (("--seq-len", args.seq_len, 1), ("--gamma-max", args.gamma_max, 1)):
        if value < low:
            raise InputError(flag, f"must be >= {low}, got {value}")
    args.prompt_tokens = args.new_tokens = args.seq_len
    soc = load_soc(args.soc, calibrated=not args.uncalibrated)
    wl = workload(args)
    alpha = estimate_alpha(wl.trace) if args.trace else args.alpha_default if args.alpha is None else args.alpha
    spec = ExploreSpec(soc, model_run(args, soc, "target"), model_run(args, soc, "draft"),
                       wl, alpha, args.seq_len, args.gamma_max, not args.no_simulate)
    variants = explore(spec, progress)
    doc = {"soc": soc.name, "calibration": soc.calibration or "none", "alpha": alpha, "seq_len": args.seq_len,
           "simulated": spec.simulate, "samples": len(wl.samples),
           "variants": [v.to_json(spec.simulate) for v in variants],
           "mappings": [m.to_json() for v in variants for m in v.mappings]}
    if args.json:
        write_json(args.json, doc)
    pair = ((spec.target.spec.name, spec.target.precision.weights), (spec.draft.spec.name, spec.draft.precision.weights))
    _render(console, doc, table_for(soc.name, alpha, *pair))


def _cell(d: dict) -> str:
    """One decision in one cell: 'γ4 het 1.55x', or 'no 1.00x'."""
    if not d["speculate"]:
        return f"no {d['speedup']:.2f}x"
    return f"γ{d['gamma']} {'het' if d['heterogeneous'] else 'hom'} {d['speedup']:.2f}x"


def _arrow(mapping: str | None) -> str:
    """'draft X, target Y' -> 'X -> Y'."""
    if not mapping:
        return "-"
    if mapping.endswith(" alone"):
        return mapping
    draft, target = mapping.split(", ")
    return f"{draft.removeprefix('draft ')} -> {target.removeprefix('target ')}"


def _render(console: Console, doc: dict, paper: dict | None) -> None:
    console.print(f"[bold]{doc['soc']}[/] design space · alpha {doc['alpha']:.3f} · S_L {doc['seq_len']} · "
                  f"baseline per variant: the target alone on its k CPU cores"
                  + (f" · simulated over {doc['samples']} samples, sequential, every effect on" if doc["simulated"] else ""))
    table = Table(title="Best choice per design variant (the paper's Table II): gamma, heterogeneous (het) or "
                        "homogeneous (hom), speedup", title_justify="left")
    cols = ["variant", "Eq. 1", "drafter -> target"] + (["simulated", "drafter -> target"] if doc["simulated"] else [])
    cols += ["paper"] if paper else []
    for i, c in enumerate(cols):
        table.add_column(c, justify="left" if c in ("variant", "drafter -> target") else "right")
    for v in doc["variants"]:
        eq = {"speculate": v["speculate"], "gamma": v["gamma"], "heterogeneous": v["heterogeneous"],
              "speedup": v["speedup_eq1"]}
        row = [f"{v['cluster']}:{v['cores']}", _cell(eq), _arrow(v["mapping"])]
        if doc["simulated"]:
            s = v["simulated_decision"]
            row += [_cell(s), _arrow(s["mapping"])]
        if paper:
            p = paper.get(v["cores"]) if v["cluster"] == "a55" else None
            row += ["-" if p is None else _cell(dict(zip(("speculate", "gamma", "heterogeneous", "speedup"), p)))]
        table.add_row(*row)
    console.print(table)
    maps = Table(title="Every mapping: c at S_L, best gamma and speedup against the variant's baseline", title_justify="left")
    for c in ("variant", "draft", "target", "c", "Eq. 1 gamma", "Eq. 1 speedup") + (
            ("simulated gamma", "simulated speedup") if doc["simulated"] else ()):
        maps.add_column(c, justify="left" if c in ("variant", "draft", "target") else "right")
    for m in doc["mappings"]:
        row = [f"{m['cluster']}:{m['cores']}", m["draft_device"], m["target_device"], f"{m['c']:.3f}",
               str(m["best_gamma"]), f"{m['speedup_eq1']:.3f}x"]
        if doc["simulated"]:
            row += [str(m["best_gamma_simulated"]), f"{m['speedup_simulated']:.3f}x"]
        maps.add_row(*row)
    console.print(maps)


def _figure(args, console: Console) -> None:
    if args.figure == "speedup-vs-alpha":
        if not 0 <= args.c:
            raise InputError("--c", f"must be >= 0, got {args.c}")
        if args.gamma_max < 1:
            raise InputError("--gamma-max", f"must be >= 1, got {args.gamma_max}")
        gammas = range(1, args.gamma_max + 1)
        table = Table(title=f"Fig. 7: Eq. 1 speedup against alpha, c = {args.c}", title_justify="left")
        table.add_column("alpha")
        for g in gammas:
            table.add_column(f"gamma {g}", justify="right")
        for i in range(1, 20):
            alpha = i * 0.05
            row = [eq1(alpha, g, args.c) for g in gammas]
            best = max(row)
            table.add_row(f"{alpha:.2f}", *[f"[bold]{s:.2f}[/]" if s == best and s > 1 else f"{s:.2f}" for s in row])
        console.print(table)
        return
    soc = load_soc(args.soc, calibrated=not args.uncalibrated)
    seq_lens = check_ints(args.seq_lens, "--seq-lens")
    cores = check_ints(args.cores, "--cores")
    cluster = soc.first("cpu")
    if max(cores) > cluster.units:
        raise InputError("--cores", f"cluster {cluster.name} of {soc.name} has {cluster.units} cores, got {args.cores!r}")
    rows = c_vs_seq_len(soc, model_run(args, soc, "target"), model_run(args, soc, "draft"),
                        seq_lens, cores)
    table = Table(title=f"Fig. 6: c = t(draft pass) / t(target pass) against sequence length, no KV cache ({soc.name})",
                  title_justify="left")
    for c in ("draft", "target", *[f"S_L {n}" for n in seq_lens]):
        table.add_column(c, justify="left" if c in ("draft", "target") else "right")
    for r in rows:
        table.add_row(r["draft_device"], r["target_device"], *[f"{r['c'][n]:.3f}" for n in seq_lens])
    console.print(table)
