"""`specsoc calibrate`: fit a SoC file's bandwidths, matmul rates and per-token cost to llama-bench output."""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import yaml
from rich.console import Console

from simulator.cli.registry import summary
from simulator.analysis.calibration import (Provenance, calibration_section, engine_of, from_measurements,
                                            observations, soc_text)
from simulator.analysis.fit import Param, fit
from simulator.analysis.llamabench import read_llama_bench
from simulator.analysis.measurements import load_measurements
from simulator.common.bundled import bundled_dir, resolve_file
from simulator.common.config import read_mapping
from simulator.common.errors import InputError
from simulator.common.output import check_outputs, write_json, write_text
from simulator.hw.socfile import load_soc, parse_soc
from simulator.llm.modelfile import load_model
from simulator.render.calibration_tables import render_rates, render_values

EXAMPLES = """examples:
  llama-bench -m phi3-iq4_xs.gguf -m llama3.2-3b-q4_k_m.gguf -t 2,4 -o json > bench.json
  specsoc calibrate bench.json --soc rk3588 --out my-rk3588.yaml --board "Orange Pi 5" --date 2026-12-01
  specsoc calibrate bench.md --soc rpi5 --out pi5.yaml --token-overhead-us 0 --model llama-3.2-3b
  specsoc calibrate bench.csv --soc rk3588 --out r.yaml --bandwidth a76:1=10.1   # a measured bandwidth, held
  specsoc run --soc my-rk3588.yaml --target-dtype q4_k_m --target-device cpu:4 --draft none --kv-cache
"""

_BANDWIDTH = re.compile(r"^([A-Za-z0-9_.-]+):([0-9]{1,4})=(.+)$")


def add_commands(sub) -> None:
    cmd = sub.add_parser("calibrate", help=summary("calibrate"),
                         description="Read llama-bench output (-o json, jsonl, csv, sql or the markdown table), fit "
                                     "each processing unit's streaming bandwidth (from tg tests), its matmul rate "
                                     "per weight format (from pp tests) and the per-token host cost, and write "
                                     "the SoC file with that calibration section. Prints each test's residual.",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("bench", nargs="*", metavar="BENCH", help="llama-bench output file(s)")
    cmd.add_argument("--measurements", metavar="FILE",
                     help="fit to the entries of a measurements file (as `specsoc validate` reads) that name this "
                          "SoC, instead of llama-bench output; each fitted value cites its measurements")
    cmd.add_argument("--soc", required=True, help="the SoC file to calibrate (bundled name or YAML path)")
    cmd.add_argument("--out", required=True, metavar="FILE", help="write the calibrated SoC file here")
    cmd.add_argument("--model", action="append", metavar="MODEL",
                     help="a model the tests ran (bundled name, graphs YAML or config.json); repeat; "
                          "default: every bundled model, matched by parameter count")
    cmd.add_argument("--board", default="board not named", help="the board the tests ran on, for the sources")
    cmd.add_argument("--date", default="date not given", help="when the tests ran, for the sources")
    cmd.add_argument("--token-overhead-us", type=float, metavar="US",
                     help="hold the per-token host cost at this many microseconds instead of fitting it")
    cmd.add_argument("--bandwidth", action="append", metavar="PU:CORES=GB_S", default=[],
                     help="a bandwidth measured by a microbenchmark (e.g. a76:4=14.2), held instead of fitted")
    cmd.add_argument("--json", metavar="FILE", help="also write the fitted values and residuals as JSON")


def _fixed(texts: list[str], soc) -> dict[Param, float]:
    """--bandwidth PU:CORES=GB_S values: a known PU, a core count it has, 0 < GB/s <= the DRAM's peak, once each."""
    fixed = {}
    for text in texts:
        m = _BANDWIDTH.match(text)
        try:
            value = float(m.group(3)) if m else math.nan
        except ValueError:
            value = math.nan
        if not m or not math.isfinite(value):
            raise InputError("--bandwidth", f"{text[:80]!r}: write PU:CORES=GB_S, e.g. a76:4=14.2")
        name, cores = m.group(1), int(m.group(2))
        try:
            pu = soc.pu(name)
        except KeyError:
            raise InputError("--bandwidth", f"{text!r}: SoC {soc.name} has no processing unit {name!r}") from None
        peak = soc.dram.peak_bandwidth_B_s / 1e9
        if not 1 <= cores <= pu.units or not 0 < value <= peak:
            raise InputError("--bandwidth", f"{text!r}: cores must be 1..{pu.units} and GB/s in (0, {peak:g}], "
                                            "the DRAM's peak")
        param = Param("bandwidth", name, pu.units if pu.kind == "gpu" else cores)
        if param in fixed:
            raise InputError("--bandwidth", f"{text!r}: {param.label} is given twice")
        fixed[param] = value * 1e9
    return fixed


def execute(args, console: Console) -> None:
    check_outputs({"--out": args.out, "--json": args.json}, tuple(args.bench) + (
        (args.measurements,) if args.measurements and Path(args.measurements).is_file() else ()))
    if args.token_overhead_us is not None and not 0 <= args.token_overhead_us < 1e6:
        raise InputError("--token-overhead-us", f"must be 0..1e6 microseconds, got {args.token_overhead_us}")
    path, label = resolve_file("socs", args.soc, (".yaml", ".yml"))
    soc = load_soc(args.soc, calibrated=False)
    fixed = _fixed(args.bandwidth, soc)
    names = list(dict.fromkeys(args.model or sorted(p.stem for p in bundled_dir("graphs").glob("*.yaml"))))
    models = [load_model(n) for n in names]
    if bool(args.bench) == bool(args.measurements):
        raise InputError("calibrate", "give llama-bench output files or --measurements FILE (one of the two)")
    token = None if args.token_overhead_us is None else args.token_overhead_us * 1e-6
    if args.measurements:
        obs = from_measurements(load_measurements(args.measurements), soc, (args.soc,))
        prov = Provenance(f"the boards of measurements file {args.measurements!r}", "engines as listed per test",
                          "dates as published")
    else:
        records = [r for f in args.bench for r in read_llama_bench(f)]
        obs = observations(records, models, soc)
        prov = Provenance(args.board, args.date, engine_of(records))
    result = fit(soc, obs, token, "calibrate", fixed)
    original = read_mapping(path)
    section = calibration_section(result, obs, soc, prov, original.get("calibration"), fixed,
                                  bool(args.measurements), token)
    text = soc_text(path.read_text(encoding="utf-8"), original, section)
    parse_soc(yaml.safe_load(text), args.out)        # the file it writes must load
    rows = [(o.source, o.case.label, o.tokens_per_s, p) for o, p in result.residuals]
    values = [(p.label, _show(p, v), "held (given)" if p in fixed else "fitted") for p, v in sorted(result.values.items())]
    outputs = {args.out: text}
    if args.json:
        outputs[args.json] = {"soc": label, "values": [{"quantity": p.label, "kind": p.kind, "pu": p.pu, "cores": p.units,
                                                         "format": p.fmt, "value_si": v} for p, v in sorted(result.values.items())],
                              "residuals": [{"measurement": w, "test": t, "measured_tokens_per_s": m,
                                             "predicted_tokens_per_s": pr, "error_percent": 100 * (pr / m - 1)}
                                            for w, t, m, pr in rows]}
    for out, content in outputs.items():
        if isinstance(content, str):
            write_text(out, content)
        else:
            write_json(out, content)
    render_rates(console, f"Residuals of the fit ({label}, {len(obs)} tests)", rows)
    render_values(console, values)
    console.print(f"wrote {args.out}" + (f" and {args.json}" if args.json else ""))


def _show(param: Param, value: float) -> str:
    if param.kind == "token":
        return f"{value * 1e6:.1f} us"
    return f"{value / 1e9:.2f} GB/s" if param.kind == "bandwidth" else f"{value / 1e9:.2f} GFLOP/s"
