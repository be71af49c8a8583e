"""The Info node reports the dtype sampling really computes in on this device, not a guess."""

from __future__ import annotations

import re

import torch

from helpers.node_runner import DIT_FILE, run

from helpers.node_graphs import reference, sampler_inputs


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def _reported(text: str) -> tuple[torch.dtype, torch.dtype]:
    found = re.search(r"\| dtype (\w+) \(bf16 weights; fp8/GGUF: (\w+)\)", text)
    assert found, text
    return _dtype(found[1]), _dtype(found[2])


def _load(weight_dtype: str) -> tuple:
    return (run("UniAVGenLoadVideoDiT", dit_name=DIT_FILE, weight_dtype=weight_dtype)[0],
            run("UniAVGenLoadAudioDiT", dit_name=DIT_FILE, weight_dtype=weight_dtype)[0])


def test_info_reports_the_dtype_the_sampler_computes_in(parts):
    text = run("UniAVGenInfo")[0]
    assert text.startswith("UniAVGen pack ") and "device cpu" in text, text
    for_bf16, for_fp8 = _reported(text)
    video, audio = _load("bf16")   # the released checkpoint's weights
    seen: set[torch.dtype] = set()

    def record(module, args):
        seen.add(args[0].dtype)

    hooks = [video.model.patch_embedding.register_forward_pre_hook(record),
             audio.model.audio_embedding.register_forward_pre_hook(record)]
    try:
        run("UniAVGenSampler", reference_image=reference(parts),
            **{**sampler_inputs(parts, steps=1), "video_dit": video, "audio_dit": audio})
    finally:
        for hook in hooks:
            hook.remove()
    assert seen == {for_bf16}, (seen, text)   # what the DiTs' first layers were fed while sampling

    fp8_video, fp8_audio = _load("fp8_e4m3fn")
    assert fp8_video.model.compute_dtype == fp8_audio.model.compute_dtype == for_fp8


def test_info_reports_what_connected_dits_hold(parts):
    video, audio = _load("bf16")
    text = run("UniAVGenInfo", video_dit=video, audio_dit=parts["audio_dit"])[0]
    compute = str(video.model.compute_dtype).removeprefix("torch.")
    assert f"video DiT: weights bfloat16, computes in {compute}" in text, text
    stored = {p.dtype for p in parts["audio_dit"].model.parameters()}
    assert len(stored) == 1, stored
    held = str(stored.pop()).removeprefix("torch.")
    assert f"audio DiT: weights {held}, computes in " in text, text
    assert "audio DiT" not in run("UniAVGenInfo", video_dit=video)[0]


def test_info_follows_the_loaders_decision_when_comfyui_picks_another_dtype(parts, monkeypatch):
    """As on a GPU where ComfyUI picks a half dtype: Info and the loaders give the same answer."""
    import comfy.model_management as mm

    monkeypatch.setattr(mm, "unet_manual_cast", lambda *args, **kwargs: torch.float16)
    monkeypatch.setattr(mm, "unet_dtype", lambda *args, **kwargs: torch.bfloat16)
    for_bf16, for_fp8 = _reported(run("UniAVGenInfo")[0])
    assert (for_bf16, for_fp8) == (torch.float16, torch.bfloat16)
    assert _load("bf16")[0].model.compute_dtype == for_bf16
    assert _load("fp8_e4m3fn")[1].model.compute_dtype == for_fp8
