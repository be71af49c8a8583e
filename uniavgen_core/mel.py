"""Waveform <-> normalised log-mel as the audio DiT sees it, plus frame counts.

As `mel_spectrogram` in MCG-NJU/Sora2-mini utils/mel_dataset.py, normalised as inference.py does.

Shapes: N = samples, B = batch, C = mel bins (80), T = mel frames.
The DiT's audio latent is the normalised mel [T, C]; the vocoder wants the natural-log mel
[B, C, T]. `MelSpectrogram` goes one way, `denormalise_mel` the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .mel_filters import mel_filterbank


@dataclass(frozen=True)
class MelConfig:
    """Mel analysis settings and the global normalisation of the audio DiT's latent space."""

    sample_rate: int = 24000
    n_fft: int = 1024
    hop_length: int = 240  # 100 frames/s at 24 kHz
    win_length: int = 1024  # periodic Hann
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float = 8000.0
    mel_scale: str = "slaney"  # "slaney" | "htk"
    filter_norm: str | None = "slaney"  # "slaney" (unit-area triangles) | None
    # "reflect": reflect-pad (n_fft - hop)//2 each side, then frames without centring (official);
    # "center": torch.stft(center=True, reflect) as torchaudio/Vocos do.
    padding: str = "reflect"
    magnitude_eps: float = 1e-9  # |X| = sqrt(re^2 + im^2 + eps)
    log_floor: float = 1e-5  # log(clamp(mel, floor))
    norm_mean: float = -5.1753  # latent = (log_mel - mean) / std
    norm_std: float = 2.1544

    def __post_init__(self) -> None:
        if self.padding not in ("reflect", "center"):
            raise ValueError(f"MelConfig.padding {self.padding!r} must be 'reflect' or 'center'")
        if self.norm_std <= 0:
            raise ValueError(f"MelConfig.norm_std must be > 0, got {self.norm_std}")

    @property
    def pad(self) -> int:
        return (self.n_fft - self.hop_length) // 2 if self.padding == "reflect" else self.n_fft // 2

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length


UNIAVGEN_MEL = MelConfig()
# Vocos `charactr/vocos-mel-24khz` features (torchaudio MelSpectrogram, power 1, HTK, no norm);
# only for audio DiTs trained on it: UniAVGen mels cannot be decoded by Vocos
# (80 slaney bins to 8 kHz at hop 240 against Vocos's 100 HTK bins to 12 kHz at hop 256).
VOCOS_MEL = MelConfig(hop_length=256, n_mels=100, f_max=12000.0, mel_scale="htk", filter_norm=None,
                      padding="center", magnitude_eps=0.0, log_floor=1e-7, norm_mean=0.0, norm_std=1.0)


def mel_frames(num_samples: int, config: MelConfig = UNIAVGEN_MEL) -> int:
    """Mel frames for N samples: 1 + floor((N + 2*pad - n_fft) / hop) (506 for 121,500 samples)."""
    return 1 + (num_samples + 2 * config.pad - config.n_fft) // config.hop_length


def mel_frames_for_latent_frames(latent_frames: int, fps: int = 16, temporal_stride: int = 4,
                                 config: MelConfig = UNIAVGEN_MEL) -> int:
    """Mel frames that cover F video latent frames: floor((4(F-1)+1) * 100/16) (21 -> 506)."""
    pixel_frames = temporal_stride * (latent_frames - 1) + 1
    return int(pixel_frames * config.sample_rate // (fps * config.hop_length))


def normalise_mel(log_mel: torch.Tensor, config: MelConfig = UNIAVGEN_MEL) -> torch.Tensor:
    """[..., C, T] natural-log mel -> [..., T, C] DiT latent."""
    return ((log_mel - config.norm_mean) / config.norm_std).transpose(-1, -2)


def denormalise_mel(mel: torch.Tensor, config: MelConfig = UNIAVGEN_MEL) -> torch.Tensor:
    """[..., T, C] DiT latent -> [..., C, T] natural-log mel (what a vocoder takes)."""
    return (mel * config.norm_std + config.norm_mean).transpose(-1, -2)


class MelSpectrogram:
    """Waveform -> log-mel with a fixed config; window and filterbank cached per device/dtype."""

    def __init__(self, config: MelConfig = UNIAVGEN_MEL) -> None:
        self.config = config
        self._tables: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    def _window_and_filters(self, device: torch.device,
                            dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        key = (device, dtype)
        if key not in self._tables:
            c = self.config
            window = torch.hann_window(c.win_length, periodic=True, device=device, dtype=dtype)
            fb = mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.f_min, c.f_max, c.mel_scale,
                                c.filter_norm)
            self._tables[key] = (window, torch.from_numpy(fb).to(device=device, dtype=dtype))
        return self._tables[key]

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """[N] or [B, N] waveform at config.sample_rate -> [C, T] or [B, C, T] natural-log mel."""
        c = self.config
        if waveform.dim() not in (1, 2):
            raise ValueError(f"waveform must be [N] or [B, N] (mono), got shape {tuple(waveform.shape)}")
        if not waveform.is_floating_point():
            raise TypeError(f"waveform must be floating point in [-1, 1], got {waveform.dtype}")
        single = waveform.dim() == 1
        x = waveform[None] if single else waveform
        if x.shape[-1] <= c.pad:
            raise ValueError(f"waveform of {x.shape[-1]} samples is too short for a mel "
                             f"({c.pad + 1} samples at least, {c.pad / c.sample_rate:.3f} s)")
        window, fb = self._window_and_filters(x.device, x.dtype)
        center = c.padding == "center"
        if not center:
            x = torch.nn.functional.pad(x[:, None], (c.pad, c.pad), mode="reflect")[:, 0]
        spec = torch.stft(x, c.n_fft, hop_length=c.hop_length, win_length=c.win_length, window=window,
                          center=center, pad_mode="reflect", normalized=False, onesided=True,
                          return_complex=True)
        magnitude = torch.sqrt(spec.real.square() + spec.imag.square() + c.magnitude_eps)  # [B, K, T]
        mel = torch.log(torch.clamp(torch.matmul(fb, magnitude), min=c.log_floor))
        return mel[0] if single else mel

    def __call__(self, waveform: torch.Tensor) -> torch.Tensor:
        """[N] or [B, N] waveform -> [T, C] or [B, T, C] normalised mel (the DiT latent)."""
        return normalise_mel(self.log_mel(waveform), self.config)
