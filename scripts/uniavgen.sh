#!/usr/bin/env bash
# The pack's Python tools from any folder (relative paths stay relative to where you run it):
#   bash scripts/uniavgen.sh convert SRC DST [--vocoder DIR] ...   checkpoint converter
#   bash scripts/uniavgen.sh batch rows.csv --task 0 ...             CSV batches over ComfyUI servers
# Python: COMFYUI_PYTHON, else UNIAVGEN_PY, else python3 (use the one that runs ComfyUI: the
# converter needs its torch and safetensors). The same as `python -m uniavgen_tools.<tool>` run
# from the pack's folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
  convert|batch) tool="$1"; shift ;;
  *) printf 'usage: bash %s convert|batch ARGS (--help after the tool name lists them)\n' "$0" >&2; exit 2 ;;
esac
py="${COMFYUI_PYTHON:-${UNIAVGEN_PY:-$(command -v python3)}}"
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m "uniavgen_tools.$tool" "$@"
