"""`python -m nervp.cli ...` (and `torchrun -m nervp.cli train ...`) run the `nervp` command."""

import sys

from nervp.cli import main

sys.exit(main())
