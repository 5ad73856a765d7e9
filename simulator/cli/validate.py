"""`specsoc validate`: predicted against measured token rates of real boards, per measurement and as MAPE."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from rich.console import Console

from simulator.cli.registry import summary
from simulator.analysis.benchmodel import predict_tokens_per_s
from simulator.analysis.measurements import load_measurements
from simulator.common.errors import InputError
from simulator.common.output import check_outputs, write_json, write_text
from simulator.hw.socfile import load_soc
from simulator.render.calibration_tables import render_rates

EXAMPLES = """examples:
  specsoc validate                                # the bundled public measurements (socs/measurements/public.yaml)
  specsoc validate mine.yaml --json validate.json --csv validate.csv --plot validate.png
  specsoc validate public --uncalibrated          # the spec-sheet SoC files, for comparison
"""


def add_commands(sub) -> None:
    cmd = sub.add_parser("validate", help=summary("validate"),
                         description="Simulate every measurement of a measurements file (board, model, format, "
                                     "engine, threads, test, measured tok/s, source) and print predicted vs "
                                     "measured, the signed error of each, and the mean absolute percentage error.",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("file", nargs="?", default="public", metavar="FILE",
                     help="measurements file: bundled name or YAML path (default: public)")
    cmd.add_argument("--soc", metavar="SOC", help="use this SoC file for every measurement instead of the one it "
                                                  "names (every measurement's placement must exist on it)")
    cmd.add_argument("--uncalibrated", action="store_true", help="use the SoC files' spec values (no calibration)")
    cmd.add_argument("--json", metavar="FILE", help="also write every prediction and the MAPE as JSON")
    cmd.add_argument("--csv", metavar="FILE", help="also write one row per measurement as CSV")
    cmd.add_argument("--plot", metavar="FILE", help="also draw predicted against measured (needs the [plot] extra)")


def execute(args, console: Console) -> None:
    check_outputs({"--json": args.json, "--csv": args.csv, "--plot": args.plot},
                  (args.file,) if Path(args.file).is_file() else ())
    if args.plot:
        from simulator.render.plots import output_format, require_matplotlib
        require_matplotlib()
        output_format(args.plot, "--plot")
    measurements = load_measurements(args.file)
    socs = {}
    rows = []
    for i, m in enumerate(measurements):
        name = args.soc or m.soc
        try:
            if name not in socs:
                socs[name] = load_soc(name, calibrated=not args.uncalibrated)
            predicted = predict_tokens_per_s(socs[name], m.case)
        except InputError as err:
            where = "--soc" if args.soc else f"{args.file}: measurements[{i}]"
            raise InputError(where, f"{m.board} {m.case.label}: {err}") from None
        rows.append((m, predicted))
    table = [(f"{m.board} ({m.engine})", m.case.label, m.tokens_per_s, p) for m, p in rows]
    mape = 100 * sum(abs(p / m.tokens_per_s - 1) for m, p in rows) / len(rows)
    if args.plot:
        from simulator.render.plots import validation_plot
        validation_plot(args.plot, [(label, meas, pred) for _w, label, meas, pred in table])
    if args.json:
        write_json(args.json, {"file": args.file, "calibrated": not args.uncalibrated, "mape_percent": mape,
                               "measurements": [{"board": m.board, "soc": args.soc or m.soc, "engine": m.engine,
                                                 "test": m.case.label, "measured_tokens_per_s": m.tokens_per_s,
                                                 "predicted_tokens_per_s": p,
                                                 "error_percent": 100 * (p / m.tokens_per_s - 1), "source": m.source}
                                                for m, p in rows]})
    if args.csv:
        write_text(args.csv, _csv(rows, args.soc))
    render_rates(console, f"Predicted vs measured ({args.file}, {'calibrated' if not args.uncalibrated else 'uncalibrated'})",
                 table)


def _csv(rows, soc: str | None) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["board", "soc", "engine", "test", "measured_tokens_per_s", "predicted_tokens_per_s",
                "error_percent", "source"])
    for m, p in rows:
        w.writerow([m.board, soc or m.soc, m.engine, m.case.label, m.tokens_per_s, repr(p),
                    repr(100 * (p / m.tokens_per_s - 1)), m.source])
    return out.getvalue()
