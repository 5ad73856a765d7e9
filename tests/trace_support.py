"""Test helpers for the `specsoc trace` commands: an argparse harness built like cli.py's, and a trace writer."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from simulator.cli import trace as trace_command
from simulator.cli.registry import Parser as _Parser

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"
ROOT = Path(__file__).resolve().parent.parent


def trace_main(argv: list[str], console: Console | None = None) -> None:
    """Parse and run `specsoc ARGV` for the trace commands; InputError propagates (cli.main turns it into exit 2)."""
    parser = _Parser(prog="specsoc")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    trace_command.add_commands(sub)
    args = parser.parse_args(argv)
    trace_command.execute(args, console or Console(width=120))


def write_lines(path: Path, *objects) -> Path:
    """A JSONL file of the given objects (strings are written as they are)."""
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objects), encoding="utf-8")
    return path
