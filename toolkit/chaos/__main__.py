import sys

from toolkit.chaos.cli import main

if __name__ == "__main__":
    sys.exit(main())
