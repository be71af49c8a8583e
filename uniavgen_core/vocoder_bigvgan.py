"""The BigVGAN vocoder backend: UniAVGen's vocoder as released (Qwen2.5-Omni code2wav, via transformers).

Shapes: B = batch, T = mel frames, C = mel bins, N = samples (= hop * T).
The interface (decode / decode_log_mel) is `vocoder_base.Vocoder`; the backend registers itself.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from .mel import UNIAVGEN_MEL, MelConfig
from .optional import MissingDependencyError
from .vocoder_base import Vocoder, check_weights, resolve_dtype
from .vocoder_files import VocoderLoadError
from .vocoder_registry import VocoderBackend, register
from .weights import strip_prefix

log = logging.getLogger(__name__)

BIGVGAN_MODEL_TYPE = "qwen2_5_omni_bigvgan"
RELEASED_FOLDER = "code2wav_bigvgan_model"
# Prefixes under which the same weights appear in larger checkpoints (Qwen2.5-Omni's token2wav).
KNOWN_PREFIXES = ("token2wav.code2wav_bigvgan_model.", "code2wav_bigvgan_model.")


@dataclass(frozen=True)
class BigVGANSettings:
    """`Qwen2_5OmniBigVGANConfig` fields (defaults = the released 115.4 M-parameter vocoder)."""

    mel_dim: int = 80
    upsample_initial_channel: int = 1536
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    upsample_rates: tuple[int, ...] = (5, 3, 2, 2, 2, 2)  # product 240 = the mel hop
    upsample_kernel_sizes: tuple[int, ...] = (11, 7, 4, 4, 4, 4)

    @property
    def hop_length(self) -> int:
        return math.prod(self.upsample_rates)

    @classmethod
    def from_dict(cls, config: dict) -> "BigVGANSettings":
        """From config.json (extra transformers keys are ignored; model_type is checked)."""
        model_type = config.get("model_type", BIGVGAN_MODEL_TYPE)
        if model_type != BIGVGAN_MODEL_TYPE:
            raise VocoderLoadError(f"vocoder config has model_type {model_type!r}, expected "
                                   f"{BIGVGAN_MODEL_TYPE!r} (Qwen2.5-Omni code2wav BigVGAN)")
        known = {f: config[f] for f in cls.__dataclass_fields__ if f in config}
        for name in ("resblock_kernel_sizes", "upsample_rates", "upsample_kernel_sizes"):
            if name in known:
                known[name] = tuple(int(v) for v in known[name])
        if "resblock_dilation_sizes" in known:
            dilations = known["resblock_dilation_sizes"]
            known["resblock_dilation_sizes"] = tuple(tuple(int(v) for v in d) for d in dilations)
        return cls(**known)

    def to_dict(self) -> dict:
        return {"model_type": BIGVGAN_MODEL_TYPE, **asdict(self)}


def _bigvgan_classes():
    try:
        from transformers.models.qwen2_5_omni import modeling_qwen2_5_omni as modeling
    except ImportError as exc:
        raise MissingDependencyError(
            "The BigVGAN vocoder needs transformers >= 4.52 (Qwen2.5-Omni); install it with: "
            f"pip install -U transformers ({exc})") from exc
    names = ("Qwen2_5OmniToken2WavBigVGANModel", "Qwen2_5OmniBigVGANConfig")
    if not all(hasattr(modeling, n) for n in names):
        raise MissingDependencyError("this transformers version has no Qwen2_5OmniToken2WavBigVGANModel: "
                                     "install a version that has it (4.52 - 5.x)")
    return modeling.Qwen2_5OmniToken2WavBigVGANModel, modeling.Qwen2_5OmniBigVGANConfig


def _construct(settings: BigVGANSettings) -> nn.Module:
    model_cls, config_cls = _bigvgan_classes()
    return model_cls(config_cls(**{k: v for k, v in settings.to_dict().items() if k != "model_type"}))


def _fill_meta_buffers(model: nn.Module, settings: BigVGANSettings, device: torch.device) -> None:
    """Non-persistent buffers (the anti-alias filters) are not in the weights; after a meta-device
    build they are copied from a narrow CPU twin with the same module tree (they do not depend on
    the channel count)."""
    meta = [name for name, buf in model.named_buffers() if buf.is_meta]
    if not meta:
        return
    twin = _construct(replace(settings, upsample_initial_channel=2 ** len(settings.upsample_rates)))
    twin_buffers = dict(twin.named_buffers())
    for name in meta:
        owner_name, _, leaf = name.rpartition(".")
        owner = model.get_submodule(owner_name)
        source = twin_buffers[name]
        if source.shape != getattr(owner, leaf).shape:
            raise RuntimeError(f"buffer {name} depends on the channel count; cannot rebuild it")
        owner.register_buffer(leaf, source.to(device), persistent=False)


class BigVGANVocoder(Vocoder):
    """UniAVGen's vocoder: normalised 80-bin mel -> 24 kHz waveform (240 samples per frame)."""

    backend = "bigvgan"

    def __init__(self, model: nn.Module, settings: BigVGANSettings,
                 mel_config: MelConfig = UNIAVGEN_MEL) -> None:
        if settings.mel_dim != mel_config.n_mels or settings.hop_length != mel_config.hop_length:
            raise VocoderLoadError(
                f"BigVGAN config (mel_dim {settings.mel_dim}, hop {settings.hop_length}) does not fit the "
                f"mel config ({mel_config.n_mels} bins, hop {mel_config.hop_length}) of UniAVGen's audio "
                "DiT: it decodes another model's mels. Use the BigVGAN released with UniAVGen "
                "(code2wav_bigvgan_model)")
        super().__init__(model, mel_config)
        self.settings = settings

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor], settings: BigVGANSettings,
                        device: torch.device | str = "cpu", dtype: torch.dtype | None = None,
                        origin: str = "state dict") -> "BigVGANVocoder":
        """Strict load; built on the meta device so RAM holds the weights about once."""
        device = torch.device(device)
        with torch.device("meta"):
            model = _construct(settings)
        state = strip_prefix(state_dict, KNOWN_PREFIXES, f"{origin} (BigVGAN vocoder)")
        check_weights(model, state, origin, "BigVGAN")
        model.load_state_dict(state, strict=True, assign=True)
        _fill_meta_buffers(model, settings, device)
        model = model.to(device=device, dtype=resolve_dtype(device, dtype)).eval().requires_grad_(False)
        return cls(model, settings)

    @classmethod
    def random(cls, settings: BigVGANSettings, seed: int = 0,
               dtype: torch.dtype = torch.float32) -> "BigVGANVocoder":
        """Randomly initialised (tests and benchmarks)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = _construct(settings)
            # torch's default conv init instead of transformers' tiny normal(0.02), so the random
            # vocoder's output is not vanishingly small (tests compare real numbers).
            for module in model.modules():
                if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                    module.reset_parameters()
        return cls(model.to(dtype).eval().requires_grad_(False), settings)

    def config_dict(self) -> dict:
        return self.settings.to_dict()

    def check_bins(self, bins: int) -> None:
        if bins != self.settings.mel_dim:
            c = self.mel_config
            raise ValueError(
                f"mel has {bins} bins but this BigVGAN vocoder expects {self.settings.mel_dim} (UniAVGen "
                f"mel: {c.sample_rate} Hz, hop {c.hop_length}, slaney {c.f_min:g}-{c.f_max:g} Hz). A "
                f"{bins}-bin mel comes from an audio DiT with another mel config: use the vocoder made "
                "for that config")

    def synthesise(self, log_mel: torch.Tensor) -> torch.Tensor:
        # transformers' forward squeezes and moves to the CPU; the base class restores [B, N].
        return self.model(log_mel)


def _check_settings(settings: BigVGANSettings) -> None:
    """Plain positive integers in the BigVGAN config (the model's constructor does not say which)."""
    values = {"mel_dim": [settings.mel_dim],
              "upsample_initial_channel": [settings.upsample_initial_channel],
              "resblock_kernel_sizes": settings.resblock_kernel_sizes,
              "upsample_rates": settings.upsample_rates,
              "upsample_kernel_sizes": settings.upsample_kernel_sizes,
              "resblock_dilation_sizes": [v for d in settings.resblock_dilation_sizes for v in d]}
    for name, items in values.items():
        if not items or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in items):
            raise ValueError(f"'{name}' must hold positive integers, got {list(items)}")
    if len(settings.upsample_rates) != len(settings.upsample_kernel_sizes):
        raise ValueError("'upsample_rates' and 'upsample_kernel_sizes' differ in length")


def load_bigvgan(state_dict: dict[str, torch.Tensor], config: dict, device: torch.device | str = "cpu",
                 dtype: torch.dtype | None = None, origin: str = "state dict") -> BigVGANVocoder:
    """From a config.json dict and its weights (the registry's loader for this backend)."""
    try:
        settings = BigVGANSettings.from_dict(config)
        _check_settings(settings)
    except (TypeError, ValueError) as err:
        if isinstance(err, VocoderLoadError):
            raise
        raise VocoderLoadError(f"{origin}: the BigVGAN config has unusable values ({err}); "
                               "use the config.json released with the vocoder") from None
    return BigVGANVocoder.from_state_dict(state_dict, settings, device, dtype, origin)


BACKEND = register(VocoderBackend(
    name="bigvgan", title="UniAVGen's BigVGAN (Qwen2.5-Omni code2wav)",
    release=f"the released {RELEASED_FOLDER} folder", config_files=("config.json",),
    release_folders=(RELEASED_FOLDER,), name_hints=("bigvgan", "code2wav"),
    key_markers=("activation_post.act.alpha",), load=load_bigvgan,
    accepts=lambda config: config.get("model_type", BIGVGAN_MODEL_TYPE) == BIGVGAN_MODEL_TYPE))
