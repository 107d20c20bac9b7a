"""``python -m dualmaxent``: the ``dualmaxent`` command (without arguments it prints the help)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
