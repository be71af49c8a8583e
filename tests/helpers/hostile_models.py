"""Model files of the second bad-input campaign (issue 19), written into a models folder.

diffusion_models/rel2/escape_*/          index files whose shard names lead out of their folder
diffusion_models/rel2/bad_*/             malformed index, config.json and vocab.txt
diffusion_models/rel2/{wan_ti2v,flux}.safetensors   checkpoints of other models
diffusion_models/rel2/nan_{video,audio}/model.safetensors   tiny weights with one NaN tensor
vae/rel2_vocoder_{bad_json,bad_weights,nan}/        broken vocoders
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .bad_models import INDEX, SHARDS
from .paths import place_file
from uniavgen_tools.dev.tiny_models import VOCODER_NAME, tiny_checkpoint

REL2 = "rel2"
BINARY = bytes(range(256)) * 8

ESCAPE_DOTDOT = f"{REL2}/escape_dotdot/{INDEX}"
ESCAPE_ABSOLUTE = f"{REL2}/escape_absolute/{INDEX}"
ESCAPE_SYMLINK = f"{REL2}/escape_symlink/{INDEX}"
ESCAPE_SUBFOLDER = f"{REL2}/escape_subfolder/{INDEX}"
ESCAPE_PASSWD = f"{REL2}/escape_passwd/{INDEX}"
ESCAPE_BACKSLASH = f"{REL2}/escape_backslash/{INDEX}"
BINARY_INDEX = f"{REL2}/bad_binary_index/{INDEX}"
BROKEN_JSON_INDEX = f"{REL2}/bad_json_index/{INDEX}"
LIST_INDEX = f"{REL2}/bad_list_index/{INDEX}"
LIST_CONFIG = f"{REL2}/bad_list_config/{INDEX}"
BINARY_VOCAB = f"{REL2}/bad_binary_vocab/{INDEX}"
WAN_TI2V = f"{REL2}/wan_ti2v.safetensors"
FLUX = f"{REL2}/flux.safetensors"
NAN_VIDEO = f"{REL2}/nan_video/model.safetensors"
NAN_AUDIO = f"{REL2}/nan_audio/model.safetensors"
VOCODER_BAD_JSON = "rel2_vocoder_bad_json"
VOCODER_BAD_WEIGHTS = "rel2_vocoder_bad_weights"
VOCODER_NAN = "rel2_vocoder_nan"


def _index_to(folder: Path, shard_name: str) -> None:
    """A real index whose every tensor sits in `shard_name`."""
    folder.mkdir(parents=True, exist_ok=True)
    weight_map = json.loads((tiny_checkpoint() / INDEX).read_text())["weight_map"]
    (folder / INDEX).write_text(
        json.dumps({"metadata": {}, "weight_map": {k: shard_name for k in weight_map}})
    )


def _tiny_copy(folder: Path, vocab: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in [INDEX, "config.json", *SHARDS, *(["vocab.txt"] if vocab else [])]:
        place_file(folder / name, tiny_checkpoint() / name)


def _escapes(rel: Path, models: Path) -> None:
    outside = tiny_checkpoint() / SHARDS[0]
    _index_to(rel / "escape_dotdot", f"../../../vae/{VOCODER_NAME}/model.safetensors")
    _index_to(rel / "escape_absolute", str(outside))
    _index_to(rel / "escape_symlink", "shard.safetensors")
    (rel / "escape_symlink" / "shard.safetensors").symlink_to(outside)
    _index_to(rel / "escape_subfolder", f"sub/{SHARDS[0]}")
    (rel / "escape_subfolder" / "sub").symlink_to(outside.parent, target_is_directory=True)
    _index_to(rel / "escape_passwd", "../../../../../../../../etc/passwd")
    _index_to(rel / "escape_backslash", "..\\..\\..\\secret.safetensors")


def _malformed(rel: Path) -> None:
    for name, content in (
        ("bad_binary_index", BINARY),
        ("bad_json_index", b'{"weight_map": {'),
        ("bad_list_index", b"[]"),
    ):
        (rel / name).mkdir(parents=True)
        (rel / name / INDEX).write_bytes(content)
    _tiny_copy(rel / "bad_list_config")
    (rel / "bad_list_config" / "config.json").unlink()
    (rel / "bad_list_config" / "config.json").write_text("[1, 2, 3]")
    _tiny_copy(rel / "bad_binary_vocab", vocab=False)
    (rel / "bad_binary_vocab" / "vocab.txt").write_bytes(BINARY)


def _other_models(rel: Path) -> None:
    save_file(
        {
            "patch_embedding.weight": torch.zeros(16, 48, 1, 2, 2),
            "blocks.0.self_attn.q.weight": torch.zeros(16, 16),
            "text_embedding.0.weight": torch.zeros(16, 32),
            "head.head.weight": torch.zeros(192, 16),
        },
        str(rel / "wan_ti2v.safetensors"),
    )
    save_file(
        {"double_blocks.0.img_attn.qkv.weight": torch.zeros(24, 8), "img_in.weight": torch.zeros(8, 64)},
        str(rel / "flux.safetensors"),
    )


def _nan_checkpoints(rel: Path) -> None:
    from uniavgen_core.checkpoint import is_audio_key

    state: dict[str, torch.Tensor] = {}
    for shard in SHARDS:
        state.update(load_file(str(tiny_checkpoint() / shard)))
    for name, key in (
        ("nan_video", "blocks.0.self_attn.q.weight"),
        ("nan_audio", "audio_blocks.0.self_attn.q.weight"),
    ):
        assert is_audio_key(key) == (name == "nan_audio") and key in state, key
        broken = dict(state)
        broken[key] = torch.full_like(state[key], float("nan"))
        (rel / name).mkdir()
        save_file(broken, str(rel / name / "model.safetensors"))
        place_file(rel / name / "vocab.txt", tiny_checkpoint() / "vocab.txt")
        place_file(rel / name / "config.json", tiny_checkpoint() / "config.json")  # head counts


def _vocoders(vae: Path) -> None:
    source = vae / VOCODER_NAME
    bad_json = vae / VOCODER_BAD_JSON
    shutil.copytree(source, bad_json)
    (bad_json / "config.json").write_text('{"model_type": "qwen2_5_omni_bigvgan", ')
    bad_weights = vae / VOCODER_BAD_WEIGHTS
    shutil.copytree(source, bad_weights)
    (bad_weights / "model.safetensors").write_bytes(BINARY)
    nan = vae / VOCODER_NAN
    shutil.copytree(source, nan)
    state = load_file(str(nan / "model.safetensors"))
    key = sorted(k for k in state if k.startswith("conv_post"))[0]
    state[key] = torch.full_like(state[key], float("nan"))
    (nan / "model.safetensors").unlink()
    save_file(state, str(nan / "model.safetensors"), metadata={"format": "pt"})


def write_hostile_models(models: Path) -> None:
    """Idempotent per models folder (skips when the rel2 folder exists). Needs the tiny vocoder."""
    rel = models / "diffusion_models" / REL2
    if rel.exists():
        return
    rel.mkdir(parents=True)
    _escapes(rel, models)
    _malformed(rel)
    _other_models(rel)
    _nan_checkpoints(rel)
    _vocoders(models / "vae")
