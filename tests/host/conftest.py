"""In-process ComfyUI: booted once per session, CPU only."""

from __future__ import annotations

from pathlib import Path

import pytest

from uniavgen_tools.dev.inprocess import boot_comfy, load_builtin_nodes, load_pack
from helpers.node_runner import DIT_FILE, run
from uniavgen_tools.dev.stand_ins import TEXT_ENCODER_NODE, VAE_NODE


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
    from uniavgen_tools.dev.stand_ins import load_test_pack

    load_builtin_nodes()
    return load_test_pack(tmp_path_factory.mktemp("test_custom_nodes"))


@pytest.fixture(scope="session")
def tiny_models(comfy, tmp_path_factory):
    """The tiny random DiT and vocoder in a models folder the in-process ComfyUI searches first."""
    import folder_paths

    from uniavgen_tools.dev.comfy_server import HostLayout
    from uniavgen_tools.dev.tiny_models import populate_models

    layout = HostLayout(tmp_path_factory.mktemp("host_models"))
    models = populate_models(layout)
    for folder in ("diffusion_models", "vae"):
        folder_paths.add_model_folder_path(folder, str(layout.models / folder), is_default=True)
    return models


@pytest.fixture(scope="module")
def parts(pack, stand_ins, tiny_models):
    """The loaded models of a whole graph (tiny DiT halves, vocoder, stand-in VAE, encoded captions)."""
    clip = run(TEXT_ENCODER_NODE)[0]
    return {
        "video_dit": run("UniAVGenLoadVideoDiT", dit_name=DIT_FILE, weight_dtype="default")[0],
        "audio_dit": run("UniAVGenLoadAudioDiT", dit_name=DIT_FILE, weight_dtype="default")[0],
        "vocoder": run("UniAVGenLoadVocoder", vocoder_name="uniavgen_tiny_vocoder")[0],
        "vae": run(VAE_NODE)[0],
        "positive": run("CLIPTextEncode", clip=clip, text="A woman speaks to the camera.")[0],
        "negative": run("CLIPTextEncode", clip=clip, text="")[0],
    }
