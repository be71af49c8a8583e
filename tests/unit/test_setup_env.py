"""scripts/setup_env.sh: the second host is skipped in one line without its source, and a rebuilt
host's venv never removes the other host's."""

from __future__ import annotations

import os
import subprocess

from helpers.paths import REPO_ROOT

SETUP = REPO_ROOT / "scripts" / "setup_env.sh"


def test_without_the_033_tarball_the_host_is_skipped_in_one_line(tmp_path):
    env = {**os.environ, "UNIAVGEN_CACHE": str(tmp_path / "cache"), "UNIAVGEN_HOST": "0.33.0",
           "UNIAVGEN_COMFYUI_TARBALL": str(tmp_path / "absent.tar.gz")}
    done = subprocess.run(["bash", "-c", f"source {SETUP}; echo \"absent=$UNIAVGEN_HOST_ABSENT\""], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "absent=1"
    assert done.stderr.count("\n") == 1 and "skipping ComfyUI 0.33.0" in done.stderr
    assert str(tmp_path / "absent.tar.gz") in done.stderr
    assert not any((tmp_path / "cache").glob("venv-*"))  # nothing was built


def _stale_after_rebuild(cache, host: str) -> set[str]:
    for name in ("venv-0.3.75-aaaaaaaaaaaa", "venv-0.3.75-bbbbbbbbbbbb", "venv-0.33.0-cccccccccccc",
                 "venv-0.33.0-dddddddddddd", "venv-0530e9af8d93", "comfyui-0.3.75", "comfyui-0.33.0"):
        (cache / name).mkdir(parents=True, exist_ok=True)
    current = {"0.3.75": "venv-0.3.75-bbbbbbbbbbbb", "0.33.0": "venv-0.33.0-dddddddddddd"}[host]
    # The function the build runs once the new venv is ready, taken from the script itself.
    script = (f"eval \"$(sed -n '/^_remove_stale() {{/,/^}}/p' {SETUP})\"; "
              f"UNIAVGEN_CACHE={cache} UNIAVGEN_HOST={host} _venv={cache / current} _remove_stale")
    subprocess.run(["bash", "-c", script], check=True, timeout=60)
    return {p.name for p in cache.iterdir()}


def test_rebuilding_one_host_removes_only_its_own_old_venvs(tmp_path):
    assert _stale_after_rebuild(tmp_path / "a", "0.33.0") == {
        "venv-0.3.75-aaaaaaaaaaaa", "venv-0.3.75-bbbbbbbbbbbb", "venv-0.33.0-dddddddddddd",
        "venv-0530e9af8d93", "comfyui-0.3.75", "comfyui-0.33.0"}
    assert _stale_after_rebuild(tmp_path / "b", "0.3.75") == {
        "venv-0.3.75-bbbbbbbbbbbb", "venv-0.33.0-cccccccccccc", "venv-0.33.0-dddddddddddd",
        "comfyui-0.3.75", "comfyui-0.33.0"}
