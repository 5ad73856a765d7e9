"""The `specsoc` command: builds the parser from the command modules and runs the one asked for.

Each command lives in its own module of this package, with `add_commands(subparsers)` and `execute(args,
console)`. Bad input anywhere (an InputError) ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rich.console import Console

from simulator import __version__
from simulator.cli.common import Parser
from simulator.common.errors import InputError

# command -> the module that adds and runs it, in the order `specsoc --help` lists them
COMMANDS = {"run": "run", "list": "list", "model": "model", "trace": "trace", "explore": "explore", "figure": "explore",
            "check": "check", "sweep": "sweep", "calibrate": "calibrate", "validate": "validate", "bench": "bench", "plot": "plot"}


def _module(name: str):
    return importlib.import_module(f"simulator.cli.{name}")


def build_parser() -> argparse.ArgumentParser:
    from simulator.cli.run import EXAMPLES
    parser = Parser(prog="specsoc", description="Simulate LLM decoding, plain and speculative, on edge SoCs.",
                    epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"specsoc {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for name in dict.fromkeys(COMMANDS.values()):
        _module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["run", *argv]
    console = Console()
    try:
        args = build_parser().parse_args(argv)
        _module(COMMANDS[args.command or "run"]).execute(args, console)
    except InputError as err:
        Console(stderr=True).print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted: outputs not written (a sweep keeps its finished points)",
                                   markup=False, highlight=False, soft_wrap=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
