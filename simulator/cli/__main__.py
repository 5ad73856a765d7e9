"""`python -m simulator.cli`: the `specsoc` command without the console script."""

import sys

from simulator.cli.main import main

sys.exit(main())
