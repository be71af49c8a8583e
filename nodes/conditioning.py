"""Preparation nodes: reference image, condition video and audio -> latents / mel."""

from __future__ import annotations

import logging
import math

import torch
from comfy_api.latest import io

from ..uniavgen_core.geometry import MIN_CLIP_FRAMES, TIME_STRIDE, VIDEO_FPS, clip_length_problem, \
    frames_at_video_fps, latent_frames
from ..uniavgen_core.limits import MAX_CLIP_SECONDS, REFERENCE_VOICE_SECONDS, LimitError, check_audio_shape, \
    check_frame_size
from ..uniavgen_core.mel import MelSpectrogram
from ..uniavgen_core.waveform import SAMPLE_RATE, prepare_speech
from .combos import check_combos, combo_problem
from .imaging import pick_frames, resize_images
from .io_types import Mel
from .payloads import MelClip, MelRole

log = logging.getLogger(__name__)

_SHORT_SIDE_TOOLTIP = ("Target length of the image's short side in pixels (multiple of 32). 736 is the "
                       "official size; smaller values need less GPU memory and time. The long side "
                       "keeps the aspect ratio, rounded up to a multiple of 32.")
MIN_SIDE = 32
# The official rule's effective short side: ceil32(720).
OFFICIAL_SHORT_SIDE_PX = 736
_MEL = MelSpectrogram()
_ROLES = [MelRole.REFERENCE_VOICE.value, MelRole.CONDITION_AUDIO.value]
# Checked on the raw clip, before resampling: a reference voice is prepended to the clip's audio.
_MAX_SECONDS = {MelRole.REFERENCE_VOICE: REFERENCE_VOICE_SECONDS, MelRole.CONDITION_AUDIO: MAX_CLIP_SECONDS}
_USE_AS_FIX = "Pick reference_voice (a voice to clone) or condition_audio (speech to animate)."
_ROLE_WORDS = {MelRole.REFERENCE_VOICE: "reference voice", MelRole.CONDITION_AUDIO: "condition audio "
                                                                                   "(one clip)"}


def _encode(vae, pixels: torch.Tensor) -> torch.Tensor:
    return vae.encode(pixels[..., :3])


class ReferenceImage(io.ComfyNode):
    NODE = "UniAVGen Reference Image"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenReferenceImage",
            display_name=cls.NODE,
            category="UniAVGen/conditioning",
            description="Resizes the reference face image with the official rule and encodes it with "
                        "the Wan 2.2 VAE. The clip's size follows this image.",
            inputs=[
                io.Image.Input("image", tooltip="One image of the person (a single frame)."),
                io.Vae.Input("vae", tooltip="The Wan 2.2 VAE (VAELoader)."),
                io.Int.Input("short_side", default=OFFICIAL_SHORT_SIDE_PX, min=MIN_SIDE, max=2048, step=32,
                             tooltip=_SHORT_SIDE_TOOLTIP),
            ],
            outputs=[
                io.Latent.Output(display_name="reference"),
                io.Image.Output(display_name="resized_image"),
            ],
        )

    @classmethod
    def execute(cls, image: torch.Tensor, vae, short_side: int) -> io.NodeOutput:
        if image.shape[0] != 1:
            raise ValueError(
                f"{cls.NODE}: 'image' holds {image.shape[0]} images; UniAVGen conditions on exactly one "
                "reference image. Pick one with 'ImageFromBatch' (batch_index, length 1).")
        _check_size(cls.NODE, "image", image, short_side)
        resized = resize_images(image, short_side)
        latent = _encode(vae, resized)  # [1, 48, 1, h, w]
        return io.NodeOutput({"samples": latent}, resized)


class ConditionVideo(io.ComfyNode):
    NODE = "UniAVGen Condition Video"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenConditionVideo",
            display_name=cls.NODE,
            category="UniAVGen/conditioning",
            description="Prepares a silent video for dubbing (video-to-audio): resamples it to 16 fps, "
                        "takes the clip's frames, resizes and encodes them. Its first frame is also "
                        "the reference image.",
            inputs=[
                io.Image.Input("images", tooltip="The video frames (e.g. from LoadVideo -> "
                                                 "GetVideoComponents)."),
                io.Vae.Input("vae", tooltip="The Wan 2.2 VAE (VAELoader)."),
                io.Float.Input("fps", default=float(VIDEO_FPS), min=1.0, max=240.0, step=0.001,
                               tooltip="Frame rate of the input frames (GetVideoComponents' fps output). "
                                       "Frames are picked to make 16 fps."),
                io.Int.Input("length", default=81, min=MIN_CLIP_FRAMES, max=321, step=TIME_STRIDE,
                             tooltip="Frames of the clip at 16 fps (4k+1). 81 frames = 5.06 s, the "
                                     "official length. Longer input is trimmed; shorter is an error."),
                io.Int.Input("short_side", default=OFFICIAL_SHORT_SIDE_PX, min=MIN_SIDE, max=2048, step=32,
                             tooltip=_SHORT_SIDE_TOOLTIP),
            ],
            outputs=[
                io.Latent.Output(display_name="condition_video"),
                io.Latent.Output(display_name="reference"),
                io.Image.Output(display_name="frames_16fps"),
            ],
        )

    @classmethod
    def execute(cls, images: torch.Tensor, vae, fps: float, length: int, short_side: int) -> io.NodeOutput:
        if clip_length_problem(length):
            raise ValueError(f"{cls.NODE}: 'length' {length} is not 4k+1 (e.g. 81) or is below "
                             f"{MIN_CLIP_FRAMES}; the Wan 2.2 VAE packs 4 frames per latent after the first.")
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"{cls.NODE}: 'fps' is {fps}; it must be the input video's frame rate (> 0). "
                             "Connect GetVideoComponents' fps output, or type the video's rate (e.g. 25).")
        _check_size(cls.NODE, "images", images, short_side)
        picked = _resample_frames(cls.NODE, images, fps, length)
        resized = resize_images(picked, short_side)
        latent = _encode(vae, resized)  # [1, 48, F, h, w]
        expected = latent_frames(length)
        if latent.shape[2] != expected:
            raise ValueError(f"{cls.NODE}: the VAE gave {latent.shape[2]} latent frames for {length} "
                             f"frames, expected {expected}; connect the Wan 2.2 VAE.")
        return io.NodeOutput({"samples": latent}, {"samples": latent[:, :, :1].clone()}, resized)


def _resample_frames(node: str, images: torch.Tensor, fps: float, length: int) -> torch.Tensor:
    """Nearest-frame resampling to 16 fps, then the first `length` frames."""
    available = images.shape[0]
    duration = available / fps
    target = frames_at_video_fps(available, fps)
    if target < length:
        raise ValueError(
            f"{node}: the video has {available} frames at {fps:g} fps ({duration:.2f} s), which gives "
            f"{target} frames at {VIDEO_FPS} fps; the clip needs {length} ({length / VIDEO_FPS:.2f} s). "
            "Use a longer video or a smaller 'length'.")
    if target > length:
        log.warning("%s: using the first %.2f s of a %.2f s video", node, length / VIDEO_FPS, duration)
    return pick_frames(images, fps, length)


def _check_size(node: str, name: str, images: torch.Tensor, short_side: int) -> None:
    if images.ndim != 4 or images.shape[-1] not in (3, 4):
        raise ValueError(f"{node}: '{name}' must be an IMAGE batch [N, H, W, 3], got {tuple(images.shape)}.")
    h, w = images.shape[1:3]
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"{node}: '{name}' is {w}x{h} pixels; at least {MIN_SIDE} px per side is needed "
                         "(one latent patch). Use a larger image.")
    if short_side % 32:
        raise ValueError(f"{node}: 'short_side' {short_side} is not a multiple of 32; use e.g. "
                         f"{short_side // 32 * 32 or 32} or {short_side // 32 * 32 + 32} "
                         f"(official {OFFICIAL_SHORT_SIDE_PX}).")
    try:
        check_frame_size(int(w), int(h), short_side)
    except LimitError as err:
        raise ValueError(err.worded(node, name)) from err


def _audio_problem(waveform: torch.Tensor) -> str:
    if waveform.shape[-1] == 0:
        return "is empty"
    bad = int((~torch.isfinite(waveform)).sum())
    if bad:
        return f"holds {bad} NaN/inf samples"
    if not waveform.abs().amax() > 0:
        return "is silent (peak 0)"
    return ""


class AudioToMel(io.ComfyNode):
    NODE = "UniAVGen Audio To Mel"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenAudioToMel",
            display_name=cls.NODE,
            category="UniAVGen/conditioning",
            description="Turns audio into the normalised 80-bin mel the audio DiT reads: mono, 24 kHz, "
                        "official volume rule. Use it for a voice to clone or for speech to animate.",
            inputs=[
                io.Audio.Input("audio", tooltip="Speech audio (e.g. from LoadAudio)."),
                io.Combo.Input("use_as",
                               options=_ROLES,
                               default=MelRole.REFERENCE_VOICE.value,
                               tooltip="reference_voice: a voice to clone (connect to the sampler's "
                                       "reference_voice; give its transcript in Speech Text). "
                                       "condition_audio: speech to animate a face with (audio-to-video)."),
            ],
            outputs=[Mel.Output(display_name="mel")],
        )

    @classmethod
    def validate_inputs(cls, use_as: str | None = None) -> bool | str:
        return combo_problem(cls, cls.NODE, _USE_AS_FIX, use_as=use_as) or True

    @classmethod
    def execute(cls, audio: dict, use_as: str) -> io.NodeOutput:
        waveform, rate = audio["waveform"], int(audio["sample_rate"])
        if waveform.ndim != 3 or waveform.shape[0] != 1:
            raise ValueError(f"{cls.NODE}: 'audio' must hold one clip [1, channels, samples], got "
                             f"{tuple(waveform.shape)}. Split batches before this node.")
        check_combos(cls, cls.NODE, _USE_AS_FIX, use_as=use_as)
        role = MelRole(use_as)
        try:
            check_audio_shape(int(waveform.shape[1]), int(waveform.shape[-1]), rate,
                              max_seconds=_MAX_SECONDS[role], role=_ROLE_WORDS[role])
        except LimitError as err:
            raise ValueError(err.worded(cls.NODE, "audio", f" ({rate} Hz, {waveform.shape[1]} channels, "
                                                           f"{waveform.shape[-1]} samples)")) from err
        problem = _audio_problem(waveform)
        if problem:
            raise ValueError(f"{cls.NODE}: 'audio' ({rate} Hz, {waveform.shape[-1]} samples) {problem}; "
                             "connect a recording of speech.")
        try:
            speech = prepare_speech(waveform[0].float().cpu(), rate,
                                    reference=role is MelRole.REFERENCE_VOICE)
            mel = _MEL(speech)
        except ValueError as err:
            raise ValueError(f"{cls.NODE}: 'audio' ({rate} Hz, {waveform.shape[-1]} samples): {err}") from err
        log.info("%s: %.2f s of audio -> %d mel frames (%s)", cls.NODE, speech.shape[-1] / SAMPLE_RATE,
                 mel.shape[0], role.value)
        return io.NodeOutput(MelClip(mel=mel, role=role, num_samples=int(speech.shape[-1])))

