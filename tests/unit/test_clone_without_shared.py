"""A clone with nothing beside it (no ../shared golden or reference folder) runs the suite as designed.

Only the parity tier needs that folder, and tests/conftest.py + helpers/paths.py fail any other tier's
test that reaches for it. Here a copy of the repository, alone in a folder, shows the other half: the
whole suite collects, and every parity test skips for the one stated reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from helpers.paths import REPO_ROOT, copy_repository

SKIP_REASON = "parity needs the golden folder"


def _pytest(clone: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("UNIAVGEN_GOLDEN_DIR", "UNIAVGEN_REFERENCE_DIR", "PYTEST_ADDOPTS")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=clone,
                          env=env, capture_output=True, text=True, timeout=300)


def test_clone_alone_collects_everything_and_skips_parity_for_one_reason(tmp_path):
    clone = tmp_path / "alone" / REPO_ROOT.name
    copy_repository(clone)
    assert not (clone.parent.parent / "shared").exists() and not (clone.parent / "shared").exists()

    collected = _pytest(clone, "--collect-only", "-q")
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    total = int(re.search(r"(\d+) tests? collected", collected.stdout).group(1))
    assert total > 300

    parity = _pytest(clone, "-m", "parity", "-q", "-rs")
    out = parity.stdout
    assert parity.returncode == 0, out[-3000:] + parity.stderr[-3000:]
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(r"=* ?\d+ skipped, \d+ deselected in [\d.]+s ?=*", summary), summary
    skip_lines = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert len(skip_lines) == 1 and SKIP_REASON in skip_lines[0], skip_lines
