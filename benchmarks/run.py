"""Run specsoc's benchmark suite (the same as `specsoc bench`): python benchmarks/run.py [--json FILE]."""

import sys

from simulator.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
