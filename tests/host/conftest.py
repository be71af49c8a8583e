"""In-process ComfyUI: booted once per session, CPU only."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.inprocess import boot_comfy, load_builtin_nodes, load_pack


@pytest.fixture(scope="session")
def comfy(comfy_root: Path, tmp_path_factory) -> Path:
    boot_comfy(comfy_root)
    return comfy_root


@pytest.fixture(scope="session")
def pack(comfy, tmp_path_factory):
    custom_nodes = tmp_path_factory.mktemp("custom_nodes")
    load_builtin_nodes()
    return load_pack(custom_nodes)


@pytest.fixture(scope="session")
def stand_ins(comfy, tmp_path_factory):
    """The test-only node pack (tiny umT5 CLIP and Wan 2.2 VAE stand-ins), loaded like a custom node."""
    from helpers.stand_ins import load_test_pack

    load_builtin_nodes()
    return load_test_pack(tmp_path_factory.mktemp("test_custom_nodes"))


@pytest.fixture(scope="session")
def tiny_models(comfy, tmp_path_factory):
    """The tiny random DiT and vocoder in a models folder the in-process ComfyUI searches first."""
    import folder_paths

    from helpers.comfy_server import HostLayout
    from helpers.tiny_models import populate_models

    layout = HostLayout(tmp_path_factory.mktemp("host_models"))
    models = populate_models(layout)
    for folder in ("diffusion_models", "vae"):
        folder_paths.add_model_folder_path(folder, str(layout.models / folder), is_default=True)
    return models
