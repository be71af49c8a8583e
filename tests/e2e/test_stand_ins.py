"""The stand-ins work through the HTTP API the way e2e prompts use them (in place of the real loaders)."""

from __future__ import annotations

from pathlib import Path

from uniavgen_tools.dev.stand_ins import TEST_PACK_MODULE, TEXT_ENCODER_NODE, VAE_NODE
from uniavgen_tools.dev.tiny_models import DIT_NAME, VOCODER_NAME


def test_stand_ins_served_from_the_test_pack(server):
    info = server.get_json("/object_info")
    for node_id, output in ((TEXT_ENCODER_NODE, "CLIP"), (VAE_NODE, "VAE")):
        assert info[node_id]["python_module"] == TEST_PACK_MODULE
        assert info[node_id]["output"] == [output]


def test_tiny_models_listed(server):
    dits = server.get_json("/models/diffusion_models")
    assert any(name.startswith(DIT_NAME + "/") and name.endswith(".safetensors") for name in dits), dits
    assert f"{VOCODER_NAME}/model.safetensors" in server.get_json("/models/vae")


def test_prompt_with_stand_ins_encodes_text_and_round_trips_video(server):
    prompt = {
        "te": {"class_type": TEXT_ENCODER_NODE, "inputs": {}},
        "txt": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["te", 0], "text": "a woman talks"}},
        "show": {"class_type": "PreviewAny", "inputs": {"source": ["txt", 0]}},
        "vae": {"class_type": VAE_NODE, "inputs": {}},
        "img": {"class_type": "EmptyImage",
                "inputs": {"width": 96, "height": 64, "batch_size": 17, "color": 0x406080}},
        "enc": {"class_type": "VAEEncode", "inputs": {"pixels": ["img", 0], "vae": ["vae", 0]}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["enc", 0], "vae": ["vae", 0]}},
        "mux": {"class_type": "CreateVideo", "inputs": {"images": ["dec", 0], "fps": 16.0}},
        "save": {"class_type": "SaveVideo", "inputs": {"video": ["mux", 0], "filename_prefix": "stand_ins",
                                                       "format": "mp4", "codec": "h264"}},
    }
    entry = server.run_prompt(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert "tensor(" in entry["outputs"]["show"]["text"][0]
    saved = entry["outputs"]["save"]["images"][0]
    video = server.layout.root / "output" / saved["subfolder"] / saved["filename"]
    assert Path(video).stat().st_size > 1000

    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height, frames) == (96, 64, 17)
