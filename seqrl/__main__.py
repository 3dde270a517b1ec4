"""``python -m seqrl`` is the ``seqrl`` command."""

import sys

from seqrl.scenarios.cli import main

sys.exit(main())
