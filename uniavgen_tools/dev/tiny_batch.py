"""The batch CLI (python -m uniavgen_tools.batch) with the workflow moved onto the tiny test models.

    python -m uniavgen_tools.dev.tiny_batch <the batch CLI's arguments>
"""

from __future__ import annotations

import sys

from ..batch.cli import main
from .tiny_workflows import make_tiny

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prompt_hook=make_tiny))
