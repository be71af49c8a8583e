"""Audio files through PyAV: wav/flac round trips, any-rate stereo in -> mono 24 kHz out."""

from __future__ import annotations

import pytest
import torch

from helpers.speech import peak_frequency, sine
from uniavgen_core.audio_io import decode_audio, read_audio, write_audio

LSB = 1 / 32767  # 16-bit quantisation step


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_round_trip_mono_24k(tmp_path, suffix):
    noise = torch.randn(18000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    # Stay inside [-1, 1]: clipped samples would not round-trip and are not what this test is about.
    wav = (sine(440.0, 24000, 0.75, amplitude=0.8) + 0.05 * noise).clamp(-0.95, 0.95).float()
    path = write_audio(tmp_path / f"speech{suffix}", wav)
    assert path.stat().st_size > 1000
    back = read_audio(path)
    assert back.shape == wav.shape and back.dtype == torch.float32
    torch.testing.assert_close(back, wav, rtol=0, atol=1.5 * LSB)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_stereo_44k_reads_as_mono_24k(tmp_path, suffix):
    left = sine(1000.0, 44100, 1.0, amplitude=0.6).float()
    stereo = torch.stack([left, 0.5 * left])
    path = write_audio(tmp_path / f"stereo{suffix}", stereo, sample_rate=44100)
    raw, rate = decode_audio(path)
    assert rate == 44100 and raw.shape == (2, 44100)
    torch.testing.assert_close(raw, stereo, rtol=0, atol=1.5 * LSB)
    mono = read_audio(path)
    assert mono.shape == (24000,)
    freq, bin_hz = peak_frequency(mono, 24000)
    assert abs(freq - 1000.0) <= bin_hz
    assert float(mono[2400:-2400].abs().max()) == pytest.approx(0.45, rel=0.01)  # mean of 0.6 and 0.3


def test_write_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\.wav or \.flac"):
        write_audio(tmp_path / "x.mp3", torch.zeros(10))
    with pytest.raises(ValueError, match="channels"):
        write_audio(tmp_path / "x.wav", torch.zeros(3, 10))
    with pytest.raises(FileNotFoundError):
        read_audio(tmp_path / "missing.wav")
