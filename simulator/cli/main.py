"""The `specsoc` command: builds the parser and runs the command asked for.

Each command lives in its own module of this package, with `add_commands(subparsers)` and `execute(args,
console)`; registry.py lists them. Only the module of the command asked for is imported (with what it needs):
`specsoc --help` lists every command from the registry alone. Bad input anywhere (an InputError) ends as one
line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from simulator import __version__
from simulator.cli.registry import COMMANDS, TOP_EXAMPLES, Parser, summary
from simulator.common.errors import InputError


def _module(name: str):
    return importlib.import_module(f"simulator.cli.{name}")


def build_parser(commands: set[str] | None = None) -> argparse.ArgumentParser:
    """The parser: every command in full, or (given `commands`) those in full and the others by name and summary
    only, so that their modules are not imported."""
    parser = Parser(prog="specsoc", description="Simulate LLM decoding, plain and speculative, on edge SoCs.",
                    epilog=TOP_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"specsoc {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    full = {module for name, (module, _) in COMMANDS.items() if commands is None or name in commands}
    added: set[str] = set()
    for name, (module, _) in COMMANDS.items():
        if module in full and module not in added:
            _module(module).add_commands(sub)
            added.add(module)
        elif module not in full:
            sub.add_parser(name, help=summary(name))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["run", *argv]
    try:
        args = build_parser({argv[0]} & set(COMMANDS)).parse_args(argv)
        from rich.console import Console
        _module(COMMANDS[args.command or "run"][0]).execute(args, Console())
    except InputError as err:
        _say(f"error: {err}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted: outputs not written (a sweep keeps its finished points)")
        return 130
    return 0


def _say(line: str) -> None:
    from rich.console import Console
    Console(stderr=True).print(line, markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
