"""Nodes of the native graph: UniAVGen as a MODEL driven by ComfyUI's own sampling nodes.

UniAVGen Model -> (LoraLoaderModelOnly, ModelSamplingSD3, ...) -> UniAVGen Conditioning ->
RandomNoise + KSamplerSelect + UniAVGen Scheduler + UniAVGen Guider -> SamplerCustomAdvanced ->
UniAVGen Split Latent -> VAEDecode / UniAVGen Vocoder Decode.
"""

from __future__ import annotations

import comfy.latent_formats
import torch
from comfy_api.latest import io

from ..uniavgen_core.config import ConfigError, check_pair
from ..uniavgen_core.geometry import MEL_BINS, VIDEO_FPS, pixel_frames
from ..uniavgen_core.settings import MAX_STEPS
from ..uniavgen_core.text import SpeechTextEncoder
from ..uniavgen_core.waveform import SAMPLE_RATE
from .io_types import AudioDiT, Mel, VideoDiT
from .native_guider import GuiderSettings, Nested, UniAVGenGuider, official_sigmas, task_conditioning
from .native_model import UniAVGenNativeModel, native_model
from .payloads import MelClip, MelRole
from .setting_checks import check_settings, settings_message
from .task_inputs import (TASK_TABLE, build_task_inputs, choose_task, conditioning_inputs,
                          guidance_inputs)


def _check_model(node: str, model) -> UniAVGenNativeModel:
    inner = getattr(model, "model", None)
    if not isinstance(inner, UniAVGenNativeModel):
        raise ValueError(f"{node}: 'model' is a {type(inner).__name__}, not UniAVGen. Connect the MODEL "
                         "output of the UniAVGen Model node (through any LoRA / model-patch nodes).")
    return inner


class NativeModel(io.ComfyNode):
    NODE = "UniAVGen Model"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenModel",
            display_name=cls.NODE,
            category="UniAVGen/native",
            description="Joins the video and audio DiT into one native MODEL for ComfyUI's sampling "
                        "nodes (SamplerCustomAdvanced), LoRA loaders and model patches. Weights are "
                        "shared with the loaders, not copied.",
            inputs=[
                VideoDiT.Input("video_dit", tooltip="From UniAVGen Load Video DiT."),
                AudioDiT.Input("audio_dit", tooltip="From UniAVGen Load Audio DiT (the same checkpoint)."),
            ],
            outputs=[io.Model.Output(display_name="model",
                                     tooltip="UniAVGen as a MODEL. LoRA keys: diffusion_model.blocks.* "
                                             "(video DiT, as Wan 2.2 5B), diffusion_model.audio_blocks.* "
                                             "(audio DiT), diffusion_model.a2v_blocks.* / v2a_blocks.* "
                                             "(cross-modal blocks).")],
        )

    @classmethod
    def execute(cls, video_dit, audio_dit) -> io.NodeOutput:
        try:
            check_pair(video_dit.model.config, audio_dit.model.config)
        except ConfigError as err:
            raise ValueError(f"{cls.NODE}: 'video_dit' and 'audio_dit' do not fit together ({err}): "
                             "they come from different checkpoints. Give both loaders the same "
                             "'dit_name'.") from err
        return io.NodeOutput(native_model(video_dit, audio_dit))


class NativeConditioning(io.ComfyNode):
    NODE = "UniAVGen Conditioning"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenConditioning",
            display_name=cls.NODE,
            category="UniAVGen/native",
            description="Everything a UniAVGen run is conditioned on, as native positive / negative "
                        f"CONDITIONING, and the empty nested video + audio LATENT to sample. {TASK_TABLE}",
            inputs=[
                io.Model.Input("model",
                               tooltip="From UniAVGen Model (its speech vocabulary encodes the text)."),
                *conditioning_inputs(),
            ],
            outputs=[
                io.Conditioning.Output(display_name="positive"),
                io.Conditioning.Output(display_name="negative"),
                io.Latent.Output(display_name="latent",
                                 tooltip="Empty nested LATENT: video [1, 48, F, H, W] then mel [1, T, 80]."),
            ],
        )

    @classmethod
    def validate_inputs(cls, length: int | None = None) -> bool | str:
        return settings_message(cls.NODE, length=length) or True

    @classmethod
    def execute(cls, model, positive, negative, speech, length: int, reference_image: dict | None = None,
                reference_voice: MelClip | None = None, condition_audio: MelClip | None = None,
                condition_video: dict | None = None) -> io.NodeOutput:
        check_settings(cls.NODE, length=length)
        inner = _check_model(cls.NODE, model)
        task = choose_task(reference_voice, condition_audio, condition_video, node=cls.NODE)
        encoder = SpeechTextEncoder(inner.diffusion_model.audio.vocabulary)
        inputs = build_task_inputs(task=task, speech=speech, encoder=encoder, positive=positive,
                                   negative=negative, reference_image=reference_image,
                                   reference_voice=reference_voice, condition_audio=condition_audio,
                                   condition_video=condition_video, length=length,
                                   device=torch.device("cpu"), node=cls.NODE)
        return io.NodeOutput(*task_conditioning(inputs))


class NativeGuider(io.ComfyNode):
    NODE = "UniAVGen Guider"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenGuider",
            display_name=cls.NODE,
            category="UniAVGen/native",
            description="Modality-aware CFG for SamplerCustomAdvanced: separate video and audio scales, "
                        "MA-CFG and skip-layer guidance (official defaults). Writes the condition "
                        "frames / audio back into the result, as the official decode does.",
            inputs=[
                io.Model.Input("model", tooltip="From UniAVGen Model (LoRAs and patches applied)."),
                io.Conditioning.Input("positive", tooltip="'positive' of UniAVGen Conditioning."),
                io.Conditioning.Input("negative", tooltip="'negative' of UniAVGen Conditioning."),
                *guidance_inputs(),
            ],
            outputs=[io.Guider.Output()],
        )

    @classmethod
    def validate_inputs(cls, video_cfg: float | None = None, audio_cfg: float | None = None,
                        macfg_fraction: float | None = None, slg_layer: int | None = None,
                        step_cache: float | None = None) -> bool | str:
        # linked inputs are None here; execute() checks them once they have values
        return settings_message(cls.NODE, video_cfg=video_cfg, audio_cfg=audio_cfg,
                                macfg_fraction=macfg_fraction, slg_layer=slg_layer,
                                step_cache=step_cache) or True

    @classmethod
    def execute(cls, model, positive, negative, video_cfg: float, audio_cfg: float, macfg_fraction: float,
                slg_layer: int, batched_cfg: bool, step_cache: float = 0.0) -> io.NodeOutput:
        check_settings(cls.NODE, video_cfg=video_cfg, audio_cfg=audio_cfg, macfg_fraction=macfg_fraction,
                       slg_layer=slg_layer, step_cache=step_cache)
        inner = _check_model(cls.NODE, model)
        layers = inner.diffusion_model.video.config.num_layers
        if slg_layer >= layers:
            raise ValueError(f"{cls.NODE}: 'slg_layer' is {slg_layer} but the model has {layers} layers "
                             f"(0..{layers - 1}). Use a layer below {layers} (the released model has 30 "
                             "and uses 11) or -1 to turn it off.")
        guider = UniAVGenGuider(model, GuiderSettings(
            video_cfg=video_cfg, audio_cfg=audio_cfg, macfg_fraction=macfg_fraction, slg_layer=slg_layer,
            batched_cfg=batched_cfg, cache_threshold=step_cache))
        guider.set_conds(positive, negative)
        return io.NodeOutput(guider)


class NativeScheduler(io.ComfyNode):
    NODE = "UniAVGen Scheduler"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenScheduler",
            display_name=cls.NODE,
            category="UniAVGen/native",
            description="The official flow-matching schedule: linspace(1000, 1, steps) shifted by "
                        "s*u / (1 + (s-1)*u), then 0; as sigmas (t / 1000).",
            inputs=[
                io.Int.Input("steps", default=50, min=1, max=MAX_STEPS,
                             tooltip="Sampling steps (official 50)."),
                io.Float.Input("shift", default=5.0, min=0.01, max=100.0, step=0.01,
                               tooltip="Timestep shift (official 5.0)."),
            ],
            outputs=[io.Sigmas.Output()],
        )

    @classmethod
    def validate_inputs(cls, steps: int | None = None, shift: float | None = None) -> bool | str:
        return settings_message(cls.NODE, steps=steps, shift=shift) or True

    @classmethod
    def execute(cls, steps: int, shift: float) -> io.NodeOutput:
        check_settings(cls.NODE, steps=steps, shift=shift)
        return io.NodeOutput(official_sigmas(steps, shift))


def _nested(node: str, latent: dict) -> tuple[torch.Tensor, torch.Tensor]:
    samples = latent.get("samples") if isinstance(latent, dict) else None
    if not getattr(samples, "is_nested", False) or len(samples.unbind()) != 2:
        raise ValueError(f"{node}: 'latent' is not the nested video + audio latent (got "
                         f"{getattr(samples, 'shape', type(samples).__name__)}). Connect the output of "
                         "SamplerCustomAdvanced run with a UniAVGen model.")
    return tuple(samples.unbind())


class SplitLatent(io.ComfyNode):
    NODE = "UniAVGen Split Latent"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenSplitLatent",
            display_name=cls.NODE,
            category="UniAVGen/native",
            description="Splits the nested LATENT into the video LATENT (Wan 2.2 VAE space, for "
                        "VAEDecode) and the mel (for UniAVGen Vocoder Decode).",
            inputs=[io.Latent.Input("latent", tooltip="The nested LATENT from SamplerCustomAdvanced.")],
            outputs=[io.Latent.Output(display_name="video_latent"), Mel.Output(display_name="mel")],
        )

    @classmethod
    def execute(cls, latent: dict) -> io.NodeOutput:
        video, audio = _nested(cls.NODE, latent)
        if video.shape[0] != 1:
            raise ValueError(f"{cls.NODE}: the latent holds a batch of {video.shape[0]}; one clip at a time.")
        samples = pixel_frames(video.shape[2]) * SAMPLE_RATE // VIDEO_FPS
        raw = comfy.latent_formats.Wan22().process_out(video.float().cpu())
        mel = MelClip(mel=audio[0].float().cpu(), role=MelRole.GENERATED, num_samples=samples)
        return io.NodeOutput({"samples": raw}, mel)


class JoinLatent(io.ComfyNode):
    NODE = "UniAVGen Join Latent"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenJoinLatent",
            display_name=cls.NODE,
            category="UniAVGen/native",
            description="Joins a video LATENT (Wan 2.2 VAE space) and a mel into the nested LATENT "
                        "(e.g. to re-noise a result partially with SamplerCustomAdvanced).",
            inputs=[io.Latent.Input("video_latent", tooltip="A Wan 2.2 video LATENT [1, 48, F, H, W]."),
                    Mel.Input("mel", tooltip="A mel from UniAVGen Split Latent or Audio To Mel.")],
            outputs=[io.Latent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, video_latent: dict, mel: MelClip) -> io.NodeOutput:
        video = video_latent["samples"]
        if video.ndim != 5 or video.shape[1] != 48:
            raise ValueError(f"{cls.NODE}: 'video_latent' must be a Wan 2.2 video latent [1, 48, F, H, W], "
                             f"got {tuple(video.shape)}.")
        if mel.mel.ndim != 2 or mel.mel.shape[1] != MEL_BINS:
            raise ValueError(f"{cls.NODE}: 'mel' must be [frames, {MEL_BINS}], got {tuple(mel.mel.shape)}.")
        normalised = comfy.latent_formats.Wan22().process_in(video.float())
        return io.NodeOutput({"samples": Nested([normalised, mel.mel.float()[None]])})


NATIVE_NODES = [NativeModel, NativeConditioning, NativeGuider, NativeScheduler, SplitLatent, JoinLatent]
