"""Tiny vocoder configs for tests (same module tree as the release, a few channels wide)."""

from __future__ import annotations

from uniavgen_core.vocoder import BigVGANSettings

# 64 channels halve six times down to 1 at the last stage; hop stays 240 like the release.
TINY_BIGVGAN = BigVGANSettings(upsample_initial_channel=64, resblock_kernel_sizes=(3, 5),
                               resblock_dilation_sizes=((1, 3, 5), (1, 3, 5)))

TINY_VOCOS_CONFIG = {
    "feature_extractor": {"class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
                          "init_args": {"sample_rate": 24000, "n_fft": 1024, "hop_length": 256,
                                        "n_mels": 100, "padding": "center"}},
    "backbone": {"class_path": "vocos.models.VocosBackbone",
                 "init_args": {"input_channels": 100, "dim": 16, "intermediate_dim": 32, "num_layers": 1}},
    "head": {"class_path": "vocos.heads.ISTFTHead",
             "init_args": {"dim": 16, "n_fft": 1024, "hop_length": 256, "padding": "center"}},
}
