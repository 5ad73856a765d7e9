"""`specsoc plot`: the paper's figures, the explore heatmap and a run's timeline as PNG or SVG (needs matplotlib)."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from simulator.cli.common import c_against_seq_len, pair_flags, soc_flags
from simulator.cli.registry import Parser, summary
from simulator.common.errors import InputError
from simulator.common.output import check_output_path
from simulator.run.builder import MAX_DRAFTS

EXAMPLES = """examples:
  specsoc plot speedup-vs-alpha --c 0.41 --paper --out speedup.png   # Fig. 7 with the paper's measurements
  specsoc plot c-vs-seq-len --cores 1,2 --out c.svg                   # Fig. 6
  specsoc explore --no-simulate --json explore.json && specsoc plot heatmap --from explore.json --out map.png
  specsoc run --granularity layer --samples 1 --timeline t.json && specsoc plot timeline --from t.json --out t.png

The format comes from the --out extension (.png or .svg). Needs matplotlib: pip install 'specsoc[plot]'.
"""


def _out(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--out", metavar="FILE", required=True, help="output file, .png or .svg")


def add_commands(sub) -> None:
    plot = sub.add_parser("plot", help=summary("plot"),
                          description="Draw a figure to a PNG or SVG file (format from the --out extension).",
                          epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = plot.add_subparsers(dest="plot", required=True, parser_class=Parser)
    raw = argparse.RawDescriptionHelpFormatter

    alpha = kinds.add_parser("speedup-vs-alpha", help="Fig. 7: Eq. 1 speedup against alpha, one line per gamma",
                             description="Eq. 1 speedup against the acceptance rate alpha (0..1), one line per gamma, "
                                         "and the break-even line at 1.0; --paper adds the paper's measured points.",
                             epilog="example:\n  specsoc plot speedup-vs-alpha --c 0.41 --paper --out speedup.png",
                             formatter_class=raw)
    alpha.add_argument("--c", type=float, default=0.41,
                       help="cost ratio c = t(draft pass) / t(target pass) (default: 0.41, the paper's GPU drafter)")
    alpha.add_argument("--gamma-max", type=int, default=8, help="lines for gamma 1..N (default: 8)")
    alpha.add_argument("--paper", action="store_true", help="overlay the paper's points: 1.68x measured on the "
                       "board at alpha 0.94 (gamma 5), and Table II's k=1 choice, 1.68x at alpha 0.90")
    _out(alpha)

    seq = kinds.add_parser("c-vs-seq-len", help="Fig. 6: c against sequence length, one line per mapping",
                           description="c = t(draft pass) / t(target pass), no KV cache, against the sequence "
                                       "length, for each mapping of the drafter and the target onto k cores of the "
                                       "first CPU cluster or a GPU (the numbers of `specsoc figure c-vs-seq-len`).",
                           epilog="example:\n  specsoc plot c-vs-seq-len --soc imx95 --cores 1 --out c.png",
                           formatter_class=raw)
    soc_flags(seq)
    pair_flags(seq)
    seq.add_argument("--cores", default="1", help="comma-separated core counts of the first cluster (default: 1)")
    seq.add_argument("--seq-lens", default="16,32,63,128,256,512", help="sequence lengths (default: 16,...,512)")
    _out(seq)

    heat = kinds.add_parser("heatmap", help="an explore --json file as a variant x mapping speedup heatmap",
                            description="Speedup per design variant (rows) and mapping (columns) from a "
                                        "`specsoc explore --json` file: simulated if the file has simulations, else "
                                        "Eq. 1; each cell is the best speedup over gamma >= 1, with that gamma.",
                            epilog="example:\n  specsoc explore --no-simulate --json explore.json\n"
                                   "  specsoc plot heatmap --from explore.json --out heatmap.png",
                            formatter_class=raw)
    heat.add_argument("--from", dest="source", metavar="FILE", required=True, help="a `specsoc explore --json` file")
    _out(heat)

    sw = kinds.add_parser("sweep", help="a sweep's results: a metric against an axis, one line per colour axis value",
                          description="From a `specsoc sweep` results file: METRIC against AXIS, one line per value "
                                      "of --color (or a heatmap of AXIS x --color with --heatmap). Axes not shown "
                                      "are reduced: the best (max, default), the mean or the min over them.",
                          epilog="example:\n  specsoc sweep whatif.yaml --out results.jsonl\n"
                                 "  specsoc plot sweep --from results.jsonl --x alpha --y speedup "
                                 "--color soc.gpus.mali-g310.shader_cores --out whatif.png",
                          formatter_class=raw)
    sw.add_argument("--from", dest="source", metavar="FILE", required=True, help="a `specsoc sweep` JSONL file")
    sw.add_argument("--x", required=True, metavar="AXIS", help="the axis along x")
    sw.add_argument("--y", default="speedup", metavar="METRIC", help="a result (default: speedup)")
    sw.add_argument("--color", metavar="AXIS", help="one line (or heatmap row) per value of this axis")
    sw.add_argument("--reduce", choices=("max", "mean", "min"), default="max",
                    help="over the axes not shown (default: max, the best)")
    sw.add_argument("--heatmap", action="store_true", help="a heatmap of --x against --color instead of lines")
    _out(sw)

    tl = kinds.add_parser("timeline", help="a run --timeline file: PU utilisation and DRAM bandwidth over time",
                          description="From a `specsoc run --timeline` file: each processing unit's utilisation "
                                      "(fraction of its cores busy) and the DRAM bandwidth in use, averaged over ~400 time "
                                      "bins (stacked per PU, with the highest total within each bin), against the SoC's peak.",
                          epilog="example:\n  specsoc run --granularity layer --samples 1 --timeline t.json\n"
                                 "  specsoc plot timeline --from t.json --out timeline.png",
                          formatter_class=raw)
    tl.add_argument("--from", dest="source", metavar="FILE", required=True, help="a `specsoc run --timeline` file")
    tl.add_argument("--bins", type=int, default=400, help="time bins across the run, both panels (default: 400)")
    _out(tl)


def execute(args, console: Console) -> None:
    from simulator.render import plots as plot
    plot.output_format(args.out)
    check_output_path(args.out)
    plot.require_matplotlib()
    if args.plot == "speedup-vs-alpha":
        if not args.c >= 0:
            raise InputError("--c", f"must be >= 0, got {args.c}")
        if not 1 <= args.gamma_max <= MAX_DRAFTS:
            raise InputError("--gamma-max", f"must be in 1..{MAX_DRAFTS}, got {str(args.gamma_max)[:20]}")
        plot.render(plot.speedup_vs_alpha, args.out, args.c, args.gamma_max, args.paper)
        what = f"Eq. 1 speedup vs alpha, c = {args.c:g}"
    elif args.plot == "c-vs-seq-len":
        soc, target, draft, seq_lens, rows = c_against_seq_len(args)
        title = (f"c against sequence length, no KV cache · {soc.name}"
                 f"{'' if soc.calibration else ' (uncalibrated)'}\n"
                 f"draft {draft.spec.name} {draft.precision.weights} · target {target.spec.name} {target.precision.weights}")
        plot.render(plot.c_vs_seq_len, args.out, rows, seq_lens, title)
        what = f"c vs sequence length on {soc.name}"
    elif args.plot == "heatmap":
        from simulator.analysis.explore import read_explore
        doc = read_explore(args.source)
        plot.render(plot.heatmap, args.out, doc)
        what = f"heatmap of {args.source}"
    elif args.plot == "sweep":
        from simulator.run.sweep import read_results
        records = read_results(args.source)
        table, others = sweep_table(records, args.x, args.y, args.color, args.reduce, args.heatmap)
        plot.render(plot.sweep_figure, args.out, table, args.x, args.y, args.color, args.heatmap,
                    f"{args.source}" + (f" · {args.reduce} over {', '.join(others)}" if others else ""))
        what = f"{args.y} against {args.x} from {args.source}"
    else:
        if not 1 <= args.bins <= 100_000:
            raise InputError("--bins", f"must be in 1..100,000 (a figure is a few thousand pixels wide), got {args.bins}")
        from simulator.render.timeline import read_timeline
        data = read_timeline(args.source)
        plot.render(plot.timeline, args.out, data, args.bins)
        what = f"timeline of {args.source}"
    console.print(f"[dim]{what}: plot written to {args.out}[/]")


def sweep_table(records: list[dict], x: str, y: str, color: str | None, reduce: str, heatmap: bool):
    """{colour value: {x value: reduced y}} over the records, and the axes reduced over."""
    import statistics
    axes = list(dict.fromkeys(k for r in records for k in r["params"]))
    for flag, name in (("--x", x), ("--color", color)):
        if name is not None and name not in axes:
            raise InputError(flag, f"{name!r} is not an axis of the sweep (axes: {', '.join(axes)})")
        if name is not None and any(name not in r["params"] for r in records):
            raise InputError(flag, f"{name!r} is not an axis of every point in the file (results of two sweeps?)")
    if color is not None and color == x:
        raise InputError("--color", f"{color!r} is already --x: colour by another axis")
    if heatmap and color is None:
        raise InputError("--heatmap", "needs --color: the rows of the heatmap")
    metrics = sorted({k for r in records for k, v in r["results"].items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool)})
    if y not in metrics:
        raise InputError("--y", f"{y!r} is not a numeric result (results: {', '.join(metrics)})")
    groups: dict = {}
    for r in records:
        value = r["results"].get(y)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            key = _hashable(r["params"][color]) if color else ""
            groups.setdefault(key, {}).setdefault(_hashable(r["params"][x]), []).append(value)
    pick = {"max": max, "min": min, "mean": statistics.fmean}[reduce]
    table = {c: {xv: pick(vs) for xv, vs in sorted(row.items(), key=lambda kv: _order(kv[0]))}
             for c, row in sorted(groups.items(), key=lambda kv: _order(kv[0]))}
    return table, [a for a in axes if a not in (x, color)]


def _hashable(value):
    """An axis value as a key: a list (a SoC parameter that is one) as its JSON text."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _order(value):
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))
