"""`python -m optimizer.cli`: the `tipfocus` command."""

import sys

from optimizer.cli import main

sys.exit(main())
