"""The window chain of a long clip, for every task; the model work comes in as callables.

Text-driven (AVG / RAVG): window n+1 continues from window n's last frame (Task.CONTINUE) and clones
the voice anchor. Audio-driven (A2V): each window hears its slice of the recording; later windows
continue from the previous segment's last frame (Task.A2V_CONTINUE). Dubbing (V2A): each window is
given its frames; windows after the first clone the voice anchor (Task.V2A_VOICE).

Voice anchor (ANCHOR, the default): the user's reference voice with its transcript when given, else
window 1's speech with window 1's text, for every later window: one timbre, never a clone of a clone.
PREVIOUS_WINDOW clones the window before (the older behaviour): closer prosody at each seam, but the
timbre drifts a little with every window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .geometry import latent_frames, mel_frames
from .long_form import continuation
from .long_windows import (
    Segment,
    plan_audio_windows,
    plan_video_windows,
    split_text,
    window_audio,
    window_frames_of,
)
from .tasks import Task, TaskInputs
from .text import SpeechTextEncoder

log = logging.getLogger(__name__)
ANCHOR = "anchor"
PREVIOUS_WINDOW = "previous window"
VOICE_ANCHORS = (ANCHOR, PREVIOUS_WINDOW)


@dataclass(frozen=True)
class ChainOps:
    """The model work of one window, supplied by the caller (a ComfyUI node, or a test)."""
    # (inputs, window index) -> decode-ready (latent [1,48,F,H,W], mel [1,T,80])
    sample: Callable[[TaskInputs, int], tuple[torch.Tensor, torch.Tensor]]
    decode: Callable[[torch.Tensor], torch.Tensor]    # latent -> frames [F, ...]
    encode: Callable[[torch.Tensor], torch.Tensor]    # frames [f, ...] -> model-space latent [1,48,f',H,W]
    vocode: Callable[[torch.Tensor, int], torch.Tensor]   # (mel [T,80], frames) -> wave [frames*1500]
    voice_mel: Callable[[torch.Tensor], torch.Tensor]     # wave -> reference-voice mel [T,80]
    audio_mel: Callable[[torch.Tensor], torch.Tensor] = lambda wave: wave  # window audio -> condition mel


@dataclass(frozen=True)
class ChainContext:
    """What every window shares: the captions, the identity, the speech encoder and the voice."""
    encoder: SpeechTextEncoder
    language: str
    t5_context: torch.Tensor
    t5_negative: torch.Tensor
    ref_latent: torch.Tensor | None          # [1,48,1,H,W]; None (dubbing): each window's first frame
    reference_voice: torch.Tensor | None = None   # [T,80] the user's voice mel
    reference_text: str = ""
    anchor: str = ANCHOR

    def __post_init__(self) -> None:
        if self.anchor not in VOICE_ANCHORS:
            raise ValueError(f"voice anchor {self.anchor!r} is not one of {VOICE_ANCHORS}")
        if self.reference_voice is not None and not self.reference_text.strip():
            raise ValueError("a reference voice needs its exact transcript (reference_text)")


@dataclass
class WindowResult:
    inputs: TaskInputs
    video: torch.Tensor            # decode-ready latent [1,48,F,H,W]
    mel: torch.Tensor              # decode-ready mel [1,T,80]
    frames: torch.Tensor           # decoded [F, ...]
    wave: torch.Tensor | None      # vocoded speech (None where the speech was given: A2V)
    text: str = ""
    voice: torch.Tensor | None = None   # its speech as a reference-voice mel, made when first cloned


@dataclass
class Chain:
    windows: list[WindowResult] = field(default_factory=list)
    segments: list[Segment] | None = None     # A2V / V2A; None for text-driven chains
    texts: list[str] = field(default_factory=list)


def _inputs(ctx: ChainContext, task: Task, text: str, frames: int, *, ref_latent: torch.Tensor,
            reference_text: str | None = None, **tensors) -> TaskInputs:
    speech = ctx.encoder.encode_for_task(text, ctx.language, int(task), reference_text)
    return TaskInputs(task=task, speech_ids=speech.positive.ids[0], speech_len=int(speech.positive.lens[0]),
                      neg_speech_ids=speech.negative.ids[0], neg_speech_len=int(speech.negative.lens[0]),
                      t5_context=ctx.t5_context, t5_negative=ctx.t5_negative, ref_latent=ref_latent,
                      latent_frames=latent_frames(frames), **tensors)


def _voice(ctx: ChainContext, ops: ChainOps, chain: Chain) -> tuple[torch.Tensor | None, str | None]:
    """(mel, transcript) the next window clones; (None, None) before any voice exists."""
    if ctx.anchor == ANCHOR and ctx.reference_voice is not None:
        return ctx.reference_voice, ctx.reference_text
    if not chain.windows:
        return None, None
    source = chain.windows[0] if ctx.anchor == ANCHOR else chain.windows[-1]
    if source.voice is None:
        source.voice = ops.voice_mel(source.wave)   # computed once per window
    return source.voice, source.text


def _first_voice(ctx: ChainContext) -> tuple[torch.Tensor | None, str | None]:
    """Window 1 clones the user's voice when one is given (either option)."""
    if ctx.reference_voice is None:
        return None, None
    return ctx.reference_voice, ctx.reference_text


def _run(ops: ChainOps, chain: Chain, inputs: TaskInputs, text: str, *, vocode_frames: int | None) -> None:
    n = len(chain.windows)
    video, mel = ops.sample(inputs, n)
    frames = ops.decode(video)
    wave = None if vocode_frames is None else ops.vocode(mel[0], vocode_frames)
    chain.windows.append(WindowResult(inputs, video, mel, frames, wave, text))
    log.info("long clip: window %d done (%s, %d frames)", n + 1, inputs.task.name, frames.shape[0])


def text_chain(ctx: ChainContext, ops: ChainOps, texts: list[str], frames: int) -> Chain:
    """A long text: window 1 is AVG (RAVG with a reference voice), later ones continue (k = 1)."""
    if ctx.ref_latent is None:
        raise ValueError("a text-driven long clip needs a reference image")
    chain = Chain(texts=list(texts))
    for n, text in enumerate(texts):
        if n == 0:
            mel, ref_text = _first_voice(ctx)
            task = Task.AVG if mel is None else Task.RAVG
            inputs = _inputs(ctx, task, text, frames, ref_latent=ctx.ref_latent, reference_text=ref_text,
                             ref_mel=mel)
        else:
            mel, ref_text = _voice(ctx, ops, chain)
            last = ops.encode(chain.windows[-1].frames[-1:])       # k = 1: the last frame as an image
            speech = ctx.encoder.encode_for_task(text, ctx.language, Task.CONTINUE, reference_text=ref_text)
            inputs = continuation(chain.windows[0].inputs, cond_latent=last, voice_mel=mel, speech=speech)
        _run(ops, chain, inputs, text, vocode_frames=frames)
    return chain


def audio_chain(ctx: ChainContext, ops: ChainOps, wave: torch.Tensor, text: str, window_frames: int) -> Chain:
    """A long recording (mono 24 kHz [N]) animates the reference face; the speech is given, so no
    voice is generated or cloned. Window n+1 continues from segment n's last kept frame."""
    if ctx.ref_latent is None:
        raise ValueError("an audio-driven long clip needs a reference image")
    segments = plan_audio_windows(wave, window_frames)
    texts = split_text(text, ctx.language, [s.count for s in segments])
    chain = Chain(segments=segments, texts=texts)
    for n, (segment, words) in enumerate(zip(segments, texts, strict=True)):
        # the mel of the window's samples may run a frame past the window's mel length: cut it
        cond_mel = ops.audio_mel(window_audio(wave, segment))[:mel_frames(latent_frames(segment.generated))]
        if n == 0:
            inputs = _inputs(ctx, Task.A2V, words, segment.generated, ref_latent=ctx.ref_latent,
                             cond_mel=cond_mel)
        else:
            previous, before = chain.windows[-1], segments[n - 1]
            last = ops.encode(previous.frames[before.overlap + before.count - 1:][:1])
            inputs = _inputs(ctx, Task.A2V_CONTINUE, words, segment.generated, ref_latent=ctx.ref_latent,
                             cond_latent=last, cond_mel=cond_mel)
        _run(ops, chain, inputs, words, vocode_frames=None)
    return chain


def video_chain(ctx: ChainContext, ops: ChainOps, frames: torch.Tensor, text: str,
                window_frames: int) -> Chain:
    """A long silent clip [F, ...] gets speech: windows partition its frames; every window after the
    first (and the first too, with a user voice) clones the voice anchor (Task.V2A_VOICE)."""
    segments = plan_video_windows(frames.shape[0], window_frames)
    texts = split_text(text, ctx.language, [s.count for s in segments])
    chain = Chain(segments=segments, texts=texts)
    for n, (segment, words) in enumerate(zip(segments, texts, strict=True)):
        cond = ops.encode(window_frames_of(frames, segment))
        ref = ctx.ref_latent if ctx.ref_latent is not None else cond[:, :, :1]
        mel, ref_text = _first_voice(ctx) if n == 0 else _voice(ctx, ops, chain)
        if mel is None:
            inputs = _inputs(ctx, Task.V2A, words, segment.generated, ref_latent=ref, cond_latent=cond)
        else:
            inputs = _inputs(ctx, Task.V2A_VOICE, words, segment.generated, ref_latent=ref,
                             reference_text=ref_text, cond_latent=cond, ref_mel=mel)
        _run(ops, chain, inputs, words, vocode_frames=segment.generated)
    return chain
