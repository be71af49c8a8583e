"""Vocoder nodes: load BigVGAN as released (or Vocos) and turn the generated mel into AUDIO."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import comfy.model_management as mm
import folder_paths
import torch
from comfy_api.latest import io

from ..uniavgen_core.vocoder import load_vocoder
from ..uniavgen_core.vocoder_bigvgan import RELEASED_FOLDER
from ..uniavgen_core.vocoder_files import VocoderLoadError, find_vocoders
from .combos import check_combos, combo_problem
from .io_types import Mel, Vocoder
from .memory import new_patcher
from .payloads import MelClip

log = logging.getLogger(__name__)

VOCODER_FOLDER = "uniavgen_vocoders"
_MISSING_FIX = (f"Put the released {RELEASED_FOLDER} folder in models/{VOCODER_FOLDER}, refresh the node "
                "list (press R) and pick it.")


def register_vocoder_folder() -> None:
    """models/uniavgen_vocoders, beside ComfyUI's own model folders (idempotent)."""
    path = os.path.join(folder_paths.models_dir, VOCODER_FOLDER)
    known = folder_paths.folder_names_and_paths.get(VOCODER_FOLDER)
    if known is None or path not in known[0]:
        folder_paths.add_model_folder_path(VOCODER_FOLDER, path)


def _candidates() -> dict[str, Path]:
    """name -> path for vocoder files and released folders (which ones: the core's registry says)."""
    def folders(name: str) -> list[str]:
        return folder_paths.get_folder_paths(name) if name in folder_paths.folder_names_and_paths else []

    return find_vocoders(folders(VOCODER_FOLDER), folders("vae"), folders("diffusion_models"))


class LoadVocoder(io.ComfyNode):
    NODE = "UniAVGen Load Vocoder"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenLoadVocoder",
            display_name=cls.NODE,
            category="UniAVGen/loaders",
            description="Loads the mel vocoder: UniAVGen's BigVGAN (the released code2wav_bigvgan_model "
                        "folder, or a converted single file), or a Vocos model.",
            inputs=[
                io.Combo.Input("vocoder_name", options=sorted(_candidates()),
                               tooltip=f"The release's {RELEASED_FOLDER} folder inside the UniAVGen "
                                       f"model folder, a vocoder in models/{VOCODER_FOLDER} (file or "
                                       "folder), or one in models/vae whose name contains 'vocoder'."),
            ],
            outputs=[Vocoder.Output(display_name="vocoder")],
        )

    @classmethod
    def validate_inputs(cls, vocoder_name: str | None = None) -> bool | str:
        return combo_problem(cls, cls.NODE, _MISSING_FIX, vocoder_name=vocoder_name) or True

    @classmethod
    def execute(cls, vocoder_name: str) -> io.NodeOutput:
        check_combos(cls, cls.NODE, _MISSING_FIX, vocoder_name=vocoder_name)
        path = _candidates().get(vocoder_name)
        if path is None:
            raise ValueError(f"{cls.NODE}: vocoder {vocoder_name!r} was not found. Put the released "
                             f"code2wav_bigvgan_model folder in models/{VOCODER_FOLDER} and refresh.")
        offload = mm.unet_offload_device()
        try:
            model = load_vocoder(path, device=offload, dtype=torch.float32)
        except VocoderLoadError as err:
            raise ValueError(f"{cls.NODE}: 'vocoder_name' {vocoder_name!r} cannot be loaded: {err}") from err
        return io.NodeOutput(new_patcher(model, mm.get_torch_device(), offload))


class VocoderDecode(io.ComfyNode):
    NODE = "UniAVGen Vocoder Decode"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenVocoderDecode",
            display_name=cls.NODE,
            category="UniAVGen/decode",
            description="Turns the sampler's mel into 24 kHz speech, exactly as long as the video.",
            inputs=[
                Vocoder.Input("vocoder", tooltip="From UniAVGen Load Vocoder."),
                Mel.Input("mel", tooltip="The sampler's mel output."),
            ],
            outputs=[io.Audio.Output(display_name="audio")],
        )

    @classmethod
    def execute(cls, vocoder, mel: MelClip) -> io.NodeOutput:
        mm.load_models_gpu([vocoder])
        model = vocoder.model
        try:
            with torch.inference_mode():
                wave = model.decode(mel.mel.to(vocoder.load_device)).float().cpu()  # [1, 240*T]
        except ValueError as err:
            raise ValueError(f"{cls.NODE}: 'mel' {err}") from err
        check_finite_wave(cls.NODE, wave, mel)
        wave = wave.reshape(1, 1, -1)
        if mel.num_samples is not None:
            wave = fit_length(wave, mel.num_samples)
        return io.NodeOutput({"waveform": wave, "sample_rate": model.sample_rate})


def check_finite_wave(node: str, wave: torch.Tensor, mel: MelClip) -> None:
    """NaN/inf out of the vocoder: say whether the mel or the vocoder's weights brought it."""
    bad = int((~torch.isfinite(wave)).sum())
    if not bad:
        return
    if not torch.isfinite(mel.mel).all():
        cause = ("the 'mel' itself holds NaN/inf (the sampler's output): check the DiT weights, or use "
                 "weight_dtype 'default' if fp8 overflowed")
    else:
        cause = "the mel is finite, so the vocoder's weights hold NaN/inf: re-download the vocoder"
    raise ValueError(f"{node}: the decoded audio holds {bad} NaN/inf samples; {cause}.")


def fit_length(wave: torch.Tensor, samples: int) -> torch.Tensor:
    # 506 mel frames give 121,440 samples while 81 frames at 16 fps last 121,500: pad with silence
    # so the audio ends with the video (muxers otherwise cut or stretch).
    if wave.shape[-1] >= samples:
        return wave[..., :samples]
    return torch.nn.functional.pad(wave, (0, samples - wave.shape[-1]))
