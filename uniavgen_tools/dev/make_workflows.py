"""Write the example workflows (workflows/*.json, UI format) from the graphs in workflow_specs.py.

    source scripts/setup_env.sh         # then, from the pack folder:
    $UNIAVGEN_PY -m uniavgen_tools.dev.make_workflows           # a throwaway ComfyUI for /object_info
    $UNIAVGEN_PY -m uniavgen_tools.dev.make_workflows --object-info info.json

Socket and widget layout come from the server's /object_info, so the files match what the real
frontend builds. The API twins in workflows/api/ are exported from the frontend afterwards
(python -m uniavgen_tools.dev.export_api_prompts).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from ..paths import PACK_ROOT, WORKFLOWS
from .comfy_server import ComfyServer, HostLayout
from .workflow_graph import to_ui
from .workflow_specs import WORKFLOWS as SPECS

log = logging.getLogger(__name__)


def fetch_object_info() -> dict:
    comfyui = os.environ.get("UNIAVGEN_COMFYUI_DIR") or os.environ.get("COMFYUI_DIR")
    if not comfyui:
        raise SystemExit("set COMFYUI_DIR (source scripts/setup_env.sh) or pass --object-info")
    with tempfile.TemporaryDirectory(prefix="uniavgen_workflows_") as tmp:
        layout = HostLayout(Path(tmp))
        layout.link_pack(PACK_ROOT, "ComfyUI-UniAVGen")
        server = ComfyServer(Path(comfyui), layout)
        server.start()
        try:
            return server.get_json("/object_info")
        finally:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--object-info", type=Path, help="a saved /object_info (default: ask a server)")
    parser.add_argument("--out", type=Path, default=WORKFLOWS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    info = json.loads(args.object_info.read_text()) if args.object_info else fetch_object_info()
    args.out.mkdir(parents=True, exist_ok=True)
    for stem, build in SPECS.items():
        nodes, notes = build()
        workflow = to_ui(nodes, info, extra_nodes=notes)
        path = args.out / f"{stem}.json"
        path.write_text(json.dumps(workflow, indent=1) + "\n")
        log.info("%s: %d nodes, %d links", path.name, len(workflow["nodes"]),
                 len(workflow["links"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
