#!/usr/bin/env bash
# The main job: make the joint audio+video example clip with ComfyUI and print its path.
#   bash scripts/run.sh                  real weights (says exactly which files are missing)
#   bash scripts/run.sh --demo           tiny random weights it generates: proves the install (noise)
#   bash scripts/run.sh --server URL     queue on a ComfyUI that is already running
# COMFYUI_DIR=/path/to/ComfyUI uses that ComfyUI as it is: its Python (COMFYUI_PYTHON, else its
# venv/.venv or the portable build's python_embeded, else the active venv, else python3: the choice
# is printed), its model folders and extra_model_paths.yaml, its output folder. Without it: the
# embedded ComfyUI 0.3.75 in the cached venv (scripts/setup_env.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '[run] %s\n' "$*" >&2; }

server=""
for arg in "$@"; do
  case "$arg" in --server|--server=*) server=1 ;; esac
done

# Python of a user's ComfyUI: the one that runs its main.py. Sets py and how.
find_python() {
  py="${COMFYUI_PYTHON:-}" how="COMFYUI_PYTHON"
  if [ -z "$py" ]; then
    local candidate
    for candidate in "$COMFYUI_DIR/venv/bin/python" "$COMFYUI_DIR/.venv/bin/python" \
        "$COMFYUI_DIR/../python_embeded/python.exe" "$COMFYUI_DIR/venv/Scripts/python.exe" \
        "$COMFYUI_DIR/.venv/Scripts/python.exe"; do
      if [ -x "$candidate" ]; then py="$candidate" how="ComfyUI's own"; break; fi
    done
  fi
  if [ -z "$py" ] && [ -n "${VIRTUAL_ENV:-}" ]; then
    py="$VIRTUAL_ENV/bin/python" how="the active venv (VIRTUAL_ENV); not recognisable as ComfyUI's own"
  fi
  if [ -z "$py" ]; then
    py="$(command -v python3 || true)"
    how="python3 on PATH: no venv found in $COMFYUI_DIR; set COMFYUI_PYTHON to choose"
  fi
  [ -n "$py" ] || { say "no Python found for $COMFYUI_DIR: set COMFYUI_PYTHON"; exit 1; }
}

if [ -n "${COMFYUI_DIR:-}" ]; then
  [ -f "$COMFYUI_DIR/main.py" ] || { say "COMFYUI_DIR=$COMFYUI_DIR is not a ComfyUI folder (no main.py)"; exit 1; }
  COMFYUI_DIR="$(cd "$COMFYUI_DIR" && pwd)"
  find_python
  say "ComfyUI $COMFYUI_DIR with Python $py ($how)"
  # The pack's own requirements, installed only on request: never into someone's Python silently.
  if ! "$py" -c "import pypinyin, jieba, transformers" 2>/dev/null; then
    say "the pack's requirements are missing in $py; install them with:"
    say "  \"$py\" -m pip install -r \"$root/requirements.txt\""
    exit 1
  fi
  export UNIAVGEN_USER_COMFYUI=1 COMFYUI_DIR UNIAVGEN_PY="$py"
elif [ -n "$server" ]; then
  # Only a client: any python3's standard library is enough; --demo needs torch (the cached venv).
  if [ -z "${UNIAVGEN_PY:-}" ]; then
    UNIAVGEN_PY="$(command -v python3)"
    for arg in "$@"; do
      if [ "$arg" = --demo ]; then
        # shellcheck source=setup_env.sh
        source "$root/scripts/setup_env.sh"
      fi
    done
  fi
  export UNIAVGEN_PY
else
  # shellcheck source=setup_env.sh
  source "$root/scripts/setup_env.sh"
fi
# The tools are the pack folder's `uniavgen_tools` package; relative paths keep meaning the caller's folder.
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$UNIAVGEN_PY" -m uniavgen_tools.run "$@"
