"""`specsoc list`: the bundled SoCs, models and traces."""

from __future__ import annotations

import argparse

from rich.console import Console

from simulator.cli.registry import summary
from simulator.common.bundled import bundled_names
from simulator.hw.socfile import load_soc
from simulator.llm.modelfile import load_model
from simulator.render.bundled_tables import render_bundled
from simulator.traces.trace import load_trace


def add_commands(sub) -> None:
    sub.add_parser("list", help=summary("list"), epilog="example:\n  specsoc list",
                   formatter_class=argparse.RawDescriptionHelpFormatter)


def execute(args, console: Console) -> None:
    render_bundled(console, {name: load_soc(name) for name in bundled_names("socs", ".yaml")},
                   {name: load_model(name) for name in bundled_names("graphs", ".yaml")},
                   {name: load_trace(name) for name in bundled_names("traces", ".jsonl")})
