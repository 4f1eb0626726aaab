"""``python -m sk_tabattn``: the ``sk-tabattn`` command line."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
