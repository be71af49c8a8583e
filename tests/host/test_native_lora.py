"""LoRA on the native model through ComfyUI's own LoraLoaderModelOnly: every supported key format
changes exactly its target by strength * (up @ down) * alpha / rank; strength 0 changes nothing;
keys that match nothing get ComfyUI's usual warning."""

from __future__ import annotations

import importlib
import logging

import pytest
import torch
from safetensors.torch import save_file

from uniavgen_tools.dev.tiny_models import tiny_checkpoint
from helpers.node_runner import run
from uniavgen_core.checkpoint import load_audio_dit, load_video_dit

RANK, ALPHA, STRENGTH = 2, 1.0, 0.7

# format name -> (LoRA key stem, up / down suffixes, the weight it must change)
FORMATS = {
    "comfy_video": ("diffusion_model.blocks.3.self_attn.q", "lora_up", "lora_down",
                    "diffusion_model.blocks.3.self_attn.q.weight"),
    "peft_video": ("diffusion_model.blocks.3.ffn.0", "lora_B", "lora_A",
                   "diffusion_model.blocks.3.ffn.0.weight"),
    "kohya_video": ("lora_unet_blocks_5_cross_attn_k", "lora_up", "lora_down",
                    "diffusion_model.blocks.5.cross_attn.k.weight"),
    "audio_dit": ("diffusion_model.audio_blocks.2.self_attn.v", "lora_B", "lora_A",
                  "diffusion_model.audio_blocks.2.self_attn.v.weight"),
    "a2v_block": ("diffusion_model.a2v_blocks.1.k", "lora_up", "lora_down",
                  "diffusion_model.a2v_blocks.1.k.weight"),
    "v2a_block_kohya": ("lora_unet_v2a_blocks_1_q", "lora_up", "lora_down",
                        "diffusion_model.v2a_blocks.1.q.weight"),
}


@pytest.fixture(scope="module")
def model(pack):
    """Its own DiTs (float32): patching must not touch models other tests share."""
    memory = importlib.import_module(f"{pack.__name__}.nodes.memory")
    native = importlib.import_module(f"{pack.__name__}.nodes.native_model")
    path = tiny_checkpoint()
    cpu = torch.device("cpu")
    video = memory.new_patcher(load_video_dit(path, dtype=torch.float32), cpu, cpu)
    audio = memory.new_patcher(load_audio_dit(path, dtype=torch.float32), cpu, cpu)
    return native.native_model(video, audio)


@pytest.fixture(scope="module")
def lora_dir(comfy, tmp_path_factory):
    import folder_paths

    folder = tmp_path_factory.mktemp("loras")
    folder_paths.add_model_folder_path("loras", str(folder), is_default=True)
    return folder


def write_lora(folder, name: str, stem: str, up_name: str, down_name: str, shape: tuple[int, int],
               seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    up = torch.randn(shape[0], RANK, generator=gen)
    down = torch.randn(RANK, shape[1], generator=gen)
    save_file({f"{stem}.{up_name}.weight": up, f"{stem}.{down_name}.weight": down,
               f"{stem}.alpha": torch.tensor(ALPHA)}, str(folder / name))
    import folder_paths

    folder_paths.filename_list_cache.pop("loras", None)
    return up, down


def patched_state(patcher) -> dict[str, torch.Tensor]:
    patcher.patch_model()
    try:
        return {k: v.detach().clone() for k, v in patcher.model.state_dict().items()}
    finally:
        patcher.unpatch_model()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_lora_changes_exactly_its_target(model, lora_dir, fmt):
    stem, up_name, down_name, target = FORMATS[fmt]
    before = {k: v.detach().clone() for k, v in model.model.state_dict().items()}
    shape = tuple(before[target].shape)
    up, down = write_lora(lora_dir, f"{fmt}.safetensors", stem, up_name, down_name, shape)
    lora_model = run("LoraLoaderModelOnly", model=model, lora_name=f"{fmt}.safetensors",
                     strength_model=STRENGTH)[0]
    after = patched_state(lora_model)
    expected = before[target] + STRENGTH * (up @ down) * (ALPHA / RANK)
    torch.testing.assert_close(after[target], expected, rtol=0, atol=1e-5)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == [target]
    # unpatched again: the shared weights are back
    assert all(torch.equal(v, model.model.state_dict()[k]) for k, v in before.items())


def test_strength_zero_is_bit_identical(model, lora_dir):
    stem, up_name, down_name, target = FORMATS["comfy_video"]
    before = {k: v.detach().clone() for k, v in model.model.state_dict().items()}
    write_lora(lora_dir, "zero.safetensors", stem, up_name, down_name, tuple(before[target].shape))
    lora_model = run("LoraLoaderModelOnly", model=model, lora_name="zero.safetensors", strength_model=0.0)[0]
    after = patched_state(lora_model)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_unmatched_keys_get_comfy_warning(model, lora_dir, caplog):
    write_lora(lora_dir, "foreign.safetensors", "diffusion_model.not_a_block.7.q", "lora_up", "lora_down",
               (8, 8))
    with caplog.at_level(logging.WARNING):
        run("LoraLoaderModelOnly", model=model, lora_name="foreign.safetensors", strength_model=1.0)
    assert "lora key not loaded: diffusion_model.not_a_block.7.q" in caplog.text
