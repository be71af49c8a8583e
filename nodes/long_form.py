"""Long Form node: a long clip as a chain of 5-second windows (the chain is uniavgen_core.chain),
driven by a long text, a long recording (A2V) or a long silent video (dubbing)."""

from __future__ import annotations

import logging

import comfy.latent_formats
import comfy.model_management as mm
import comfy.utils
import torch
from comfy_api.latest import io

from ..uniavgen_core import chain
from ..uniavgen_core.chain import ANCHOR, VOICE_ANCHORS, ChainContext, ChainOps
from ..uniavgen_core.geometry import OFFICIAL_LATENT_FRAMES, SPACE_STRIDE, VIDEO_FPS, frames_at_video_fps, \
    pixel_frames
from ..uniavgen_core.limits import LimitError, check_windows
from ..uniavgen_core.long_form import join_windows, plan_windows
from ..uniavgen_core.long_windows import join_segments, join_speech, plan_audio_windows, plan_video_windows
from ..uniavgen_core.mel import MelSpectrogram
from ..uniavgen_core.settings import SEEDS   # window n uses seed + n, wrapped into the seed range
from ..uniavgen_core.speech_rate import WINDOW_SECONDS
from ..uniavgen_core.tasks import TaskInputError
from ..uniavgen_core.text import SpeechTextEncoder
from ..uniavgen_core.waveform import SAMPLE_RATE, prepare_speech
from .caption import caption_context
from .combos import check_combos, combo_problem
from .imaging import pick_frames
from .io_types import AudioDiT, Mel, VideoDiT, Vocoder
from .native_guider import GuiderSettings, sample_task
from .native_model import native_model
from .payloads import MelClip, MelRole
from .sampler import UniAVGenSampler
from .setting_checks import check_settings
from .task_inputs import _check_role, check_vocabulary, normalise_latent, user_words
from .vocoder import check_finite_wave, fit_length

log = logging.getLogger(__name__)
NODE = "UniAVGen Long Form"
LANGUAGES = ["en", "zh"]
FRAMES = pixel_frames(OFFICIAL_LATENT_FRAMES)  # one released window: 81 frames at 16 fps
_MEL = MelSpectrogram()


def _sampler_widgets() -> list:
    """The sampler's own settings widgets (same names, defaults and tooltips)."""
    names = ("seed", "steps", "shift", "video_cfg", "audio_cfg", "macfg_fraction", "slg_layer",
             "batched_cfg")
    return [i for i in UniAVGenSampler.define_schema().inputs if i.id in names]


class LongForm(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenLongForm",
            display_name=NODE,
            category="UniAVGen/sampling",
            description="A long clip as a chain of 5.06 s windows with one face and one voice. Text "
                        "only: speaks a long text, each window continuing from the last frame of the one "
                        "before (k = 1). condition_audio: animates the face with a long recording. "
                        "condition_video: dubs a long silent clip. Returns one joined clip and the plan.",
            inputs=[
                VideoDiT.Input("video_dit", tooltip="From UniAVGen Load Video DiT."),
                AudioDiT.Input("audio_dit", tooltip="From UniAVGen Load Audio DiT."),
                Vocoder.Input("vocoder", tooltip="From UniAVGen Load Vocoder (the windows' speech is "
                                                 "decoded to carry the voice on)."),
                io.Vae.Input("vae", tooltip="The Wan 2.2 VAE: decodes each window and encodes its last "
                                            "frame for the next one."),
                io.Conditioning.Input("positive", tooltip="The video caption (CLIPTextEncode, umT5)."),
                io.Conditioning.Input("negative", tooltip="Negative caption; the official one is empty."),
                io.Latent.Input("reference_image", tooltip="The face (UniAVGen Reference Image); it anchors "
                                                           "the identity in every window."),
                io.String.Input("text", multiline=True, default="",
                                tooltip="Everything the person says. It is split at sentence and clause "
                                        "ends into windows that fit 5.06 s each. With condition_audio or "
                                        "condition_video it may be empty; else it is spread over the "
                                        "planned windows by speaking time."),
                io.Combo.Input("language", options=LANGUAGES, default="en",
                               tooltip="en: English. zh: Chinese (pinyin; needs pypinyin and jieba)."),
                io.Float.Input("window_seconds", default=round(WINDOW_SECONDS * 0.9, 2), min=1.0,
                               max=WINDOW_SECONDS, step=0.1,
                               tooltip="Speech per window at a natural pace when planning the split; "
                                       "lower it if speech sounds rushed (keep it below the window's "
                                       "length / 16 s)."),
                io.Int.Input("length", default=FRAMES, min=9, max=321, step=4,
                             tooltip="Frames per window at 16 fps (4k+1); 81 = 5.06 s, the trained "
                                     "length. Windows overlap by one frame."),
                *_sampler_widgets(),
                Mel.Input("reference_voice", optional=True,
                          tooltip="Optional voice to clone (Audio To Mel, use_as reference_voice): "
                                  "window 1 clones it, and later windows too with voice_anchor 'anchor'."),
                io.String.Input("reference_text", multiline=True, default="", optional=True,
                                tooltip="The exact transcript of reference_voice (only with it)."),
                io.Combo.Input("voice_anchor", options=list(VOICE_ANCHORS), default=ANCHOR, optional=True,
                               tooltip="Whose voice later windows clone. anchor (default): reference_voice "
                                       "when connected, else window 1's speech: one timbre for the whole "
                                       "clip. previous window: the window before (smoother prosody at "
                                       "seams, but the timbre drifts as a clone of a clone)."),
                io.Audio.Input("condition_audio", optional=True,
                               tooltip="A recording of any length to animate the face with (long "
                                       "audio-to-video). It is cut at pauses into windows of 'length' "
                                       "frames; the output video lasts exactly as long and the audio "
                                       "output is this recording, unchanged. 'text' (optional) is its "
                                       "transcript."),
                io.Image.Input("condition_video", optional=True,
                               tooltip="A silent video of any length to dub (long video-to-audio); each "
                                       "window is cropped and scaled to the reference image's size. Split "
                                       "into near-equal windows of at most "
                                       "'length' frames; 'text' is spread over them; the images output "
                                       "is this video (at 16 fps), unchanged."),
                io.Float.Input("condition_video_fps", default=float(VIDEO_FPS), min=1.0, max=240.0,
                               step=0.001, optional=True,
                               tooltip="Frame rate of condition_video (GetVideoComponents' fps output); "
                                       "frames are picked to make 16 fps, the model's rate."),
            ],
            outputs=[io.Image.Output(display_name="images"), io.Audio.Output(display_name="audio"),
                     io.String.Output(display_name="plan")],
        )

    @classmethod
    def validate_inputs(cls, language: str | None = None, voice_anchor: str | None = None) -> bool | str:
        # ComfyUI 0.3.75 does not check V3 combo values sent through the API. The sampler settings
        # are checked in execute(), before any window: ComfyUI would pin an error from here on every
        # input this signature names, and the combo errors must stay on their own input.
        return (combo_problem(cls, NODE, f"Choose one of {LANGUAGES}.", language=language)
                or combo_problem(cls, NODE, f"Choose one of {list(VOICE_ANCHORS)}.",
                                 voice_anchor=voice_anchor)
                or True)

    @classmethod
    def execute(cls, video_dit, audio_dit, vocoder, vae, positive, negative, reference_image: dict,
                text: str, language: str, window_seconds: float, length: int, seed: int, steps: int,
                shift: float,
                video_cfg: float, audio_cfg: float, macfg_fraction: float, slg_layer: int,
                batched_cfg: bool, reference_voice: MelClip | None = None,
                reference_text: str = "", voice_anchor: str = ANCHOR, condition_audio: dict | None = None,
                condition_video: torch.Tensor | None = None,
                condition_video_fps: float = float(VIDEO_FPS)) -> io.NodeOutput:
        check_combos(cls, NODE, f"Choose one of {LANGUAGES}.", language=language)
        check_combos(cls, NODE, f"Choose one of {list(VOICE_ANCHORS)}.", voice_anchor=voice_anchor)
        if condition_audio is not None and condition_video is not None:
            raise ValueError(f"{NODE}: 'condition_audio' and 'condition_video' are both connected; a long "
                             "clip is driven by text, by audio (A2V) or by video (dubbing): connect one.")
        # the sampler's rules (uniavgen_core.settings), checked before any window runs
        check_settings(NODE, length=length, seed=seed, steps=steps, shift=shift, video_cfg=video_cfg,
                       audio_cfg=audio_cfg, macfg_fraction=macfg_fraction, slg_layer=slg_layer)
        driven_by_text = condition_audio is None and condition_video is None
        if driven_by_text and window_seconds > length / VIDEO_FPS:
            raise ValueError(f"{NODE}: 'length' {length} must hold 'window_seconds' {window_seconds} s of "
                             f"speech ({length / VIDEO_FPS:.2f} s); e.g. length 81 with 4.5 s.")
        if reference_voice is not None:
            _check_role("reference_voice", reference_voice, MelRole.REFERENCE_VOICE, NODE)
        try:
            ctx = ChainContext(encoder=SpeechTextEncoder(audio_dit.model.vocabulary), language=language,
                               t5_context=caption_context(positive, input_name="positive").float(),
                               t5_negative=caption_context(negative, input_name="negative").float(),
                               ref_latent=normalise_latent(reference_image, "reference_image", NODE),
                               reference_voice=None if reference_voice is None
                               else reference_voice.mel.float(),
                               reference_text=reference_text.strip(), anchor=voice_anchor)
            wave = None if condition_audio is None else _speech(condition_audio)
            if condition_video is not None:
                condition_video = _at_16_fps(condition_video, condition_video_fps)
            plan = _plan(text, language, window_seconds, length, wave, condition_video)
            check_windows(len(plan))   # before any sampling: each window is a whole run
        except LimitError as err:
            driver = ("condition_audio" if condition_audio is not None
                      else "condition_video" if condition_video is not None else "text")
            raise ValueError(err.worded(NODE, driver)) from err
        except ValueError as err:
            raise ValueError(f"{NODE}: {user_words(err)}") from err
        if driven_by_text:
            for words in plan_windows(text, language, window_seconds):
                check_vocabulary(ctx.encoder, words.strip(), language, NODE, text_node=NODE)
        log.info("%s: %d windows\n%s", NODE, len(plan), "\n".join(plan))
        model = native_model(video_dit, audio_dit)   # the sampler node's path: one implementation
        guide = GuiderSettings(video_cfg=video_cfg, audio_cfg=audio_cfg, macfg_fraction=macfg_fraction,
                               slg_layer=slg_layer, batched_cfg=batched_cfg)
        pbar = comfy.utils.ProgressBar(len(plan) * steps)
        size = tuple(SPACE_STRIDE * d for d in ctx.ref_latent.shape[-2:])   # (H, W) in pixels
        ops = _ops(model, vae, vocoder, guide, seed=seed, steps=steps, shift=shift, pbar=pbar, size=size)
        try:
            return _run_chain(ctx, ops, text=text, language=language, window_seconds=window_seconds,
                              length=length, wave=wave, condition_audio=condition_audio,
                              condition_video=condition_video, plan=plan)
        except TaskInputError as err:   # a window's inputs do not fit (e.g. a size mismatch)
            raise ValueError(f"{NODE}: {err}") from err


def _run_chain(ctx: ChainContext, ops: ChainOps, *, text: str, language: str, window_seconds: float,
               length: int, wave, condition_audio, condition_video, plan: list[str]) -> io.NodeOutput:
    """The core chain for the connected drive, and the joined clip."""
    if condition_audio is not None:
        done = chain.audio_chain(ctx, ops, wave, text.strip(), length)
        images = join_segments([w.frames for w in done.windows], done.segments)
        audio = condition_audio                       # the recording itself, unchanged
    elif condition_video is not None:
        done = chain.video_chain(ctx, ops, condition_video, text.strip(), length)
        images = condition_video                      # the clip itself, unchanged
        wave = join_speech([w.wave for w in done.windows], done.segments)
        audio = {"waveform": wave.reshape(1, 1, -1), "sample_rate": SAMPLE_RATE}
    else:
        texts = [w.strip() for w in plan_windows(text, language, window_seconds)]
        done = chain.text_chain(ctx, ops, texts, length)
        images, wave = join_windows([w.frames for w in done.windows], [w.wave for w in done.windows])
        audio = {"waveform": wave.reshape(1, 1, -1), "sample_rate": SAMPLE_RATE}
    report = "\n".join(_describe(plan, done))
    return io.NodeOutput(_as_image(images), audio, report, ui={"text": [report]})


def _speech(condition_audio: dict) -> torch.Tensor:
    """The recording as the model hears it: mono 24 kHz, peak-rescaled once for the whole clip."""
    waveform, rate = condition_audio["waveform"], int(condition_audio["sample_rate"])
    if waveform.ndim != 3 or waveform.shape[0] != 1 or waveform.shape[-1] == 0:
        raise ValueError(f"'condition_audio' must hold one clip [1, channels, samples], got "
                         f"{tuple(waveform.shape)}; split batches before this node.")
    return prepare_speech(waveform[0].float().cpu(), rate)


def _plan(text: str, language: str, window_seconds: float, length: int, wave: torch.Tensor | None,
          video: torch.Tensor | None) -> list[str]:
    """One line per window, planned before any sampling (the chain plans the same way)."""
    if wave is not None:
        return [_span(n, s) for n, s in enumerate(plan_audio_windows(wave, length))]
    if video is not None:
        if video.ndim != 4 or video.shape[0] == 0:
            raise ValueError(f"'condition_video' must be IMAGE frames [F, H, W, C], got "
                             f"{tuple(video.shape)}")
        return [_span(n, s) for n, s in enumerate(plan_video_windows(video.shape[0], length))]
    texts = plan_windows(text, language, window_seconds)
    return [f"window {n + 1}: {w.strip()}" for n, w in enumerate(texts)]


def _span(n: int, segment) -> str:
    return (f"window {n + 1}: frames {segment.start}-{segment.stop - 1} "
            f"({segment.start / VIDEO_FPS:.2f}-{segment.stop / VIDEO_FPS:.2f} s)")


def _describe(plan: list[str], done) -> list[str]:
    """The plan with each window's text (A2V / V2A: the part of the text it was given)."""
    if done.segments is None:
        return plan
    return [f"{line}: {words.strip()}" if words.strip() else line
            for line, words in zip(plan, done.texts, strict=True)]


def _at_16_fps(images: torch.Tensor, fps: float) -> torch.Tensor:
    """Nearest-frame resampling of the whole clip to 16 fps (a view when it already is)."""
    if images.ndim != 4 or images.shape[0] == 0 or images.shape[-1] not in (3, 4):
        raise ValueError(f"'condition_video' must be IMAGE frames [F, H, W, 3], got {tuple(images.shape)}")
    if abs(fps - VIDEO_FPS) < 1e-6:
        return images
    return pick_frames(images, fps, max(frames_at_video_fps(images.shape[0], fps), 1))


def _ops(model, vae, vocoder, guide: GuiderSettings, *, seed: int, steps: int, shift: float,
         pbar: comfy.utils.ProgressBar, size: tuple[int, int]) -> ChainOps:
    """The model work of one window, on ComfyUI's native path, for the core chain."""
    fmt = comfy.latent_formats.Wan22()

    def sample(inputs, n: int):
        out = sample_task(model, inputs, guide, seed=(seed + n) % SEEDS, steps=steps, shift=shift,
                          callback=_progress(pbar, n * steps), node=f"{NODE}: window {n + 1}")
        mm.throw_exception_if_processing_interrupted()
        return out

    def decode(video: torch.Tensor) -> torch.Tensor:
        # decode now, on the CPU side: finished windows keep no DiT activations alive, and their
        # frames are kept as 8 bits (a quarter of float32); the joined clip converts back
        return to_uint8_frames(_decode_frames(vae, fmt.process_out(video.float())))

    def encode(frames: torch.Tensor) -> torch.Tensor:
        frames = frames[..., :3]
        if frames.dtype == torch.uint8:
            frames = frames.float() / 255.0
        if tuple(frames.shape[1:3]) != size:   # a dubbed clip's window: crop and scale to the face's size
            moved = comfy.utils.common_upscale(frames.movedim(-1, 1), size[1], size[0], "bilinear", "center")
            frames = moved.movedim(1, -1)
        return fmt.process_in(vae.encode(frames).float()).cpu()

    def vocode(mel: torch.Tensor, frames: int) -> torch.Tensor:
        mm.load_models_gpu([vocoder])
        wave = vocoder.model.decode(mel.float().to(vocoder.load_device)).float().cpu().reshape(1, 1, -1)
        check_finite_wave(NODE, wave, MelClip(mel=mel.float().cpu(), role=MelRole.GENERATED))
        return fit_length(wave, frames * SAMPLE_RATE // VIDEO_FPS)[0, 0]

    def voice_mel(wave: torch.Tensor) -> torch.Tensor:
        return _MEL(prepare_speech(wave, SAMPLE_RATE, reference=True))

    return ChainOps(sample=sample, decode=decode, encode=encode, vocode=vocode, voice_mel=voice_mel,
                    audio_mel=_MEL)


def _progress(pbar: comfy.utils.ProgressBar, offset: int):
    """Step callback of one window (ComfyUI's: step from 0): the bar runs across all windows; Stop
    works inside a window (the guider checks after every step)."""
    def callback(step: int, x0, x, total: int) -> None:
        pbar.update_absolute(offset + step + 1)

    return callback


def to_uint8_frames(frames: torch.Tensor) -> torch.Tensor:
    """IMAGE [F, H, W, C] in 0..1 -> uint8 0..255; refuses NaN/inf (a black window otherwise)."""
    if not torch.isfinite(frames).all():
        raise ValueError(f"{NODE}: the VAE decoded NaN/inf pixels; check the 'vae' (use the Wan 2.2 VAE) "
                         "and its weights.")
    return frames.clamp(0.0, 1.0).mul(255.0).round_().to(torch.uint8)


def _as_image(frames: torch.Tensor) -> torch.Tensor:
    return frames.float().div_(255.0) if frames.dtype == torch.uint8 else frames


def _decode_frames(vae, latent: torch.Tensor) -> torch.Tensor:
    """VAE-decode one window's latent to IMAGE frames [F, H, W, 3] on the CPU."""
    images = vae.decode(latent)
    return images.reshape(-1, *images.shape[-3:]).cpu()
