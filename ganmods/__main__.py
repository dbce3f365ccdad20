"""``python -m ganmods`` is the ``ganmods`` command."""

import sys

from ganmods.cli import main

if __name__ == "__main__":
    sys.exit(main())
