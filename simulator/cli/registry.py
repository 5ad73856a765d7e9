"""The commands of `specsoc`, light to import: each command's module and one-line summary, the parser class and
the examples of `specsoc --help`. The top-level help needs nothing more, and a command imports only its own
module (and what that needs), not every command's.
"""

from __future__ import annotations

import argparse
import math

from simulator.common.errors import InputError

# command -> (the module of this package that adds and runs it, its summary), in the order --help lists them
COMMANDS = {
    "run": ("run", 'simulate one scenario (speculative, or --draft none)'),
    "list": ("list", 'list bundled SoCs, models and traces'),
    "model": ("model", "show a model's parameters, formats and bytes per token"),
    "trace": ("trace", 'make, import and inspect acceptance traces'),
    "explore": ("explore", "the paper's design space: every mapping and gamma, Eq. 1 vs simulation"),
    "figure": ("explore", "the paper's figures as tables: speedup vs alpha, c vs sequence length"),
    "check": ("check", 'which assumption of Eq. 1 moves the answer, and by how much'),
    "sweep": ("sweep", 'run a design-space sweep, resumable, results as JSONL'),
    "calibrate": ("calibrate", 'fit a SoC file to llama-bench measurements of your board'),
    "validate": ("validate", 'predicted vs measured token rates of real boards'),
    "bench": ("bench", "measure the simulator's speed and memory on this machine"),
    "plot": ("plot", "draw figures as PNG or SVG: speedup vs alpha, c vs sequence length, the explore heatmap, a "
                     "run's timeline (needs matplotlib)"),
}


TOP_EXAMPLES = """examples:
  specsoc run                          # the paper's validated setup: 3B int8 on one A55 core, 1B fp16 drafting
                                       # on the Mali-G310, gamma 5, no KV cache, 63-token prompts, alpha 0.94,
                                       # 64 samples (the speedup's 95% interval is over them)
  specsoc run --trace translation-semiquant --samples 8 --granularity layer
  specsoc run --draft-device cpu:1 --gamma 3 --alpha 0.9          # drafter on the target's core
  specsoc run --kv-cache --target-device cpu:2 --mode overlap --alpha 0.9
  specsoc run --draft none --kv-cache --target-device cpu:6 --new-tokens 32 --json out.json --csv out.csv
  specsoc run --soc rk3588 --target qwen2.5-1.5b --target-dtype q4_0 --target-device a76:4 --draft qwen2.5-0.5b
  specsoc trace synth iid --alpha 0.6 --samples 100 --out my.jsonl
  specsoc list                         # bundled SoCs, models and traces
"""


def summary(command: str) -> str:
    return COMMANDS[command][1]


FLAG_INT_LIMIT = 10**9      # no count, length or seed a flag takes is larger: beyond it a typo, not a request


def _ascii(text: str) -> str:
    """A number as a flag gives it: ASCII digits only (int() and float() also take '١٢' and '1_0')."""
    if not text.isascii() or "_" in text:
        raise ValueError(text)
    return text


def _parsed(text: str, convert, what: str):
    try:
        return convert(_ascii(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text[:40]!r}") from None


def finite_float(text: str) -> float:
    """A float flag's value: a finite number (float() also takes 'nan' and 'inf', which no flag means)."""
    value = _parsed(text, float, "a number")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text[:40]!r}")
    return value


def bounded_int(text: str) -> int:
    """An int flag's value: a whole number of at most FLAG_INT_LIMIT in size (each command checks its own range)."""
    value = _parsed(text, int, "a whole number")
    if abs(value) > FLAG_INT_LIMIT:
        raise argparse.ArgumentTypeError(f"{text[:40]} is beyond {FLAG_INT_LIMIT:,}")
    return value


def seed(text: str) -> int:
    """A --seed: a whole number 0 .. 2**32 - 1 (what numpy's generators take)."""
    try:
        value = int(_ascii(text))
    except ValueError:
        value = None
    if value is None or not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0 and < 2**32, got {text[:40]!r}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage stays behind --help) and exits with 2; every
    `type=float` flag takes finite numbers only and every `type=int` flag whole numbers of bounded size, for
    every command and subcommand (one validation for every number that enters through a flag)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("type", float, finite_float)
        self.register("type", int, bounded_int)

    def error(self, message: str):
        raise InputError(self.prog, message)
