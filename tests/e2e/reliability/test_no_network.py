"""No network: the server (pack import included) runs whole prompts with every outbound connection refused."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import tiny_prompts as tp
from helpers.server_watch import NO_NETWORK_DIR, run_ok

PACK_MARKERS = ("ComfyUI-UniAVGen", "uniavgen_core")


def test_blocker_refuses_outbound_and_allows_loopback(rel_server, tmp_path):
    """The sitecustomize the server runs under really blocks: checked in a fresh Python."""
    code = (
        "import socket, urllib.request\n"
        "try:\n"
        "    socket.create_connection(('93.184.216.34', 80), timeout=2)\n"
        "    print('CONNECTED')\n"
        "except ConnectionRefusedError as e:\n"
        "    print('REFUSED', e)\n"
        f"print(urllib.request.urlopen('{rel_server.base_url}/system_stats', timeout=10).status)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(NO_NETWORK_DIR), "UNIAVGEN_NET_LOG": str(tmp_path / "net.log")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "REFUSED network blocked" in out.stdout and out.stdout.strip().endswith("200"), out.stdout


def test_pack_imports_and_prompts_run_with_network_blocked(rel_server):
    log = rel_server.net_log.read_text(encoding="utf-8")
    assert f"ACTIVE pid {rel_server.process.pid}" in log  # the blocker was loaded into this server
    assert "IMPORT FAILED" not in rel_server.log()
    info = rel_server.get_json("/object_info")
    assert info["UniAVGenSampler"]["python_module"] == "custom_nodes.ComfyUI-UniAVGen"
    for build in (tp.v2a, tp.avg):
        run_ok(rel_server, build(prefix="no_network"))
    refusals = rel_server.net_log.read_text(encoding="utf-8").split("REFUSED")[1:]
    by_pack = [r for r in refusals if any(marker in r for marker in PACK_MARKERS)]
    assert not by_pack, by_pack
