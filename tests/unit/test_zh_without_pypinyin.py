"""Chinese speech text without pypinyin installed: a clear error that names the package and the fix."""

from __future__ import annotations

import sys

import pytest

from uniavgen_core.optional import MissingDependencyError
from uniavgen_core.text import SpeechTextEncoder, Vocabulary


@pytest.fixture
def no_pypinyin(monkeypatch):
    # A None entry in sys.modules makes `import pypinyin` raise ImportError, as when it is absent.
    monkeypatch.setitem(sys.modules, "pypinyin", None)


def test_chinese_text_without_pypinyin_names_the_package_and_the_fix(no_pypinyin):
    encoder = SpeechTextEncoder(Vocabulary(("_", " ", "a", "b")))
    with pytest.raises(MissingDependencyError) as info:
        encoder.encode("你好，世界", "zh")
    message = str(info.value)
    assert "Chinese speech text (pinyin conversion)" in message
    assert "'pypinyin'" in message and "pip install pypinyin" in message
    assert isinstance(info.value, ImportError)  # the sampler node turns ImportError into its own message


def test_english_text_does_not_need_pypinyin(no_pypinyin):
    encoder = SpeechTextEncoder(Vocabulary(("_", " ", "a", "b")))
    ids = encoder.encode("ab a", "en").positive
    assert ids.ids[0, :4].tolist() == [2, 3, 1, 2]
