"""Each task as a graph of the pack's nodes (tiny random DiT, stand-in umT5 and VAE) in-process."""

from __future__ import annotations

import torch

from helpers.node_graphs import AUDIO_SAMPLES, check_clip, decode, reference, sampler_inputs
from helpers.node_runner import HEIGHT, SHORT_SIDE, WIDTH, face_image, run, speech_audio
from uniavgen_tools.dev.tiny_sizes import FRAMES
from uniavgen_core.geometry import mel_frames


def test_avg_graph_makes_a_clip_with_speech(parts):
    video_latent, mel = run("UniAVGenSampler", reference_image=reference(parts), **sampler_inputs(parts))
    assert video_latent["samples"].shape == (1, 48, 5, HEIGHT // 16, WIDTH // 16)
    assert mel.mel.shape == (mel_frames(5), 80) == (106, 80) and mel.num_samples == AUDIO_SAMPLES
    frames, audio = decode(parts, video_latent, mel)
    check_clip(frames, audio)
    video = run("CreateVideo", images=frames, fps=16.0, audio=audio)[0]
    assert video.get_dimensions() == (WIDTH, HEIGHT)
    assert video.get_components().frame_rate == 16


def test_ravg_graph_uses_the_reference_voice(parts):
    voice = run("UniAVGenAudioToMel", audio=speech_audio(1.0), use_as="reference_voice")[0]
    assert voice.mel.shape == (130, 80)  # 1.0 s + 0.3 s of silence: 1 + (31200 + 784 - 1024) // 240
    inputs = sampler_inputs(parts, reference_text="This is my voice.")
    out_v, out_m = run("UniAVGenSampler", reference_image=reference(parts), reference_voice=voice, **inputs)
    plain_v, plain_m = run("UniAVGenSampler", reference_image=reference(parts), **sampler_inputs(parts))
    assert not torch.equal(out_m.mel, plain_m.mel)  # the voice conditions the speech
    check_clip(*decode(parts, out_v, out_m))


def test_a2v_graph_keeps_the_given_speech(parts):
    audio = speech_audio(0.8, rate=16000, channels=1)
    speech = run("UniAVGenAudioToMel", audio=audio, use_as="condition_audio")[0]
    out_v, out_m = run("UniAVGenSampler", reference_image=reference(parts), condition_audio=speech,
                       **sampler_inputs(parts))
    # A2V writes the condition mel back over the first frames of the generated mel (official).
    torch.testing.assert_close(out_m.mel[:speech.frames], speech.mel, rtol=0, atol=1e-6)
    check_clip(*decode(parts, out_v, out_m))


def test_v2a_graph_dubs_the_given_video(parts):
    frames_in = face_image(seed=3, frames=FRAMES + 4)  # 21 frames at 16 fps: trimmed to 17
    cond, ref, picked = run("UniAVGenConditionVideo", images=frames_in, vae=parts["vae"], fps=16.0,
                            length=FRAMES, short_side=SHORT_SIDE)
    assert picked.shape == (FRAMES, HEIGHT, WIDTH, 3) and cond["samples"].shape[2] == 5
    out_v, out_m = run("UniAVGenSampler", condition_video=cond, **sampler_inputs(parts))
    # V2A decodes exactly the condition video: its latents are written back (official).
    torch.testing.assert_close(out_v["samples"], cond["samples"], rtol=1e-5, atol=1e-5)
    check_clip(*decode(parts, out_v, out_m))
