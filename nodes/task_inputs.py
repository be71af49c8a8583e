"""Maps the sampler node's inputs to the core's TaskInputs: which task, which tensors."""

from __future__ import annotations

import logging
import re

import comfy.latent_formats
import torch
from comfy_api.latest import io

from ..uniavgen_core.geometry import MIN_CLIP_FRAMES, TIME_STRIDE, VIDEO_FPS, latent_frames, mel_frames, \
    mel_seconds, pixel_frames
from ..uniavgen_core.tasks import Task, TaskInputError, TaskInputs
from ..uniavgen_core.speakable import UnspeakableText, require_speakable, vocab_coverage
from ..uniavgen_core.text import SpeechTextEncoder
from .caption import caption_context
from .io_types import Mel, Speech
from .payloads import MelClip, MelRole, SpeechRequest

NODE = "UniAVGen Sampler"
SPEECH_NODE = "UniAVGen Speech Text"
log = logging.getLogger(__name__)

# Core argument names -> the ids of the inputs the user sees on the sampler.
_USER_NAMES = {
    "cache_threshold": "step_cache", "latent_frames": "length", "mel_frames": "length",
    "cond_latent": "condition_video", "ref_latent": "reference_image", "ref_mel": "reference_voice",
    "cond_mel": "condition_audio", "t5_context": "positive", "t5_negative": "negative",
    "neg_speech_ids": "speech (negative)", "speech_ids": "speech", "seed": "seed",
}
_CORE_NAME = re.compile(r"\b(" + "|".join(sorted(_USER_NAMES, key=len, reverse=True)) + r")\b")


def user_words(err: Exception) -> str:
    """A core error's text with its argument names replaced by the node's input ids."""
    return _CORE_NAME.sub(lambda m: f"'{_USER_NAMES[m.group(1)]}'", str(err))


def check_vocabulary(encoder: SpeechTextEncoder, text: str, language: str, node: str = NODE,
                     text_node: str = SPEECH_NODE) -> None:
    """Refuse text the checkpoint's vocabulary cannot say at all (named on `text_node`'s 'text');
    log what it drops."""
    try:
        coverage = vocab_coverage(text, encoder.tokens(text, language), encoder.vocab.__contains__, language)
        require_speakable(coverage)
    except UnspeakableText as err:
        raise ValueError(f"{text_node}: 'text' {err} with this checkpoint's vocabulary. Type words in "
                         "the chosen language, or set 'language' to match the text.") from err
    except ImportError as err:
        raise ValueError(f"{node}: 'speech' {err}") from err
    if coverage.unknown_count:
        log.warning("%s: %s", node, coverage.describe())

TASK_TABLE = (
    "Task by connected inputs: nothing optional -> joint audio+video (AVG); reference_voice -> joint "
    "with a cloned voice (RAVG, give its transcript in Speech Text); condition_audio -> audio-driven "
    "video (A2V); condition_video -> video-to-audio dubbing (V2A)."
)


def conditioning_inputs() -> list:
    """The inputs a run is conditioned on, shared by the Sampler and the native Conditioning node
    (ids and order are part of saved workflows: append only)."""
    return [
        io.Conditioning.Input("positive", tooltip="The video caption: CLIPTextEncode with the "
                                                  "umT5-XXL text encoder (CLIPLoader type wan)."),
        io.Conditioning.Input("negative", tooltip="Negative caption; the official one is empty."),
        Speech.Input("speech", tooltip="From UniAVGen Speech Text."),
        io.Latent.Input("reference_image", optional=True,
                        tooltip="The reference face (UniAVGen Reference Image). Optional only "
                                "for dubbing, where the condition video's first frame is used."),
        Mel.Input("reference_voice", optional=True,
                  tooltip="A voice to clone (UniAVGen Audio To Mel, use_as reference_voice)."),
        Mel.Input("condition_audio", optional=True,
                  tooltip="Speech to animate the face with (Audio To Mel, use_as condition_audio); "
                          "no audio is generated."),
        io.Latent.Input("condition_video", optional=True,
                        tooltip="A silent video to dub (UniAVGen Condition Video)."),
        io.Int.Input("length", default=81, min=MIN_CLIP_FRAMES, max=321, step=TIME_STRIDE,
                     tooltip=f"Frames at {VIDEO_FPS} fps (4k+1). 81 = 5.06 s, what the model was "
                             "trained on. Ignored for dubbing, where the condition video sets it."),
    ]



def guidance_inputs() -> list:
    """Modality-aware CFG settings, shared by the Sampler and the native Guider (append only)."""
    return [
        io.Float.Input("video_cfg", default=3.0, min=0.0, max=30.0, step=0.1,
                       tooltip="Guidance scale of the video."),
        io.Float.Input("audio_cfg", default=2.0, min=0.0, max=30.0, step=0.1,
                       tooltip="Guidance scale of the audio."),
        io.Float.Input("macfg_fraction", default=0.5, min=0.0, max=1.0, step=0.01,
                       tooltip="Modality-aware CFG: for this first fraction of the steps the "
                               "unconditional pass drops the audio-video interaction."),
        io.Int.Input("slg_layer", default=11, min=-1, max=255,
                     tooltip="Skip-layer guidance: the layer skipped in the unconditional pass. "
                             "0 or -1 turns it off."),
        io.Boolean.Input("batched_cfg", default=True,
                         tooltip="Run the conditional and unconditional passes as one batch of 2 "
                                 "(faster, more memory; same result)."),
        io.Float.Input("step_cache", default=0.0, min=0.0, max=1.0, step=0.01, optional=True,
                       tooltip="Step caching (not in the release): skip the model on steps where "
                               "the latents barely moved, reusing its last output. 0 = off "
                               "(exact). On the tiny test model 0.1 skipped 3 of 20 steps for "
                               "~2.5 % latent error; 0.2 skipped 8 for ~11 %."),
    ]


def choose_task(reference_voice: MelClip | None, condition_audio: MelClip | None,
                condition_video: dict | None, *, node: str = NODE) -> Task:
    given = [name for name, value in (("reference_voice", reference_voice),
                                      ("condition_audio", condition_audio),
                                      ("condition_video", condition_video)) if value is not None]
    if len(given) > 1:
        raise ValueError(f"{node}: {' and '.join(given)} are connected together; UniAVGen runs one task "
                         f"at a time. {TASK_TABLE}")
    _check_role("reference_voice", reference_voice, MelRole.REFERENCE_VOICE, node)
    _check_role("condition_audio", condition_audio, MelRole.CONDITION_AUDIO, node)
    if reference_voice is not None:
        return Task.RAVG
    if condition_audio is not None:
        return Task.A2V
    if condition_video is not None:
        return Task.V2A
    return Task.AVG


def _check_role(name: str, clip: MelClip | None, role: MelRole, node: str = NODE) -> None:
    if clip is not None and clip.role is not role:
        raise ValueError(f"{node}: '{name}' got a mel made for '{clip.role.value}'. Set 'use_as' to "
                         f"'{role.value}' in the UniAVGen Audio To Mel node that feeds it.")


def normalise_latent(latent: dict, name: str, node: str = NODE) -> torch.Tensor:
    samples = latent["samples"]
    if samples.ndim != 5 or samples.shape[1] != 48:
        raise ValueError(f"{node}: '{name}' must be a Wan 2.2 video latent [1, 48, frames, h, w], got "
                         f"{tuple(samples.shape)}. Encode it with the UniAVGen prepare nodes and the "
                         "Wan 2.2 VAE.")
    if samples.shape[0] != 1:
        raise ValueError(f"{node}: '{name}' has a batch of {samples.shape[0]}; one clip at a time.")
    return comfy.latent_formats.Wan22().process_in(samples.float())


def build_task_inputs(*, task: Task, speech: SpeechRequest, encoder: SpeechTextEncoder,
                      positive, negative, reference_image: dict | None,
                      reference_voice: MelClip | None, condition_audio: MelClip | None,
                      condition_video: dict | None, length: int, device: torch.device,
                      node: str = NODE) -> TaskInputs:
    if task is Task.RAVG and not speech.reference_text:
        raise ValueError(f"{node}: a reference_voice is connected but the Speech Text node's "
                         "'reference_text' is empty. Type the exact words spoken in the reference clip.")
    cond_latent = None
    if condition_video is not None:
        cond_latent = normalise_latent(condition_video, "condition_video", node).to(device)
    if reference_image is not None:
        ref_latent = normalise_latent(reference_image, "reference_image", node).to(device)
    elif cond_latent is not None:
        ref_latent = cond_latent[:, :, :1]  # V2A: the first frame is the reference (official)
    else:
        raise ValueError(f"{node}: 'reference_image' is not connected. Connect the UniAVGen Reference "
                         "Image node's 'reference' output (or a condition_video for dubbing).")
    try:
        frames = cond_latent.shape[2] if cond_latent is not None else latent_frames(length)
    except ValueError as err:
        raise ValueError(f"{node}: 'length' {err}") from err
    if condition_audio is not None and condition_audio.frames > mel_frames(frames):
        raise ValueError(
            f"{node}: 'condition_audio' lasts {mel_seconds(condition_audio.frames):.2f} s "
            f"({condition_audio.frames} mel frames), longer than the clip's "
            f"{mel_seconds(mel_frames(frames)):.2f} s "
            f"('length' {pixel_frames(frames)} frames at {VIDEO_FPS} fps). Trim the audio or raise "
            "'length' (4k+1).")
    check_vocabulary(encoder, speech.text, speech.language)
    try:
        texts = encoder.encode_for_task(speech.text, speech.language, int(task),
                                        speech.reference_text if task is Task.RAVG else None)
    except (ValueError, ImportError) as err:
        raise ValueError(f"{node}: 'speech' {err}") from err
    positive_ids, negative_ids = texts.positive, texts.negative

    def mel(clip: MelClip | None) -> torch.Tensor | None:
        return None if clip is None else clip.mel.float().to(device)

    try:
        return TaskInputs(
            task=task,
            speech_ids=positive_ids.ids[0].to(device), speech_len=int(positive_ids.lens[0]),
            neg_speech_ids=negative_ids.ids[0].to(device), neg_speech_len=int(negative_ids.lens[0]),
            t5_context=caption_context(positive, input_name="positive").float().to(device),
            t5_negative=caption_context(negative, input_name="negative").float().to(device),
            ref_latent=ref_latent, cond_latent=cond_latent,
            ref_mel=mel(reference_voice), cond_mel=mel(condition_audio),
            latent_frames=frames,
        )
    except TaskInputError as err:
        raise ValueError(f"{node}: {user_words(err)}") from err
