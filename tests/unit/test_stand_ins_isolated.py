"""The test-only node pack stays out of the product: no product file refers to it, its ids are marked."""

from __future__ import annotations

import ast

from helpers.paths import REPO_ROOT

TEST_PACK = REPO_ROOT / "tests" / "host_pack"


def _product_sources():
    yield REPO_ROOT / "__init__.py"
    for folder in ("nodes", "uniavgen_core"):
        yield from (REPO_ROOT / folder).rglob("*.py")


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


def test_product_never_refers_to_the_test_pack():
    offenders = []
    for path in _product_sources():
        text = path.read_text()
        imported = [m for m in _imports(ast.parse(text)) if m.split(".")[0] in ("tests", "helpers")]
        if imported or "host_pack" in text or "UniAVGenTest" in text:
            offenders.append(f"{path.relative_to(REPO_ROOT)}: {imported}")
    assert not offenders


def test_test_pack_node_ids_are_marked_test_only():
    ids = []
    for path in TEST_PACK.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "node_id":
                ids.append(node.value.value)
    assert ids and all(i.startswith("UniAVGenTest") for i in ids), ids
