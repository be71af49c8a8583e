"""The core's bounds and speakability rules (issue 19): values, messages, and non-finite guards."""

from __future__ import annotations

import math

import pytest
import torch

from uniavgen_core import limits
from uniavgen_core.limits import LimitError, check_audio_shape, check_frame_size, check_peak, check_windows
from uniavgen_core.sampler import NonFiniteError, SamplerSettings, non_finite_cause
from uniavgen_core.speakable import UnspeakableText, require_speakable, script_coverage, vocab_coverage
from uniavgen_core.waveform import prepare_speech, rescale_volume


def test_extreme_aspect_ratio_is_refused_before_resizing():
    with pytest.raises(LimitError) as err:
        check_frame_size(20000, 33, 736)
    assert "aspect ratio of 606.1:1" in str(err.value) and "Crop the image" in str(err.value)


def test_long_side_bound_suggests_a_short_side_that_fits():
    with pytest.raises(LimitError) as err:
        check_frame_size(4000, 1000, 2048)
    fix = err.value.problem.fix
    smaller = int(fix.split("to ")[1].split(" ")[0])
    assert max(check_frame_size(4000, 1000, smaller)) <= limits.MAX_LONG_SIDE


def test_official_sizes_pass():
    assert check_frame_size(1280, 736, 720) == (1280, 736)
    assert check_frame_size(768, 1024, 720) == (736, 992)


@pytest.mark.parametrize(
    "channels, samples, rate, fragment",
    [
        (1, 24000, 1, "sample rate of 1 Hz"),
        (1, 24000, 10**7, "sample rate of 10000000 Hz"),
        (40, 24000, 24000, "has 40 channels"),
        (1, 24000 * 60, 24000, "lasts 60.00 s"),
    ],
)
def test_audio_bounds(channels, samples, rate, fragment):
    with pytest.raises(LimitError, match=fragment):
        check_audio_shape(channels, samples, rate, max_seconds=12.0, role="reference voice")


def test_near_silent_audio_is_refused_not_divided_into_inf():
    with pytest.raises(LimitError, match="near-silent"):
        rescale_volume(torch.full((100,), 1e-45))
    with pytest.raises(LimitError, match="near-silent"):
        prepare_speech(torch.full((2, 2400), 3e-5), 24000)
    check_peak(limits.MIN_PEAK)
    out = rescale_volume(torch.full((100,), 2 * limits.MIN_PEAK))
    assert torch.isfinite(out).all()


def test_windows_bound():
    check_windows(limits.MAX_WINDOWS)
    with pytest.raises(LimitError, match=f"needs {limits.MAX_WINDOWS + 1} windows"):
        check_windows(limits.MAX_WINDOWS + 1)


def test_every_schema_seed_is_accepted():
    for seed in (0, 1, 2**63, 2**64 - 1):
        SamplerSettings(seed=seed)


def test_emoji_and_chinese_under_en_are_reported():
    coverage = script_coverage("Hi 😀 there 你好", "en")
    assert coverage.unknown_count == 3 and coverage.suggested_language == "zh"
    text = coverage.describe()
    assert (
        "3 characters cannot be spoken" in text
        and "GRINNING FACE" in text
        and "set 'language' to 'zh'" in text
    )


def test_nothing_speakable_is_refused():
    for text, language in (("😀😀 🎉", "en"), ("你好世界", "en"), ("\u200d\ue000", "zh")):
        with pytest.raises(UnspeakableText):
            require_speakable(script_coverage(text, language))
    require_speakable(script_coverage("你好世界", "zh"))
    require_speakable(script_coverage("Привет", "en"))  # Cyrillic is in the released vocabulary


def test_vocab_coverage_counts_unknown_tokens():
    vocab = {" ", "a", "b"}
    coverage = vocab_coverage("ab x", list("ab x"), vocab.__contains__, "en")
    assert coverage.unknown == ("x",) and coverage.spoken == 2
    with pytest.raises(UnspeakableText):
        require_speakable(vocab_coverage("xyz", list("xyz"), vocab.__contains__, "en"))


def test_non_finite_cause_names_weights_then_inputs():
    bad = torch.nn.Linear(2, 2)
    with torch.no_grad():
        bad.weight[0, 0] = math.nan
    good = torch.nn.Linear(2, 2)

    class Inputs:
        t5_context = torch.zeros(2, 4)
        t5_negative = torch.zeros(2, 4)
        ref_latent = torch.full((1, 1), math.inf)
        cond_latent = ref_mel = cond_mel = None

    assert "weight tensors of the video DiT hold NaN/inf (e.g. weight)" in non_finite_cause(bad, good, Inputs)
    assert "conditioning holds NaN/inf (reference_image)" in non_finite_cause(good, good, Inputs)
    Inputs.ref_latent = torch.zeros(1, 1)
    assert "overflowed" in non_finite_cause(good, good, Inputs)
    assert issubclass(NonFiniteError, ValueError)


def test_pinyin_the_vocabulary_lacks_is_reported_as_itself():
    # Chinese text under a vocabulary without pinyin (e.g. an ASCII one): tokens like 'ni3' are
    # several characters long and must be described, not passed to unicodedata.name
    tokens = [" ", "ni3", " ", "hao3", " ", "o", "k"]
    coverage = vocab_coverage("你好 ok", tokens, {" ", "o", "k"}.__contains__, "zh")
    assert coverage.unknown_count == 2 and coverage.spoken == 2
    assert "'ni3'" in coverage.describe() and "'hao3'" in coverage.describe()
