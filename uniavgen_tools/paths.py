"""Where the pack's own files are, for the tools (the pack folder is the import root)."""

from __future__ import annotations

from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = PACK_ROOT / "workflows"
API_TWINS = WORKFLOWS / "api"
EXAMPLE_INPUTS = PACK_ROOT / "example_inputs"
SCRATCH = PACK_ROOT / "test-output"  # generated models, hosts and clips; ignored by git
