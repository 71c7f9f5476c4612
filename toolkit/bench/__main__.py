"""`python -m toolkit.bench`: see toolkit/bench/cli.py."""

import contextlib
import sys

from toolkit.bench.cli import main

if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
