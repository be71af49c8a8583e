"""Speech text, reference image, condition video and audio-to-mel nodes on their own."""

from __future__ import annotations

import pytest
import torch

from helpers.node_runner import HEIGHT, WIDTH, face_image, run, speech_audio, validate
from uniavgen_tools.dev.tiny_sizes import FRAMES
from uniavgen_tools.dev.stand_ins import VAE_NODE


@pytest.fixture(scope="module")
def vae(stand_ins, pack):
    return run(VAE_NODE)[0]


def test_speech_text_reports_fit_and_warns_when_too_long(pack):
    speech, info = run("UniAVGenSpeechText", text="  Hello there.  ", language="en", reference_text="")
    assert speech.text == "Hello there." and speech.language == "en" and speech.reference_text == ""
    assert info.startswith("about 0.8 s of speech for a 5.06 s clip")
    long_text = "This sentence is far too long to be spoken in a single five second window. " * 3
    _, warning = run("UniAVGenSpeechText", text=long_text, language="en", reference_text="")
    assert (
        warning.startswith("WARNING: about 14.9 s of speech (at least 11.2 s")
        and "will not fit a 5.06 s clip" in warning
    )
    assert validate("UniAVGenSpeechText", text="   ", language="en") == (
        "UniAVGen Speech Text: 'text' is empty. Type the words the person should say."
    )


def test_reference_image_follows_the_resize_rule(vae):
    image = torch.rand(1, 100, 150, 3)  # short side 100 -> 64; long side 96 exactly
    latent, resized = run("UniAVGenReferenceImage", image=image, vae=vae, short_side=64)
    assert resized.shape == (1, 64, 96, 3)
    assert latent["samples"].shape == (1, 48, 1, 4, 6)
    odd = torch.rand(1, 70, 111, 3)  # 70 -> 64, 111 * 64/70 = 101.5 -> rounded up to 128 (ceil32)
    assert run("UniAVGenReferenceImage", image=odd, vae=vae, short_side=64)[1].shape == (1, 64, 128, 3)


def test_reference_image_refuses_a_batch_and_tiny_images(vae):
    with pytest.raises(ValueError, match="'image' holds 2 images"):
        run("UniAVGenReferenceImage", image=face_image(frames=2), vae=vae, short_side=64)
    with pytest.raises(ValueError, match="'image' is 20x16 pixels; at least 32 px"):
        run("UniAVGenReferenceImage", image=torch.rand(1, 16, 20, 3), vae=vae, short_side=64)


def test_condition_video_resamples_30fps_to_16fps(vae):
    frames = torch.arange(40, dtype=torch.float32)[:, None, None, None].expand(40, HEIGHT, WIDTH, 3) / 40
    cond, ref, picked = run(
        "UniAVGenConditionVideo", images=frames.contiguous(), vae=vae, fps=30.0, length=FRAMES, short_side=64
    )
    # frame i of the 16 fps clip is source frame floor(i * 30 / 16)
    expected = torch.tensor([int(i * 30 / 16) for i in range(FRAMES)], dtype=torch.float32) / 40
    torch.testing.assert_close(picked[:, 0, 0, 0], expected)
    assert cond["samples"].shape == (1, 48, 5, 4, 6)
    assert torch.equal(ref["samples"], cond["samples"][:, :, :1])


def test_condition_video_too_short_or_bad_length(vae):
    with pytest.raises(ValueError, match=r"gives 10 frames at 16 fps; the clip needs 17"):
        run(
            "UniAVGenConditionVideo",
            images=face_image(frames=10),
            vae=vae,
            fps=16.0,
            length=FRAMES,
            short_side=64,
        )
    with pytest.raises(ValueError, match="'length' 18 is not 4k\\+1"):
        run(
            "UniAVGenConditionVideo",
            images=face_image(frames=20),
            vae=vae,
            fps=16.0,
            length=18,
            short_side=64,
        )


def test_audio_to_mel_resamples_to_24k_mono(pack):
    mel = run(
        "UniAVGenAudioToMel", audio=speech_audio(0.5, rate=44100, channels=2), use_as="condition_audio"
    )[0]
    assert mel.mel.shape == (50, 80) and mel.num_samples == 12000  # 1 + (12000 + 784 - 1024) // 240
    assert mel.role.value == "condition_audio" and mel.mel.dtype == torch.float32


@pytest.mark.parametrize("bad", ["silent", "nan", "batch"])
def test_audio_to_mel_refuses_unusable_audio(pack, bad):
    audio = speech_audio(0.5)
    if bad == "silent":
        audio["waveform"] = torch.zeros_like(audio["waveform"])
    elif bad == "nan":
        audio["waveform"][0, 0, 100] = float("nan")
    else:
        audio["waveform"] = audio["waveform"].repeat(2, 1, 1)
    with pytest.raises(ValueError, match="UniAVGen Audio To Mel: 'audio'"):
        run("UniAVGenAudioToMel", audio=audio, use_as="reference_voice")
