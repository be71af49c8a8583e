"""Tasks: which latents and mel frames are conditions, the flags of each pass, the write-back.

As MCG-NJU/Sora2-mini does in `UniAVGenPipeline.generate` (wan/infer.py) and `run_sample` (inference.py).

Shapes (one sample): F latent frames, H x W latent grid, T_a mel frames of the window,
T_r reference-mel frames (RAVG), T_c condition-mel frames (A2V), F_c condition latent frames.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from .geometry import LATENT_CHANNELS, MEL_BINS, OFFICIAL_LATENT_FRAMES, mel_frames, mel_seconds
from .model.joint import JointInputs, PassFlags


class TaskInputError(ValueError):
    """A task's inputs do not fit together; the message names the input, the value and the fix."""


class Task(enum.IntEnum):
    AVG = 0     # joint audio + video from a reference image
    RAVG = 1    # + a reference voice (mel prepended to the audio sequence)
    A2V = 2     # audio-driven video: the speech is given
    V2A = 3     # dubbing: the whole video window is given
    # Not in the release (which has ids 0-3): the next window of a longer clip. It combines two
    # released mechanisms: condition latents for the first k frames (as V2A, but only a prefix) and
    # the RAVG reference voice (the previous window's speech and its transcript).
    CONTINUE = 4
    # Also not released (long clips, issue 20): the next window of a long audio-driven clip (A2V with
    # the previous window's last frame as a condition prefix), and a dubbing window that clones a voice
    # (V2A with a reference voice mel prepended, as RAVG, so every window keeps one timbre).
    A2V_CONTINUE = 5
    V2A_VOICE = 6


class CondVideo(enum.Enum):
    """Where the condition latents (the first `video_cond` frames of the window) come from."""
    REF = "ref"         # the reference-image latent itself: one frame
    WINDOW = "window"   # caller-given latents covering the whole window (V2A)
    PREFIX = "prefix"   # caller-given latents for the first k < F frames (continuation)


@dataclass(frozen=True)
class TaskSpec:
    cond_video: CondVideo
    needs_ref_mel: bool
    needs_cond_mel: bool
    cond_flags: PassFlags          # conditional pass, every step
    null_flags: PassFlags          # null pass before MA-CFG / SLG are added

    def null_pass_flags(self, *, zero_con: bool, skip_layer: int) -> PassFlags:
        return replace(self.null_flags, zero_con=zero_con, skip_layer=skip_layer)


# Official flag table (wan/infer.py). RAVG disables V2A in the conditional pass only, so the null
# pass runs V2A once MA-CFG stops zeroing the interaction.
TASK_SPECS: dict[Task, TaskSpec] = {
    Task.AVG: TaskSpec(CondVideo.REF, False, False, PassFlags(), PassFlags()),
    Task.RAVG: TaskSpec(CondVideo.REF, True, False, PassFlags(no_v2a=True), PassFlags()),
    Task.A2V: TaskSpec(CondVideo.REF, False, True, PassFlags(no_v2a=True), PassFlags(no_v2a=True)),
    Task.V2A: TaskSpec(CondVideo.WINDOW, False, False, PassFlags(no_a2v=True), PassFlags(no_a2v=True)),
    # as RAVG: the reference voice never goes through V2A in the conditional pass
    Task.CONTINUE: TaskSpec(CondVideo.PREFIX, True, False, PassFlags(no_v2a=True), PassFlags()),
    # as A2V: the speech is given, so it never listens to the video
    Task.A2V_CONTINUE: TaskSpec(CondVideo.PREFIX, False, True, PassFlags(no_v2a=True),
                                PassFlags(no_v2a=True)),
    # as V2A: the video is given, so it never listens to the speech; the reference voice rides along
    Task.V2A_VOICE: TaskSpec(CondVideo.WINDOW, True, False, PassFlags(no_a2v=True), PassFlags(no_a2v=True)),
}

# Tasks whose speech text starts with a reference voice's transcript (as the released RAVG): exactly
# those that prepend a reference mel.
TRANSCRIPT_TASKS = frozenset(task for task, spec in TASK_SPECS.items() if spec.needs_ref_mel)


@dataclass(frozen=True, eq=False)   # tensor fields: compare by identity
class TaskInputs:
    """Everything one sampling run is conditioned on, validated at construction.

    Latents are normalised Wan 2.2 latents with a batch of one; mels are normalised log-mels
    (mel.py) without a batch axis. `mel_frames` defaults to the window's rule (21 -> 506).
    """
    task: Task
    speech_ids: Tensor                  # [L] long char ids, -1 = filler (text module output)
    speech_len: int                     # key length of the audio text cross-attention (<= L)
    neg_speech_ids: Tensor              # [L_n] ids of the negative (null-pass) speech text
    neg_speech_len: int
    t5_context: Tensor                  # [L_t5, 4096] umT5 caption, trimmed to its true length
    t5_negative: Tensor                 # [L_t5n, 4096] umT5 of the negative caption
    ref_latent: Tensor                  # [1, 48, 1, H, W] reference image
    cond_latent: Tensor | None = None   # [1, 48, F_c, H, W]; V2A: the whole window (F_c = F)
    ref_mel: Tensor | None = None       # [T_r, 80] reference voice (RAVG)
    cond_mel: Tensor | None = None      # [T_c, 80] condition speech (A2V), T_c <= T_a
    latent_frames: int = OFFICIAL_LATENT_FRAMES
    mel_frames: int | None = None      # T_a; None = the window's rule

    def __post_init__(self) -> None:
        if not isinstance(self.task, Task):
            try:
                object.__setattr__(self, "task", Task(self.task))
            except ValueError:
                raise TaskInputError(f"unknown task {self.task!r}; use a Task member "
                                     "(AVG, RAVG, A2V, V2A) or its official id 0-3") from None
        if self.mel_frames is None:
            object.__setattr__(self, "mel_frames", mel_frames(_count(self.latent_frames, "latent_frames")))
        _validate(self)

    @property
    def spec(self) -> TaskSpec:
        return TASK_SPECS[self.task]

    @property
    def condition_latent(self) -> Tensor:
        """The latents written over the first `video_cond` frames: [1, 48, F_c, H, W]."""
        return self.ref_latent if self.cond_latent is None else self.cond_latent

    @property
    def video_cond(self) -> int:
        return self.condition_latent.shape[2]

    @property
    def audio_cond(self) -> int:
        return 0 if self.cond_mel is None else self.cond_mel.shape[0]

    @property
    def video_shape(self) -> tuple[int, int, int, int, int]:
        _, _, _, h, w = self.ref_latent.shape
        return (1, LATENT_CHANNELS, self.latent_frames, h, w)

    @property
    def audio_shape(self) -> tuple[int, int, int]:
        return (1, self.mel_frames, MEL_BINS)

    def joint_inputs(self, *, negative: bool = False) -> JointInputs:
        """Conditioning of the conditional pass, or of the null pass (negative texts)."""
        ids, length, t5 = ((self.neg_speech_ids, self.neg_speech_len, self.t5_negative) if negative
                           else (self.speech_ids, self.speech_len, self.t5_context))
        return JointInputs(
            text_ids=ids.long()[None],
            text_lens=torch.tensor([length], dtype=torch.long, device=ids.device),
            t5_context=[t5],
            ref_latent=self.ref_latent,
            cond_latent=self.condition_latent,
            ref_mel=None if self.ref_mel is None else self.ref_mel[None],
            cond_mel=None if self.cond_mel is None else self.cond_mel[None],
            video_cond=self.video_cond,
            audio_cond=self.audio_cond,
        )

    def write_back(self, video: Tensor, audio: Tensor) -> tuple[Tensor, Tensor]:
        """Decode-ready copies: condition latents over the first `video_cond` frames, condition mel
        over the first `audio_cond` mel frames (as official `run_sample`). video
        [1,48,F,H,W], audio [1,T_a,80]."""
        cond = self.condition_latent.to(video)
        video = torch.cat([cond, video[:, :, cond.shape[2]:]], dim=2)
        if self.cond_mel is not None:
            mel = self.cond_mel.to(audio)[None]
            audio = torch.cat([mel, audio[:, mel.shape[1]:]], dim=1)
        return video, audio


def _count(value: int, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TaskInputError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _shape(t: Tensor) -> list[int]:
    return list(t.shape)


def _check_float(t: Tensor, name: str, ndim: int, layout: str) -> None:
    if not isinstance(t, Tensor):
        raise TaskInputError(f"{name} must be a tensor {layout}, got {type(t).__name__}")
    if t.ndim != ndim or not t.is_floating_point():
        raise TaskInputError(f"{name} must be a float tensor {layout}, got {t.dtype} {_shape(t)}")


def _check_ids(ids: Tensor, length: int, name: str) -> None:
    if not isinstance(ids, Tensor) or ids.ndim != 1 or ids.is_floating_point() or ids.numel() == 0:
        got = f"{ids.dtype} {_shape(ids)}" if isinstance(ids, Tensor) else type(ids).__name__
        raise TaskInputError(f"{name} must be a non-empty 1-D integer tensor of char ids, got {got}")
    if int(ids.min()) < -1:
        raise TaskInputError(f"{name} holds id {int(ids.min())}; ids are vocab indices >= 0, "
                             "or -1 for filler")
    _count(length, f"{name} length")
    if length > ids.numel():
        raise TaskInputError(f"{name} length {length} exceeds its {ids.numel()} ids")


def _check_latent(t: Tensor, name: str, frames: int | None, hw: tuple[int, int] | None) -> None:
    layout = f"[1, {LATENT_CHANNELS}, frames, H, W]"
    _check_float(t, name, 5, layout)
    if t.shape[0] != 1 or t.shape[1] != LATENT_CHANNELS:
        raise TaskInputError(f"{name} must be {layout} (batch 1, normalised Wan 2.2 latents), got "
                             f"{_shape(t)}")
    if frames is not None and t.shape[2] != frames:
        raise TaskInputError(f"{name} has {t.shape[2]} latent frames, expected {frames}")
    h, w = t.shape[3], t.shape[4]
    if hw is not None and (h, w) != hw:
        raise TaskInputError(f"{name} latent size {w}x{h} (WxH) does not match the reference latent "
                             f"{hw[1]}x{hw[0]}; encode both at the same resolution")
    if h % 2 or w % 2 or h == 0 or w == 0:
        raise TaskInputError(f"{name} latent size {w}x{h} (WxH) must be even and non-zero (pixel sides "
                             "multiples of 32); resize the image first")


def _check_mel(t: Tensor, name: str) -> None:
    _check_float(t, name, 2, f"[frames, {MEL_BINS}] (normalised log-mel)")
    if t.shape[1] != MEL_BINS or t.shape[0] == 0:
        raise TaskInputError(f"{name} must be [frames >= 1, {MEL_BINS}], got {_shape(t)}")


def _check_presence(inputs: TaskInputs, name: str, needed: bool, why: str) -> bool:
    given = getattr(inputs, name) is not None
    task = inputs.task.name
    if needed and not given:
        raise TaskInputError(f"task {task} needs {name} ({why}); provide it or pick another task")
    if given and not needed:
        raise TaskInputError(f"task {task} does not use {name} ({why}); drop it or pick the task "
                             "that uses it")
    return given


def _validate(inputs: TaskInputs) -> None:
    spec, frames = inputs.spec, inputs.latent_frames
    _count(frames, "latent_frames", minimum=2)
    _count(inputs.mel_frames, "mel_frames")
    _check_ids(inputs.speech_ids, inputs.speech_len, "speech_ids")
    _check_ids(inputs.neg_speech_ids, inputs.neg_speech_len, "neg_speech_ids")
    _check_float(inputs.t5_context, "t5_context", 2, "[L, 4096] (umT5 output for one caption)")
    _check_float(inputs.t5_negative, "t5_negative", 2, "[L, 4096] (umT5 output for one caption)")
    # Zero rows are allowed: a zeroed-out caption; the DiT pads every context to 512 zero rows anyway.
    if inputs.t5_context.shape[1] != inputs.t5_negative.shape[1] or inputs.t5_context.shape[1] == 0:
        raise TaskInputError(f"t5_context {_shape(inputs.t5_context)} and t5_negative "
                             f"{_shape(inputs.t5_negative)} must have the same (umT5) width")
    _check_latent(inputs.ref_latent, "ref_latent", 1, None)
    hw = tuple(inputs.ref_latent.shape[3:])

    window = spec.cond_video is CondVideo.WINDOW
    prefix = spec.cond_video is CondVideo.PREFIX
    if _check_presence(inputs, "cond_latent", window or prefix,
                       "VAE-encoded condition frames: the whole window (V2A) or its start (continuation)"):
        _check_latent(inputs.cond_latent, "cond_latent", None, hw)
        if prefix and not 1 <= inputs.cond_latent.shape[2] < frames:
            raise TaskInputError(
                f"cond_latent has {inputs.cond_latent.shape[2]} latent frames; a continuation takes "
                f"1 to {frames - 1} frames from the end of the previous window")
        if window and inputs.cond_latent.shape[2] != frames:
            raise TaskInputError(
                f"cond_latent has {inputs.cond_latent.shape[2]} latent frames but the window has "
                f"{frames} ({4 * (frames - 1) + 1} video frames at 16 fps); {inputs.task.name} needs "
                "a condition video of exactly the window's length")
    if _check_presence(inputs, "ref_mel", spec.needs_ref_mel,
                       "the reference voice mel (RAVG; the previous window's speech for a continuation)"):
        _check_mel(inputs.ref_mel, "ref_mel")
    if _check_presence(inputs, "cond_mel", spec.needs_cond_mel, "the condition speech mel (A2V)"):
        _check_mel(inputs.cond_mel, "cond_mel")
        if inputs.cond_mel.shape[0] > inputs.mel_frames:
            raise TaskInputError(
                f"condition audio is {inputs.cond_mel.shape[0]} mel frames "
                f"({mel_seconds(inputs.cond_mel.shape[0]):.2f} s), longer than the window's "
                f"{inputs.mel_frames} ({mel_seconds(inputs.mel_frames):.2f} s); trim it")
