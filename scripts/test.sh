#!/usr/bin/env bash
# The test command: sets up everything it needs (venv, ComfyUI host, browser), lints, runs pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m parity`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=setup_env.sh
source "$root/scripts/setup_env.sh"
bash "$root/scripts/setup_browser.sh"
cd "$root"
echo "[test] ruff"
"$UNIAVGEN_PY" -m ruff check .
echo "[test] pytest $*"
export UNIAVGEN_COMFYUI_DIR="$COMFYUI_DIR"
# pytest exits 5 when nothing was collected; with set -e that fails the run, as it should.
exec "$UNIAVGEN_PY" -m pytest "$@"
