"""`python -m fastcore ...`: the same as the `fastcore` command."""

import sys

from fastcore.cli import main

sys.exit(main())
