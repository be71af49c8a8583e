"""Speaking-duration estimate used to warn about texts too long for one 5.06 s clip."""

from __future__ import annotations

import pytest

from uniavgen_core.speech_rate import (EN_CHARS_PER_SECOND, EN_MAX_CHARS_PER_SECOND, WINDOW_SECONDS,
                                       ZH_SYLLABLES_PER_SECOND, estimate_speech_seconds)

OFFICIAL_EN = "Over the past week, it has been raining nonstop, but the sun’s finally breaking through today!"


def test_english_rates():
    est = estimate_speech_seconds("a" * 30)
    assert est.seconds == pytest.approx(30 / EN_CHARS_PER_SECOND)
    assert est.min_seconds == pytest.approx(30 / EN_MAX_CHARS_PER_SECOND)
    assert estimate_speech_seconds("a  \n b").seconds == pytest.approx(3 / EN_CHARS_PER_SECOND)


def test_official_example_fits_and_long_text_does_not():
    assert not estimate_speech_seconds(OFFICIAL_EN).likely_too_long
    assert estimate_speech_seconds(OFFICIAL_EN * 2).likely_too_long
    zh = "你好，世界！今天天气不错；我们去公园散步。"
    assert estimate_speech_seconds(zh, "zh").likely_too_long is False
    assert estimate_speech_seconds("天" * 40, "zh").likely_too_long


def test_chinese_counts_syllables_and_ascii_words():
    est = estimate_speech_seconds("我爱AI", "zh")
    assert est.seconds == pytest.approx(2 / ZH_SYLLABLES_PER_SECOND + 2 / EN_CHARS_PER_SECOND)
    assert est.window_seconds == WINDOW_SECONDS == 5.06


def test_language_checked():
    with pytest.raises(ValueError, match="'en' or 'zh'"):
        estimate_speech_seconds("hola", "es")
