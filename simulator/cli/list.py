"""`specsoc list`: the bundled SoCs, models and traces."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from simulator.common.bundled import bundled_names
from simulator.hw.socfile import load_soc
from simulator.llm.modelfile import load_model
from simulator.traces.trace import load_trace


def add_commands(sub) -> None:
    sub.add_parser("list", help="list bundled SoCs, models and traces", epilog="example:\n  specsoc list",
                   formatter_class=argparse.RawDescriptionHelpFormatter)


def execute(args, console: Console) -> None:
    socs = Table(title="Bundled SoCs (--soc)", title_justify="left")
    for col in ("name", "processing units", "DRAM"):
        socs.add_column(col)
    for name in bundled_names("socs", ".yaml"):
        soc = load_soc(name)
        units = ", ".join(f"{pu.name} ({pu.units} {'cores' if pu.kind == 'cpu' else 'shader core(s)'}, "
                          f"{pu.clock_hz / 1e9:g} GHz)" for pu in soc.pus)
        socs.add_row(name, units, f"{soc.dram.kind} {soc.dram.peak_bandwidth_B_s / 1e9:g} GB/s peak")
    console.print(socs)
    models = Table(title="Bundled models (--target, --draft)", title_justify="left")
    for col in ("name", "parameters", "layers", "hidden", "heads / KV heads", "vocab"):
        models.add_column(col)
    for name in bundled_names("graphs", ".yaml"):
        m = load_model(name)
        models.add_row(name, f"{m.parameters() / 1e9:.2f} B", str(m.num_layers), str(m.hidden_size),
                       f"{m.num_heads} / {m.num_kv_heads}", f"{m.vocab_size:,}")
    console.print(models)
    traces = Table(title="Bundled traces (--trace)", title_justify="left")
    for col in ("name", "record", "samples", "imitates"):
        traces.add_column(col)
    for name in bundled_names("traces", ".jsonl"):
        t = load_trace(name)
        traces.add_row(name, t.record + (f" (gamma {t.gamma})" if t.gamma else ""), str(len(t.samples)),
                       str(t.header.get("imitates", t.header.get("source", ""))))
    console.print(traces)
