"""The sampler node: the core sampler's result on the native path; errors; interruption."""

from __future__ import annotations

import pytest
import torch

from helpers.node_runner import run, speech_audio, validate
from uniavgen_tools.dev.tiny_sizes import FRAMES
from uniavgen_tools.dev.tiny_models import tiny_checkpoint
from uniavgen_core.sampler import SamplerSettings, sample
from uniavgen_core.tasks import Task, TaskInputs
from uniavgen_core.text import SpeechTextEncoder, Vocabulary

from helpers.node_graphs import reference, sampler_inputs, steps_before_stop

STEPS = 3


def test_sampler_node_equals_a_direct_core_call(pack, parts):
    import importlib

    import comfy.latent_formats

    caption_context = importlib.import_module(f"{pack.__name__}.nodes.caption").caption_context

    ref = reference(parts)
    inputs = sampler_inputs(parts, seed=11, batched_cfg=False)
    video_latent, mel = run("UniAVGenSampler", reference_image=ref, **inputs)

    fmt = comfy.latent_formats.Wan22()
    texts = SpeechTextEncoder(Vocabulary.from_file(tiny_checkpoint() / "vocab.txt")).encode(
        "Hello there, nice to meet you.", "en")
    direct_inputs = TaskInputs(
        task=Task.AVG,
        speech_ids=texts.positive.ids[0], speech_len=int(texts.positive.lens[0]),
        neg_speech_ids=texts.negative.ids[0], neg_speech_len=int(texts.negative.lens[0]),
        t5_context=caption_context(parts["positive"]).float(),
        t5_negative=caption_context(parts["negative"]).float(),
        ref_latent=fmt.process_in(ref["samples"].float()), latent_frames=5)
    settings = SamplerSettings(steps=STEPS, seed=11, slg_layer=1)
    with torch.inference_mode():
        direct = sample(parts["video_dit"].model, parts["audio_dit"].model, direct_inputs, settings)
    # The node runs on the native path (ComfyUI's euler in sigma space): the core's run up to float32
    # rounding (measured 6e-6 video / 3e-6 mel); the native graph gives its output bit for bit
    # (test_native_graph.py).
    ev = (video_latent["samples"] - fmt.process_out(direct.decode_video.float())).abs().max().item()
    ea = (mel.mel - direct.decode_audio[0].float()).abs().max().item()
    assert ev <= 1e-4 and ea <= 1e-4, (ev, ea)


def test_batched_cfg_matches_sequential(parts):
    ref = reference(parts)
    batched = run("UniAVGenSampler", reference_image=ref, **sampler_inputs(parts, batched_cfg=True))
    sequential = run("UniAVGenSampler", reference_image=ref, **sampler_inputs(parts, batched_cfg=False))
    torch.testing.assert_close(batched[0]["samples"], sequential[0]["samples"], rtol=0, atol=1e-4)
    torch.testing.assert_close(batched[1].mel, sequential[1].mel, rtol=0, atol=1e-4)


def test_interrupt_stops_within_one_step(parts):
    def start():
        run("UniAVGenSampler", reference_image=reference(parts), **sampler_inputs(parts, steps=10))

    # the flag set during step 2 stops sampling before step 3 reports
    assert steps_before_stop(start, stop_at=2) == [1, 2]


def test_progress_reports_every_step(parts):
    import comfy.utils

    seen: list[tuple[int, int]] = []

    def hook(value, total, preview, node_id=None):
        seen.append((value, total))

    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        run("UniAVGenSampler", reference_image=reference(parts), **sampler_inputs(parts, steps=4))
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


@pytest.mark.parametrize(("change", "message"), [
    ({"steps": 0}, "'steps' is 0"),
    ({"shift": 0.0}, "'shift' is 0.0"),
    ({"video_cfg": -1.0}, "'video_cfg' is -1.0"),
    ({"macfg_fraction": 1.5}, "'macfg_fraction' is 1.5"),
    ({"length": 80}, "'length' is 80; it must be 4k+1"),
    ({"slg_layer": -3}, "'slg_layer' is -3"),
])
def test_validate_inputs_names_the_input_and_value(pack, change, message):
    values = dict(steps=50, shift=5.0, video_cfg=3.0, audio_cfg=2.0, macfg_fraction=0.5, slg_layer=11,
                  length=81)
    values.update(change)
    result = validate("UniAVGenSampler", **values)
    assert isinstance(result, str) and result.startswith("UniAVGen Sampler: ") and message in result


def test_missing_conditions_give_the_designed_errors(parts):
    ref = reference(parts)
    with pytest.raises(ValueError, match="'reference_image' is not connected"):
        run("UniAVGenSampler", **sampler_inputs(parts))
    voice = run("UniAVGenAudioToMel", audio=speech_audio(1.0), use_as="reference_voice")[0]
    with pytest.raises(ValueError, match="'reference_text' is empty"):
        run("UniAVGenSampler", reference_image=ref, reference_voice=voice, **sampler_inputs(parts))
    with pytest.raises(ValueError, match="'condition_audio' got a mel made for 'reference_voice'"):
        run("UniAVGenSampler", reference_image=ref, condition_audio=voice, **sampler_inputs(parts))
    with pytest.raises(ValueError, match="reference_voice and condition_audio are connected together"):
        run("UniAVGenSampler", reference_image=reference(parts), reference_voice=voice, condition_audio=voice,
            **sampler_inputs(parts))
    with pytest.raises(ValueError, match="'slg_layer' is 40 but the model has"):
        run("UniAVGenSampler", reference_image=reference(parts), **sampler_inputs(parts, slg_layer=40))


def test_condition_audio_longer_than_the_clip_is_refused(parts):
    long_speech = run("UniAVGenAudioToMel", audio=speech_audio(2.0), use_as="condition_audio")[0]
    with pytest.raises(ValueError, match="UniAVGen Sampler: ") as err:
        run("UniAVGenSampler", reference_image=reference(parts), condition_audio=long_speech,
            **sampler_inputs(parts))
    assert f"{FRAMES}" in str(err.value) or "frames" in str(err.value)


def test_zeroed_negative_caption_is_accepted(parts):
    zeroed = run("ConditioningZeroOut", conditioning=parts["negative"])[0]
    video_latent, mel = run("UniAVGenSampler", reference_image=reference(parts),
                            **{**sampler_inputs(parts, steps=2), "negative": zeroed})
    assert torch.isfinite(video_latent["samples"]).all() and torch.isfinite(mel.mel).all()


def test_text_encoder_and_vae_are_not_resident_while_sampling(parts):
    import comfy.model_management as mm
    import comfy.utils

    ref = reference(parts)  # uses the VAE: it is loaded now
    assert any(loaded.model is parts["vae"].patcher for loaded in mm.current_loaded_models)
    resident: list[set[str]] = []

    def hook(value, total, preview, node_id=None):
        resident.append({type(loaded.model.model).__name__ for loaded in mm.current_loaded_models})

    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        run("UniAVGenSampler", reference_image=ref, **sampler_inputs(parts, steps=2))
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
    # only the two DiTs, which sample as one native model (UniAVGen Model)
    assert resident and all(names == {"UniAVGenNativeModel"} for names in resident), resident
