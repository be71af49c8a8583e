"""Grep-level safety of the pack's own code (nodes/, uniavgen_core/, __init__.py), read as syntax trees.

No eval/exec/compile, no pickle loading, torch.load only with weights_only=True, no subprocess or
shell calls, no network clients.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers.paths import REPO_ROOT

PACK_FILES = sorted([REPO_ROOT / "__init__.py", *(REPO_ROOT / "nodes").rglob("*.py"),
                     *(REPO_ROOT / "uniavgen_core").rglob("*.py")])
BANNED_CALLS = {"eval", "exec", "compile", "__import__"}
BANNED_ATTR_CALLS = {("pickle", "load"), ("pickle", "loads"), ("os", "system"), ("os", "popen"),
                     ("marshal", "loads"), ("dill", "load"), ("shelve", "open")}
BANNED_MODULES = {"subprocess", "pickle", "marshal", "dill", "shelve", "socket", "urllib", "http",
                  "requests", "aiohttp", "httpx", "ftplib", "webbrowser", "huggingface_hub"}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def problems(source: str, label: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename=label)):
        where = f"{label}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{where} imports {n}" for n in names if n.split(".")[0] in BANNED_MODULES]
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name in BANNED_CALLS:
            found.append(f"{where} calls {name}()")
        parts = tuple(name.split(".")[-2:])
        if parts in BANNED_ATTR_CALLS:
            found.append(f"{where} calls {name}()")
        if name.endswith("torch.load"):
            safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                       for k in node.keywords)
            if not safe:
                found.append(f"{where} calls torch.load without weights_only=True")
    return found


def test_pack_files_found():
    assert len(PACK_FILES) > 20 and all(p.is_file() for p in PACK_FILES)


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_unsafe_calls(path: Path):
    assert problems(path.read_text(encoding="utf-8"), str(path.relative_to(REPO_ROOT))) == []


def test_only_the_converter_unpickles():
    """The nodes load safetensors/GGUF only; reading a pickled file (torch.load, weights_only) is the
    converter's job alone (uniavgen_core/convert.py)."""
    def calls_torch_load(path: Path) -> bool:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        return any(isinstance(n, ast.Call) and _name(n.func).endswith("torch.load") for n in ast.walk(tree))

    callers = [p.relative_to(REPO_ROOT).as_posix() for p in PACK_FILES if calls_torch_load(p)]
    assert callers == ["uniavgen_core/convert.py"]


def test_the_checker_catches_what_it_bans():
    source = ("import subprocess\nimport torch\nfrom urllib import request\n"
              "x = eval('1')\ntorch.load('a.pt')\ntorch.load('b.pt', weights_only=True)\n"
              "import pickle\npickle.load(open('c', 'rb'))\nos.system('ls')\n")
    found = "\n".join(problems(source, "sample.py"))
    for fragment in ("imports subprocess", "imports urllib", "calls eval()", "without weights_only=True",
                     "imports pickle", "calls pickle.load()", "calls os.system()"):
        assert fragment in found, (fragment, found)
    assert found.count("torch.load") == 1  # the weights_only=True call passes
