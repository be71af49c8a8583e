"""Packaging rules: no torch in requirements, metadata in sync, the core never imports ComfyUI."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib

from helpers.paths import REPO_ROOT

FORBIDDEN_REQS = {"torch", "torchvision", "torchaudio"}
FORBIDDEN_CORE_IMPORTS = {"comfy", "folder_paths", "server", "nodes", "comfy_api", "comfy_extras"}


def _req_names(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name = re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower()
            out[name] = line
    return out


def test_requirements_match_pyproject_and_exclude_torch():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    reqs = _req_names((REPO_ROOT / "requirements.txt").read_text().splitlines())
    declared = _req_names(project["dependencies"])
    assert reqs == declared
    assert not FORBIDDEN_REQS & set(reqs)
    assert not FORBIDDEN_REQS & set(_req_names(project["optional-dependencies"]["test"]))


def test_registry_metadata_present():
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    project, comfy = data["project"], data["tool"]["comfy"]
    assert "comfyui" not in project["name"].lower()
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    for key in ("description", "license", "dependencies"):
        assert project.get(key)
    assert project["urls"]["Repository"].startswith("https://")
    for key in ("PublisherId", "DisplayName", "Icon", "requires-comfyui"):
        assert key in comfy


def test_core_never_imports_comfy():
    offenders = []
    for path in (REPO_ROOT / "uniavgen_core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] in FORBIDDEN_CORE_IMPORTS]
    assert not offenders


def test_core_imports_without_comfy_or_torchaudio():
    code = (
        "import sys; sys.modules['torchaudio'] = None\n"
        "import importlib, pkgutil, uniavgen_core\n"
        "for m in pkgutil.walk_packages(uniavgen_core.__path__, 'uniavgen_core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('comfy', 'folder_paths', 'comfy_api')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_entrypoint_is_v3_only():
    tree = ast.parse((REPO_ROOT / "__init__.py").read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.AsyncFunctionDef | ast.FunctionDef)}
    assigned = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Name)}
    assert "comfy_entrypoint" in names
    assert "NODE_CLASS_MAPPINGS" not in assigned
