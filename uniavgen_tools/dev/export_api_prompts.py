"""Write the API-format twin of every UI workflow, exported by the real frontend (app.graphToPrompt).

    source scripts/setup_env.sh         # then, from the pack folder:
    $UNIAVGEN_PY -m uniavgen_tools.dev.export_api_prompts            # workflows/*.json -> workflows/api/
    $UNIAVGEN_PY -m uniavgen_tools.dev.export_api_prompts --check    # only compare; exit 1 on a difference
Starts a throwaway ComfyUI (COMFYUI_DIR) with the pack linked in, and headless chromium.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from ..paths import API_TWINS, PACK_ROOT, WORKFLOWS
from .browser import BrowserSession, export_api_prompt, open_comfy
from .comfy_server import ComfyServer, HostLayout
from .workflow_check import api_prompt_mismatches, declared_inputs_from_object_info

log = logging.getLogger(__name__)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workflows", nargs="*", type=Path, help="default: workflows/*.json")
    parser.add_argument("--out", type=Path, default=API_TWINS)
    parser.add_argument("--check", action="store_true", help="compare with the existing twins only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = args.workflows or sorted(WORKFLOWS.glob("*.json"))
    if not paths:
        log.error("no workflows given and workflows/ has no *.json")
        return 2
    comfyui = os.environ.get("UNIAVGEN_COMFYUI_DIR") or os.environ.get("COMFYUI_DIR")
    if not comfyui:
        log.error("set COMFYUI_DIR (source scripts/setup_env.sh)")
        return 2
    failed = 0
    with tempfile.TemporaryDirectory(prefix="uniavgen_export_") as tmp:
        layout = HostLayout(Path(tmp))
        layout.link_pack(PACK_ROOT, "ComfyUI-UniAVGen")
        server, session = ComfyServer(Path(comfyui), layout), BrowserSession()
        server.start()
        try:
            declared = declared_inputs_from_object_info(server.get_json("/object_info"))
            for path in paths:
                ui = open_comfy(session, server.base_url)
                try:
                    prompt = export_api_prompt(ui, json.loads(path.read_text()))
                finally:
                    ui.close()
                twin = args.out / path.name
                if args.check:
                    problems = (api_prompt_mismatches(prompt, json.loads(twin.read_text()), declared)
                                if twin.is_file() else [f"{twin} does not exist"])
                    failed += bool(problems)
                    log.info("%s: %s", path.name, "ok" if not problems else "\n  " + "\n  ".join(problems))
                else:
                    args.out.mkdir(parents=True, exist_ok=True)
                    twin.write_text(json.dumps(prompt, indent=2) + "\n")
                    log.info("%s -> %s (%d nodes)", path.name, twin, len(prompt))
        finally:
            session.close()
            server.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
