"""Preprocessing parity with the official code (golden `preprocess` entry, driven by the manifest):
rescaled waveform, reference silence, raw and normalised mel, en/zh character ids; and the speech
ids the forward/sampler goldens were run with (`inputs` entry)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from helpers.speech import reference_vocab_path
from uniavgen_core.mel import MelSpectrogram, mel_frames
from uniavgen_core.text import SpeechTextEncoder, Vocabulary
from uniavgen_core.waveform import append_reference_silence, rescale_volume

MEL_ATOL = 1e-4


@pytest.fixture(scope="module")
def manifest(golden):
    return json.loads((golden / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def entry(manifest):
    return manifest["preprocess"]


@pytest.fixture(scope="module")
def tensors(golden, entry):
    return load_file(str(golden / entry["file"]))


@pytest.fixture(scope="module")
def encoder():
    return SpeechTextEncoder(Vocabulary.from_file(reference_vocab_path()))


def test_waveform_preparation(tensors, entry):
    rescaled = rescale_volume(tensors["wav_in"])
    torch.testing.assert_close(rescaled, tensors["wav_rescaled"], rtol=0, atol=1e-6)
    with_silence = append_reference_silence(rescaled.double(), entry["sample_rate"])
    torch.testing.assert_close(with_silence, tensors["ref_wav_with_silence"], rtol=0, atol=1e-6)


def test_mel_raw_and_normalised(tensors):
    wav = tensors["ref_wav_with_silence"].float()  # the official mel input (manifest: ref_audio, mel)
    spec = MelSpectrogram()
    log_mel = spec.log_mel(wav[None])
    want = tensors["mel_log"]
    assert log_mel.shape == want.shape and want.shape[-1] == mel_frames(wav.shape[0])
    raw_err = float((log_mel - want).abs().max())
    norm = spec(wav)
    assert norm.shape == tensors["mel_normalised_TxC"].shape
    norm_err = float((norm - tensors["mel_normalised_TxC"]).abs().max())
    print(f"mel max-abs error: log {raw_err:.3g}, normalised {norm_err:.3g}")
    assert raw_err <= MEL_ATOL and norm_err <= MEL_ATOL


def test_english_ids(tensors, entry, encoder):
    out = encoder.encode(entry["en_text"], "en")
    assert torch.equal(out.positive.ids, tensors["en_ids"])
    assert out.positive.lens.tolist() == [tensors["en_ids"].shape[1]]


def test_chinese_tokens_and_ids(tensors, entry, encoder):
    out = encoder.encode(entry["zh_text"], "zh")
    assert list(out.tokens) == entry["zh_chars"]
    assert torch.equal(out.positive.ids, tensors["zh_ids"])


def test_vocab_size_matches_manifest(entry):
    assert len(Vocabulary.from_file(reference_vocab_path())) == entry["vocab_size"]


def test_forward_inputs_speech_ids(golden, manifest, encoder):
    inputs = manifest["inputs"]
    meta, data = inputs["meta"], load_file(str(golden / inputs["file"]))
    plain = encoder.encode(meta["speech_content"], meta["lang"])
    ravg = encoder.encode(meta["speech_content"], meta["lang"], reference_text=meta["ref_speech_content"])
    for got, prefix in ((plain, ""), (ravg, "ravg_")):
        assert torch.equal(got.positive.ids, data[f"{prefix}text_ids"])
        assert torch.equal(got.positive.lens, data[f"{prefix}text_lens"])
        assert torch.equal(got.negative.ids, data[f"{prefix}neg_text_ids"])
        assert torch.equal(got.negative.lens, data[f"{prefix}neg_text_lens"])


def test_reference_vocabulary_layout():
    vocab = Vocabulary.from_file(reference_vocab_path())
    vocab.check_size()  # the release's 2545 entries
    assert vocab.entries[0] == " "
    index = vocab.entries.index
    assert vocab.encode([" ", "a", "ni2", "hao3"]) == [0, index("a"), index("ni2"), index("hao3")]
