"""Speech text -> ids: vocabulary file format, en/zh tokens, RAVG, padding, negatives."""

from __future__ import annotations

import sys

import pytest
import torch

from uniavgen_core.optional import MissingDependencyError
from uniavgen_core.random_models import ASCII_VOCAB
from uniavgen_core.text import MIN_TEXT_LEN, PAD_ID, SpeechIds, SpeechTextEncoder, Vocabulary, pad_ids

# The tokens these tests speak, in the release's format (pinyin with tone digits, full-width marks);
# the release's own vocabulary file is checked by the parity tier.
ZH_TOKENS = ("ni2", "hao3", "shi4", "jie4", "wo3", "ai4", "he2", "\uff0c", "\uff01")


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary(ASCII_VOCAB.entries + ZH_TOKENS)


@pytest.fixture(scope="module")
def encoder(vocab) -> SpeechTextEncoder:
    return SpeechTextEncoder(vocab)


def test_vocab_encodes_by_line_index(vocab):
    index = vocab.entries.index
    assert vocab.encode([" ", "a", "ni2", "hao3"]) == [0, index("a"), index("ni2"), index("hao3")]


def test_vocab_text_round_trip_and_crlf(vocab):
    text = vocab.to_text()
    assert Vocabulary.from_text(text) == vocab
    assert Vocabulary.from_text(text.replace("\n", "\r\n")) == vocab  # the release uses CRLF
    assert Vocabulary.from_text(text.encode("utf-8")) == vocab
    assert Vocabulary.from_text(text.rstrip("\n")) == vocab  # no trailing newline


def test_vocab_travels_in_safetensors_metadata(tmp_path, vocab):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from uniavgen_core.text import VOCAB_METADATA_KEY

    path = tmp_path / "audio_dit.safetensors"
    save_file({"w": torch.zeros(1)}, str(path), metadata={VOCAB_METADATA_KEY: vocab.to_text()})
    with safe_open(str(path), "pt") as handle:
        assert Vocabulary.from_text(handle.metadata()[VOCAB_METADATA_KEY]) == vocab


def test_vocab_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        Vocabulary.from_file(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="expects 2545"):
        Vocabulary.from_text(" \na\n").check_size()


def test_unknown_tokens_map_to_zero(encoder, vocab):
    ids = encoder.encode("a’b").positive.ids[0]  # curly apostrophe is not in the vocabulary
    assert ids[:3].tolist() == [vocab.encode("a")[0], 0, vocab.encode("b")[0]]
    assert vocab.encode(["", "not-a-token", "\u2603"]) == [0, 0, 0]


def test_pad_to_ten_counts_pads(encoder):
    short = encoder.encode("hi")
    assert short.positive.ids.shape == (1, MIN_TEXT_LEN)
    assert short.positive.ids[0, 2:].eq(PAD_ID).all()
    assert short.positive.lens.tolist() == [MIN_TEXT_LEN]
    exact = encoder.encode("x" * 12)
    assert exact.positive.ids.shape == (1, 12) and exact.positive.lens.tolist() == [12]


def test_empty_text(encoder):
    empty = encoder.encode("")
    assert empty.positive.ids.tolist() == [[PAD_ID] * 10] and empty.positive.lens.tolist() == [10]


def test_negative_without_reference(encoder):
    for language in ("en", "zh"):
        neg = encoder.encode("hello there", language).negative
        assert neg.ids.tolist() == [[0] + [PAD_ID] * 9] and neg.lens.tolist() == [10]


def test_ravg_english(encoder, vocab):
    out = encoder.encode("Hi there.", "en", reference_text="Ref text")
    assert list(out.tokens) == list("Ref text Hi there.")
    assert out.positive.ids[0].tolist() == vocab.encode("Ref text Hi there.")
    assert out.negative.ids[0].tolist() == vocab.encode("Ref text ") + [PAD_ID]  # 9 tokens -> 10
    assert out.negative.lens.tolist() == [10]


def test_ravg_chinese(encoder):
    out = encoder.encode("世界", "zh", reference_text="你好")
    assert list(out.tokens) == [" ", "ni2", " ", "hao3", " ", " ", "shi4", " ", "jie4"]
    neg = encoder.negative_tokens("zh", reference_text="你好")
    assert neg == [" ", "ni2", " ", "hao3", ""]  # the trailing "" adds one unknown id 0


def test_encode_for_task(encoder):
    avg = encoder.encode_for_task("Hello", "en", task_id=0, reference_text="ignored")
    assert "".join(avg.tokens) == "Hello"
    ravg = encoder.encode_for_task("Hello", "en", task_id=1, reference_text="Ref")
    assert "".join(ravg.tokens) == "Ref Hello"
    with pytest.raises(ValueError, match="transcript"):
        encoder.encode_for_task("Hello", "en", task_id=1)


def test_chinese_pinyin_and_punctuation(encoder):
    want = [" ", "ni2", " ", "hao3", "，", " ", "shi4", " ", "jie4", "！"]
    assert encoder.tokens("你好，世界！", "zh") == want
    # ASCII ';' becomes ',' and curly quotes become ASCII before segmentation.
    assert encoder.tokens("好;", "zh")[-1] == ","
    assert "\u201c" not in encoder.tokens("\u201c好\u201d", "zh")


def test_mixed_chinese_english(encoder):
    tokens = encoder.tokens("我爱Python和AI", "zh")
    assert "".join(tokens[tokens.index("P"):tokens.index("P") + 6]) == "Python"
    # multi-letter ASCII segments are separated from the preceding pinyin by a space
    assert tokens[tokens.index("P") - 1] == " "
    assert "ai4" in tokens and "he2" in tokens
    assert tokens[-2:] == ["A", "I"]


def test_very_long_text_still_encodes(encoder, caplog):
    text = "abc " * 1100  # 4400 characters > 4096 text positions
    with caplog.at_level("WARNING"):
        out = encoder.encode(text)
    assert out.positive.ids.shape == (1, 4400) and out.positive.lens.tolist() == [4400]
    assert "positions" in caplog.text


def test_batch_pads_with_minus_one():
    batch = SpeechIds.batch([pad_ids([1, 2, 3]), pad_ids(list(range(12)))])
    assert batch.ids.shape == (2, 12)
    assert batch.ids[0, 10:].tolist() == [PAD_ID, PAD_ID]
    assert batch.lens.tolist() == [10, 12]
    assert batch.ids.dtype == torch.long


def test_unsupported_language(encoder):
    with pytest.raises(ValueError, match="'en', 'zh'"):
        encoder.encode("bonjour", "fr")


def test_chinese_without_pypinyin_says_how_to_install(vocab, monkeypatch):
    monkeypatch.setitem(sys.modules, "pypinyin", None)
    fresh = SpeechTextEncoder(vocab)  # a converter that has not loaded pypinyin yet
    with pytest.raises(MissingDependencyError, match=r"pypinyin.*pip install pypinyin"):
        fresh.encode("你好", "zh")
    assert fresh.encode("hello", "en").positive.lens.tolist() == [10]  # English needs no pypinyin


def test_jieba_is_quiet(vocab, capfd):
    SpeechTextEncoder(vocab).tokens("今天天气不错", "zh")
    assert "prefix dict" not in capfd.readouterr().err
