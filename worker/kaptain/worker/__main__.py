"""`python -m kaptain.worker ...` is the `kaptain` command line."""

import sys

from kaptain.worker.cli import main

sys.exit(main())
