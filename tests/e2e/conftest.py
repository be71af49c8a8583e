"""One real ComfyUI server per test session, with the pack linked in as a custom node."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.comfy_server import ComfyServer, HostLayout
from helpers.paths import REPO_ROOT


@pytest.fixture(scope="session")
def host_layout(tmp_path_factory) -> HostLayout:
    layout = HostLayout(tmp_path_factory.mktemp("comfy_host"))
    layout.link_pack(REPO_ROOT, "ComfyUI-UniAVGen")
    return layout


@pytest.fixture(scope="session")
def server(comfy_root: Path, host_layout: HostLayout):
    srv = ComfyServer(comfy_root, host_layout)
    srv.start()
    yield srv
    srv.stop()
