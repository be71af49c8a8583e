"""One ComfyUI server for the reliability modules, with outbound network blocked for its whole life.

Its models folder holds the tiny random DiT and vocoder plus the broken files of the bad-input
matrix; its input folder holds the tiny prompts' media. Ended by PID after the last module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.bad_models import write_bad_models
from uniavgen_tools.dev.comfy_server import ComfyServer, HostLayout
from helpers.hostile_media import write_hostile_inputs
from helpers.hostile_models import write_hostile_models
from helpers.paths import REPO_ROOT
from helpers.server_watch import NO_NETWORK_DIR
from uniavgen_tools.dev.stand_ins import link_test_pack
from helpers.tiny_media import write_inputs
from uniavgen_tools.dev.tiny_models import populate_models

@pytest.fixture(scope="session")
def rel_layout(tmp_path_factory) -> HostLayout:
    layout = HostLayout(tmp_path_factory.mktemp("rel_host"))
    layout.link_pack(REPO_ROOT, "ComfyUI-UniAVGen")
    link_test_pack(layout)
    populate_models(layout)
    write_bad_models(layout.models)
    write_hostile_models(layout.models)
    write_inputs(layout.root / "input")
    write_hostile_inputs(layout.root / "input")
    return layout


@pytest.fixture(scope="session")
def rel_server(comfy_root: Path, rel_layout: HostLayout):
    net_log = rel_layout.root / "network_refused.log"
    python_path = os.pathsep.join(p for p in (str(NO_NETWORK_DIR), os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": python_path, "UNIAVGEN_NET_LOG": str(net_log)}
    srv = ComfyServer(comfy_root, rel_layout, env=env)
    srv.net_log = net_log
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
