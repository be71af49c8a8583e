"""python -m uniavgen_tools.batch: see cli.py."""

import sys

from .cli import main

sys.exit(main())
