"""Property-based tests (Hypothesis) of the preparation nodes and the speech text (issue 19).

Any image size and aspect ratio, any audio length / rate / channel count / level, any Unicode text:
the real node either works within the pack's bounds or raises the named error (node, input, fix);
never a non-finite output, never a frame above the memory bound. Example counts stay modest (the
CPU is shared); the resize/encode path runs on small short sides so each example is quick.
"""

from __future__ import annotations

import importlib
import math
import resource

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers.node_runner import run, validate
from uniavgen_tools.dev.tiny_models import tiny_checkpoint
from uniavgen_tools.dev.stand_ins import VAE_NODE

pytestmark = pytest.mark.host

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# RSS high-water mark the whole module may reach (the process holds ComfyUI, torch and the tiny
# models, ~1.5 GB); a single over-sized frame or resample filter would pass it by gigabytes.
MAX_RSS_GB = 4.0


@pytest.fixture(scope="module")
def vae(stand_ins, pack):
    return run(VAE_NODE)[0]


def _frame_bytes_bound() -> int:
    from uniavgen_core.limits import MAX_ASPECT_RATIO, MAX_LONG_SIDE

    return int(MAX_LONG_SIDE * MAX_LONG_SIDE / MAX_ASPECT_RATIO) * 3 * 4


@PROPERTY
@given(short=st.integers(1, 80), long=st.integers(1, 6000), tall=st.booleans(),
       short_side=st.sampled_from([32, 64, 96, 100, 128]))
def test_reference_image_any_size_works_or_is_named(vae, short, long, tall, short_side):
    height, width = (long, short) if tall else (short, long)
    image = torch.rand(1, height, width, 3)
    try:
        latent, resized = run("UniAVGenReferenceImage", image=image, vae=vae, short_side=short_side)
    except ValueError as err:
        message = str(err)
        assert message.startswith("UniAVGen Reference Image: '"), message
        assert any(f in message for f in ("Use a larger image", "Crop the image", "Lower 'short_side'",
                                          "use e.g.")), message
        return
    _, out_h, out_w, _ = resized.shape
    assert out_h % 32 == 0 and out_w % 32 == 0 and min(out_h, out_w) == math.ceil(short_side / 32) * 32
    assert max(out_h, out_w) / min(out_h, out_w) <= 4.0 + 64 / min(out_h, out_w)  # rounding up to 32
    assert resized.numel() * 4 <= _frame_bytes_bound()
    assert torch.isfinite(resized).all() and torch.isfinite(latent["samples"]).all()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(width=st.integers(1, 10**6), height=st.integers(1, 10**6), short_side=st.integers(32, 2048))
def test_frame_size_rule_for_any_image_and_short_side(width, height, short_side):
    """The core rule alone, on sizes no test could allocate: bounded result or LimitError."""
    from uniavgen_core.limits import MAX_LONG_SIDE, LimitError, check_frame_size

    assume(short_side % 32 == 0)
    try:
        size = check_frame_size(width, height, short_side)
    except LimitError as err:
        assert err.problem.fix and err.problem.limit
        return
    assert max(size) <= MAX_LONG_SIDE and size.width % 32 == 0 and size.height % 32 == 0


LEVELS = [0.0, 1e-45, 1e-30, 1e-8, 1e-4, 1e-3, 0.5, 1.0, 3.0, 1e6, 1e30, math.inf, math.nan]


@PROPERTY
@given(samples=st.integers(0, 60_000), rate=st.one_of(st.integers(1, 1_000_000),
                                                      st.sampled_from([8000, 16000, 22050, 24000, 44100])),
       channels=st.integers(1, 24), level=st.sampled_from(LEVELS),
       use_as=st.sampled_from(["reference_voice", "condition_audio"]))
def test_audio_to_mel_any_audio_works_or_is_named(pack, samples, rate, channels, level, use_as):
    gen = torch.Generator().manual_seed(samples + channels)
    wave = (torch.rand(1, channels, samples, generator=gen) * 2 - 1) * level if samples else \
        torch.zeros(1, channels, 0)
    if level == 0.0 or not math.isfinite(level):
        wave = torch.full((1, channels, samples), level)
    audio = {"waveform": wave.float(), "sample_rate": rate}
    try:
        (mel,) = run("UniAVGenAudioToMel", audio=audio, use_as=use_as)
    except ValueError as err:
        message = str(err)
        assert message.startswith("UniAVGen Audio To Mel: 'audio'"), message
        assert any(f in message for f in ("connect a recording of speech", "Re-export the audio",
                                          "Connect a mono or stereo", "Trim it to",
                                          "Connect an audible recording",
                                          "Connect a longer recording")), message
        return
    assert mel.mel.ndim == 2 and mel.mel.shape[1] == 80 and mel.frames > 0
    assert torch.isfinite(mel.mel).all()
    assert 4000 <= rate <= 384_000 and channels <= 16 and samples / rate <= 20.07


@pytest.fixture(scope="module")
def vocabulary():
    from uniavgen_core.text import Vocabulary

    return Vocabulary.from_file(tiny_checkpoint() / "vocab.txt")  # the tiny models' ASCII vocabulary


@PROPERTY
@given(text=st.text(max_size=300), language=st.sampled_from(["en", "zh"]))
def test_speech_text_any_unicode_works_or_is_named(pack, vocabulary, text, language):
    checked = validate("UniAVGenSpeechText", text=text, language=language)
    try:
        speech, info = run("UniAVGenSpeechText", text=text, language=language, reference_text="")
    except ValueError as err:
        message = str(err)
        assert message.startswith("UniAVGen Speech Text: 'text'"), message
        assert any(f in message for f in ("Type the words", "Set 'language'", "Type the words in letters",
                                          "Shorten it")), message
        assert checked is not True  # the widget check already said so
        return
    assert checked is True
    assert "nan" not in info and "inf " not in info
    seconds = float(info.split("about ")[1].split(" s")[0])
    assert math.isfinite(seconds) and seconds >= 0
    # the sampler's exact check with a model's vocabulary: passes, or the named refusal
    task_inputs = importlib.import_module(pack.__name__ + ".nodes.task_inputs")
    encoder = task_inputs.SpeechTextEncoder(vocabulary)
    try:
        task_inputs.check_vocabulary(encoder, speech.text, language)
    except ValueError as err:
        assert str(err).startswith("UniAVGen Speech Text: 'text' has nothing the model can say"), str(err)
        return
    ids = encoder.encode(speech.text, language).positive.ids
    assert int(ids.min()) >= -1 and int(ids.max()) < len(vocabulary)


def test_memory_stayed_bounded():
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    assert peak_gb < MAX_RSS_GB, f"peak RSS {peak_gb:.2f} GB"
