"""The e2e server also loads the test-only stand-in nodes and sees the tiny models folder."""

from __future__ import annotations

import pytest

from helpers.comfy_server import HostLayout
from helpers.paths import golden_dir
from helpers.stand_ins import link_test_pack
from helpers.tiny_models import populate_models


@pytest.fixture(scope="session")
def host_layout(host_layout: HostLayout) -> HostLayout:
    link_test_pack(host_layout)
    if (golden_dir() / "checkpoint").is_dir():  # without golden data only the loaders' tests skip
        populate_models(host_layout)
    return host_layout
