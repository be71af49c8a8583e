"""Several real ComfyUI servers for the batch runner's tests, and what their histories say."""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..paths import PACK_ROOT
from .comfy_server import ComfyServer, HostLayout
from .stand_ins import link_test_pack
from .tiny_models import populate_models
from .tiny_workflows import copy_example_inputs

SAVE_NODE = "15"  # the twins' UniAVGen Save Video
# The batch CLI on the tiny models, run as a user runs it: `python -m` with the pack folder importable.
TINY_CLI = [sys.executable, "-m", "uniavgen_tools.dev.tiny_batch"]
CLI_ENV = {"PYTHONPATH": str(PACK_ROOT)}


def host(root: Path) -> HostLayout:
    """A server's folders like the session server's: the pack, the stand-ins, tiny models, inputs."""
    layout = HostLayout(root)
    layout.link_pack(PACK_ROOT, "ComfyUI-UniAVGen")
    link_test_pack(layout)
    populate_models(layout)
    copy_example_inputs(layout)
    return layout


def start_farm(comfy_root: Path, roots: list[Path], threads: int = 1) -> list[ComfyServer]:
    """Servers started in parallel (each takes seconds to import torch and the nodes).

    Few torch threads each: several CPU servers on a small machine would otherwise fight over cores.
    """
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    servers = [ComfyServer(comfy_root, host(root), env) for root in roots]
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda s: s.start(), servers))
    return servers


def kill(server: ComfyServer) -> None:
    """As a crash would: no clean shutdown."""
    if server.process is not None and server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)


def revive(servers: list[ComfyServer]) -> None:
    """Restarts (same port, same folders) every server that is not running."""
    dead = [s for s in servers if s.process is None or s.process.poll() is not None]
    with ThreadPoolExecutor(max(1, len(dead))) as pool:
        list(pool.map(lambda s: s.start(), dead))


def successful_runs(servers: list[ComfyServer], batch_id: str) -> dict[str, list[str]]:
    """data_id -> the servers whose history holds a successful run of it for this batch."""
    runs: dict[str, list[str]] = {}
    prefix = f"uniavgen_batch/{batch_id}/"
    for server in servers:
        if server.process is None or server.process.poll() is not None:
            continue
        for entry in server.get_json("/history?max_items=10000").values():
            prompt = entry["prompt"][2]
            name = prompt.get(SAVE_NODE, {}).get("inputs", {}).get("filename_prefix", "")
            if name.startswith(prefix) and entry.get("status", {}).get("status_str") == "success":
                runs.setdefault(name[len(prefix):], []).append(server.base_url)
    return runs


def all_runs(servers: list[ComfyServer], batch_id: str) -> dict[str, int]:
    """data_id -> how many prompts of this batch reached any server's history (any outcome)."""
    counts: dict[str, int] = {}
    prefix = f"uniavgen_batch/{batch_id}/"
    for server in servers:
        if server.process is None or server.process.poll() is not None:
            continue
        for entry in server.get_json("/history?max_items=10000").values():
            name = entry["prompt"][2].get(SAVE_NODE, {}).get("inputs", {}).get("filename_prefix", "")
            if name.startswith(prefix):
                counts[name[len(prefix):]] = counts.get(name[len(prefix):], 0) + 1
    return counts
