"""The commands of `specsoc`, light to import: each command's module and one-line summary, the parser class and
the examples of `specsoc --help`. The top-level help needs nothing more, and a command imports only its own
module (and what that needs), not every command's.
"""

from __future__ import annotations

import argparse

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

GAMMA_LIMIT = 64   # the longest draft explore, figure and plot take: Eq. 1 saturates long before

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


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage stays behind --help) and exits with 2."""

    def error(self, message: str):
        raise InputError(self.prog, message)
