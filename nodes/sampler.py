"""The UniAVGen sampler node: both DiTs, MA-CFG, one video latent and one mel out."""

from __future__ import annotations

import comfy.latent_formats
import torch
from comfy_api.latest import io

from ..uniavgen_core.config import ConfigError, check_pair
from ..uniavgen_core.geometry import VIDEO_FPS, pixel_frames
from ..uniavgen_core.settings import MAX_STEPS
from ..uniavgen_core.text import SpeechTextEncoder
from ..uniavgen_core.waveform import SAMPLE_RATE
from .io_types import AudioDiT, Mel, VideoDiT
from .native_guider import GuiderSettings, sample_task
from .native_model import native_model
from .payloads import MelClip, MelRole
from .setting_checks import check_settings, settings_message
from .task_inputs import (NODE, TASK_TABLE, build_task_inputs, choose_task, conditioning_inputs,
                          guidance_inputs)


class UniAVGenSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenSampler",
            display_name=NODE,
            category="UniAVGen/sampling",
            description="Generates the video latent and the speech mel together with modality-aware "
                        f"CFG (official defaults). {TASK_TABLE}",
            inputs=[
                VideoDiT.Input("video_dit", tooltip="From UniAVGen Load Video DiT."),
                AudioDiT.Input("audio_dit", tooltip="From UniAVGen Load Audio DiT."),
                *conditioning_inputs(),
                io.Int.Input("seed", default=2025, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Noise seed (the official default is 2025)."),
                io.Int.Input("steps", default=50, min=1, max=MAX_STEPS, tooltip="Sampling steps."),
                io.Float.Input("shift", default=5.0, min=0.01, max=100.0, step=0.01,
                               tooltip="Timestep shift of the flow-matching schedule."),
                *guidance_inputs(),
            ],
            outputs=[
                io.Latent.Output(display_name="video_latent"),
                Mel.Output(display_name="mel"),
            ],
        )

    @classmethod
    def validate_inputs(cls, steps: int | None = None, shift: float | None = None,
                        video_cfg: float | None = None, audio_cfg: float | None = None,
                        macfg_fraction: float | None = None, slg_layer: int | None = None,
                        length: int | None = None, seed: int | None = None,
                        step_cache: float | None = None) -> bool | str:
        # Linked inputs are absent (None) here; execute() checks them again once they have values.
        return settings_message(NODE, steps=steps, shift=shift, video_cfg=video_cfg, audio_cfg=audio_cfg,
                                macfg_fraction=macfg_fraction, slg_layer=slg_layer, length=length,
                                seed=seed, step_cache=step_cache) or True

    @classmethod
    def execute(cls, video_dit, audio_dit, positive, negative, speech, length: int, seed: int,
                steps: int, shift: float, video_cfg: float, audio_cfg: float, macfg_fraction: float,
                slg_layer: int, batched_cfg: bool, step_cache: float = 0.0,
                reference_image: dict | None = None,
                reference_voice: MelClip | None = None, condition_audio: MelClip | None = None,
                condition_video: dict | None = None) -> io.NodeOutput:
        # the core owns the rules (uniavgen_core.settings); the native path below samples with them
        check_settings(NODE, steps=steps, shift=shift, video_cfg=video_cfg, audio_cfg=audio_cfg,
                       macfg_fraction=macfg_fraction, slg_layer=slg_layer, length=length, seed=seed,
                       step_cache=step_cache)
        num_layers = video_dit.model.config.num_layers
        if slg_layer >= num_layers:
            raise ValueError(f"{NODE}: 'slg_layer' is {slg_layer} but the model has {num_layers} layers "
                             f"(0..{num_layers - 1}). Use a layer below {num_layers} (the released model "
                             "has 30 and uses 11) or -1 to turn it off.")
        try:
            check_pair(video_dit.model.config, audio_dit.model.config)
        except ConfigError as err:
            raise ValueError(f"{NODE}: 'video_dit' and 'audio_dit' do not fit together ({err}): they come "
                             "from different checkpoints. Give both loaders the same 'dit_name'.") from err
        task = choose_task(reference_voice, condition_audio, condition_video)
        encoder = SpeechTextEncoder(audio_dit.model.vocabulary)
        inputs = build_task_inputs(task=task, speech=speech, encoder=encoder, positive=positive,
                                   negative=negative, reference_image=reference_image,
                                   reference_voice=reference_voice, condition_audio=condition_audio,
                                   condition_video=condition_video, length=length,
                                   device=torch.device("cpu"))
        guide = GuiderSettings(video_cfg=video_cfg, audio_cfg=audio_cfg, macfg_fraction=macfg_fraction,
                               slg_layer=slg_layer, batched_cfg=batched_cfg, cache_threshold=step_cache)
        video, audio = sample_task(native_model(video_dit, audio_dit), inputs, guide, seed=seed,
                                   steps=steps, shift=shift, node=NODE)
        latent = comfy.latent_formats.Wan22().process_out(video.float()).cpu()
        samples = pixel_frames(inputs.latent_frames) * SAMPLE_RATE // VIDEO_FPS
        mel = MelClip(mel=audio[0].float().cpu(), role=MelRole.GENERATED, num_samples=samples)
        return io.NodeOutput({"samples": latent}, mel)

