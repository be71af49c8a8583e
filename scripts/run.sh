#!/usr/bin/env bash
# The main job: make the joint audio+video example clip with ComfyUI and print its path.
#   bash scripts/run.sh           real weights (says exactly which files are missing)
#   bash scripts/run.sh --demo    tiny random weights it generates: proves the install (output is noise)
# COMFYUI_DIR=/path/to/ComfyUI uses an existing ComfyUI (and its Python: COMFYUI_PYTHON, default
# python3) instead of the embedded ComfyUI 0.3.75 in the cached venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${COMFYUI_DIR:-}" ]; then
  export UNIAVGEN_USER_COMFYUI=1 COMFYUI_DIR
  export UNIAVGEN_PY="${COMFYUI_PYTHON:-python3}"
  "$UNIAVGEN_PY" -m pip install -q -r "$root/requirements.txt"
else
  # shellcheck source=setup_env.sh
  source "$root/scripts/setup_env.sh"
fi
cd "$root"
exec "$UNIAVGEN_PY" "$root/scripts/run_example.py" "$@"
