"""scripts/batch_csv.py's own CLI with the workflow moved onto the tiny test models.

    PYTHONPATH=tests:scripts python -m helpers.tiny_batch <batch_csv.py arguments>
"""

from __future__ import annotations

import sys

import batch_csv

from .tiny_workflows import make_tiny

if __name__ == "__main__":
    sys.exit(batch_csv.main(sys.argv[1:], prompt_hook=make_tiny))
