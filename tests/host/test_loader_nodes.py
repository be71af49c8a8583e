"""DiT loaders: ModelPatchers, the speech vocabulary, weight dtypes (fp8 storage runs on CPU)."""

from __future__ import annotations

import pytest
import torch

from helpers.node_runner import DIT_FILE, run
from helpers.paths import place_file
from uniavgen_tools.dev.tiny_models import tiny_checkpoint
from uniavgen_core.random_models import tiny_vocabulary

from helpers.node_graphs import reference, sampler_inputs


def test_loaders_return_model_patchers_with_the_vocabulary(tiny_models, pack):
    import comfy.model_patcher

    video = run("UniAVGenLoadVideoDiT", dit_name=DIT_FILE, weight_dtype="default")[0]
    audio = run("UniAVGenLoadAudioDiT", dit_name=DIT_FILE, weight_dtype="bf16")[0]
    assert isinstance(video, comfy.model_patcher.ModelPatcher) and isinstance(
        audio, comfy.model_patcher.ModelPatcher
    )
    assert type(video.model).__name__ == "VideoDiT" and type(audio.model).__name__ == "AudioDiT"
    assert {p.dtype for p in audio.model.parameters()} == {torch.bfloat16}
    assert audio.model.vocabulary.entries == tiny_vocabulary().entries  # the vocab.txt beside the index
    assert not hasattr(video.model, "vocabulary")


def test_cast_dtype_is_declared_for_partial_load_accounting(tiny_models, pack):
    """ComfyUI counts a cast buffer per layer from model.manual_cast_dtype when it loads partially.

    Stored in the compute dtype: nothing to cast (None). Stored as fp8: cast to the compute dtype.
    """
    same = run("UniAVGenLoadVideoDiT", dit_name=DIT_FILE, weight_dtype="default")[0]
    assert same.model.manual_cast_dtype is None
    fp8 = run("UniAVGenLoadVideoDiT", dit_name=DIT_FILE, weight_dtype="fp8_e4m3fn")[0]
    assert fp8.model.manual_cast_dtype == fp8.model.compute_dtype != torch.float8_e4m3fn


def test_dit_weights_can_stream_under_dynamic_vram(tiny_models, pack):
    """ComfyUI 0.12+ on NVIDIA (ModelPatcherDynamic) keeps the weights of comfy.ops layers in host
    memory and streams them per layer; any other parameter is loaded whole. Nearly all weights must
    sit in comfy.ops layers, or dynamic VRAM would hold the DiTs resident."""
    for node in ("UniAVGenLoadVideoDiT", "UniAVGenLoadAudioDiT"):
        model = run(node, dit_name=DIT_FILE, weight_dtype="fp8_e4m3fn")[0].model
        total = sum(p.numel() for p in model.parameters())
        streamed = sum(p.numel() for m in model.modules() if hasattr(m, "comfy_cast_weights")
                       for p in m.parameters(recurse=False))
        assert streamed / total > 0.99, (node, streamed, total)


def test_dit_list_offers_index_files_not_shards(tiny_models, pack):
    import nodes

    schema = nodes.NODE_CLASS_MAPPINGS["UniAVGenLoadVideoDiT"].define_schema()
    options = schema.inputs[0].options
    assert DIT_FILE in options
    assert not [o for o in options if "-of-" in o]


def test_audio_loader_without_vocabulary_names_the_fix(tiny_models, pack, tmp_path):
    import folder_paths

    folder = tmp_path / "diffusion_models" / "no_vocab"
    folder.mkdir(parents=True)
    for source in tiny_checkpoint().iterdir():
        if source.name != "vocab.txt":
            place_file(folder / source.name, source)
    folder_paths.add_model_folder_path("diffusion_models", str(tmp_path / "diffusion_models"))
    with pytest.raises(ValueError) as err:
        run(
            "UniAVGenLoadAudioDiT",
            dit_name="no_vocab/diffusion_pytorch_model.safetensors.index.json",
            weight_dtype="default",
        )
    message = str(err.value)
    assert message.startswith("UniAVGen Load Audio DiT: ") and "no speech vocabulary" in message
    assert "vocab.txt" in message and str(folder) in message


def test_unknown_file_is_refused(tiny_models, pack):
    with pytest.raises(
        ValueError, match="UniAVGen Load Video DiT: model file 'missing.safetensors' was not found"
    ):
        run("UniAVGenLoadVideoDiT", dit_name="missing.safetensors", weight_dtype="default")


def test_fp8_weights_run_on_cpu_close_to_bf16(parts):
    def load(dtype: str) -> dict:
        return {
            "video_dit": run("UniAVGenLoadVideoDiT", dit_name=DIT_FILE, weight_dtype=dtype)[0],
            "audio_dit": run("UniAVGenLoadAudioDiT", dit_name=DIT_FILE, weight_dtype=dtype)[0],
        }

    fp8, bf16 = load("fp8_e4m3fn"), load("bf16")
    assert {p.dtype for p in fp8["video_dit"].model.parameters()} == {torch.float8_e4m3fn}
    assert fp8["video_dit"].model.compute_dtype in (torch.float32, torch.bfloat16)
    ref = reference(parts)
    outs = {}
    for name, models in (("fp8", fp8), ("bf16", bf16)):
        outs[name] = run(
            "UniAVGenSampler", reference_image=ref, **sampler_inputs({**parts, **models}, steps=2)
        )
    other_seed = run(
        "UniAVGenSampler", reference_image=ref, **sampler_inputs({**parts, **bf16}, steps=2, seed=8)
    )
    pairs = {
        "video": (outs["fp8"][0]["samples"], outs["bf16"][0]["samples"], other_seed[0]["samples"]),
        "audio": (outs["fp8"][1].mel, outs["bf16"][1].mel, other_seed[1].mel),
    }
    for name, (got, want, unrelated) in pairs.items():
        assert torch.isfinite(got).all()
        error = float((got - want).norm() / want.norm())
        # fp8 storage has a 3-bit mantissa: measured 10.7 % (video) and 9.7 % (audio) on random tiny weights,
        # about 1/8 and 1/7 of what another seed changes.
        assert error < 0.15, f"{name}: fp8 vs bf16 relative L2 error {error:.3f}"
        assert error < 0.2 * float((unrelated - want).norm() / want.norm())


def test_converted_single_files_give_the_same_clip(parts, tmp_path):
    import folder_paths

    from uniavgen_core.convert import convert

    folder = tmp_path / "diffusion_models"
    convert(tiny_checkpoint(), folder / "converted", dtype="fp32", video_fp8=False,
            vocab=tiny_checkpoint() / "vocab.txt")
    folder_paths.add_model_folder_path("diffusion_models", str(folder))
    converted = {
        "video_dit": run("UniAVGenLoadVideoDiT", dit_name="converted/uniavgen_video_fp32.safetensors",
                         weight_dtype="default")[0],
        "audio_dit": run("UniAVGenLoadAudioDiT", dit_name="converted/uniavgen_audio_fp32.safetensors",
                         weight_dtype="default")[0],
    }
    ref = reference(parts)
    sharded = run("UniAVGenSampler", reference_image=ref, **sampler_inputs(parts, steps=2))
    single = run("UniAVGenSampler", reference_image=ref, **sampler_inputs({**parts, **converted}, steps=2))
    assert torch.equal(sharded[0]["samples"], single[0]["samples"])
    assert torch.equal(sharded[1].mel, single[1].mel)
