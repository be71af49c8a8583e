"""The layers stay apart: the product never reaches into the tools or the tests, the tools never into
the tests, nobody edits sys.path, and the stand-in node pack stays marked as such."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.paths import REPO_ROOT
from uniavgen_tools.dev.stand_ins import STAND_IN_PACK_DIR

PRODUCT = ("nodes", "uniavgen_core")
TOOLS = ("uniavgen_tools", "benchmarks")


def _sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((REPO_ROOT / folder).rglob("*.py"))


def _imports(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module or ""


def _offenders(paths: Iterator[Path], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in paths:
        imported = [m for m in _imports(ast.parse(path.read_text())) if m.split(".")[0] in forbidden]
        if imported:
            found.append(f"{path.relative_to(REPO_ROOT)}: {imported}")
    return found


def test_product_imports_neither_tools_nor_tests():
    product = [REPO_ROOT / "__init__.py", *_sources(*PRODUCT)]
    assert _offenders(iter(product), ("tests", "helpers", "uniavgen_tools", "benchmarks")) == []
    mentions = [str(p.relative_to(REPO_ROOT)) for p in product
                if "stand_in_pack" in p.read_text() or "UniAVGenTest" in p.read_text()]
    assert mentions == []


def test_tools_and_benchmarks_import_nothing_from_tests():
    assert _offenders(_sources(*TOOLS), ("tests", "helpers")) == []


@pytest.mark.parametrize("folders", [PRODUCT, TOOLS, ("tests",)], ids=["product", "tools", "tests"])
def test_nothing_edits_sys_path(folders):
    """Everything imports from the pack folder as the root (`python -m`, pytest's pythonpath); the
    one exception puts the ComfyUI host itself on the path, as ComfyUI's main.py would be."""
    allowed = {REPO_ROOT / "uniavgen_tools" / "dev" / "inprocess.py"}
    edits = []
    for path in _sources(*folders):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name)
                    and node.value.id == "sys" and path not in allowed):
                edits.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert edits == []


def test_stand_in_node_ids_are_marked():
    ids = []
    for path in STAND_IN_PACK_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "node_id":
                ids.append(node.value.value)
    assert ids and all(i.startswith("UniAVGenTest") for i in ids), ids
