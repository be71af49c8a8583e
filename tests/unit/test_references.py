"""Comments and documents cite what a reader of the repository can open.

The developers' notes (the reference specification, the design and style notes) live outside the
repository, so product code, scripts, benchmarks and documents must not send a reader to them: they
cite the official code (MCG-NJU/Sora2-mini, file and function), the paper, or state the fact.
Tests may still read ../shared/reference at run time; this check leaves tests/ alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {"tests", "__pycache__", "node_modules", "venv", "models", "output", "test-output"}
# "SPEC §3", "SPEC.md", "see the SPEC", "DESIGN §6", "STYLE.md"; not identifiers such as TASK_SPECS.
UNREACHABLE = re.compile(r"\bSPEC\b|\bDESIGN(?:\.md|\s*§)|\bSTYLE\.md\b")


def cited_files() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS]
        found += [Path(folder, f) for f in files if f.endswith((".py", ".md"))]
    return sorted(found)


def citations(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if UNREACHABLE.search(line)]


def test_the_pattern_tells_citations_from_identifiers():
    assert citations('"""Sampler (SPEC §4)."""\n# see SPEC.md\n# DESIGN §6 says\n') == [
        (1, '"""Sampler (SPEC §4)."""'), (2, "# see SPEC.md"), (3, "# DESIGN §6 says")]
    assert citations("from .tasks import TASK_SPECS\nspec = TASK_SPECS[task]  # the task's spec\n") == []


def test_files_are_found():
    files = {p.relative_to(REPO_ROOT).as_posix() for p in cited_files()}
    assert {"README.md", "uniavgen_core/sampler.py", "nodes/sampler.py"} <= files
    assert not any(f.startswith("tests/") for f in files)


def test_no_file_outside_tests_cites_notes_outside_the_repository():
    problems = [f"{path.relative_to(REPO_ROOT)}:{n}: {line}"
                for path in cited_files() for n, line in citations(path.read_text(encoding="utf-8"))]
    assert not problems, ("cite the official file and function (MCG-NJU/Sora2-mini), the paper's section "
                          "(arXiv 2511.03334), or state the fact instead:\n" + "\n".join(problems))
