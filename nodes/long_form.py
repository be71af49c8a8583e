"""Long-form node: a long speech text as a chain of 5-second windows, joined into one clip."""

from __future__ import annotations

import logging

import comfy.latent_formats
import comfy.model_management as mm
import comfy.utils
import torch
from comfy_api.latest import io

from ..uniavgen_core.limits import LimitError, check_windows
from ..uniavgen_core.long_form import continuation, join_windows, plan_windows
from ..uniavgen_core.mel import MelSpectrogram
from ..uniavgen_core.sampler import SamplerError, SamplerSettings
from ..uniavgen_core.speech_rate import WINDOW_SECONDS
from ..uniavgen_core.tasks import Task
from ..uniavgen_core.text import SpeechTextEncoder
from ..uniavgen_core.waveform import SAMPLE_RATE, prepare_speech
from .combos import check_combos, combo_problem
from .io_types import AudioDiT, Mel, VideoDiT, Vocoder
from .native_guider import GuiderSettings, sample_task
from .native_model import native_model
from .payloads import MelClip, MelRole, SpeechRequest
from .sampler import UniAVGenSampler
from .task_inputs import build_task_inputs, check_vocabulary, user_words
from .vocoder import check_finite_wave, fit_length

log = logging.getLogger(__name__)
NODE = "UniAVGen Long-form"
FRAMES = 81  # one released window: 81 frames at 16 fps
LANGUAGES = ["en", "zh"]
SEEDS = 2**64  # window n uses seed + n, wrapped into the range the schema allows
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
            description="Speaks a long text as a chain of 5.06 s windows with the same face and voice: "
                        "each window continues from the last frame of the one before (k = 1) and uses "
                        "its speech as the reference voice. Returns one joined clip.",
            inputs=[
                VideoDiT.Input("video_dit", tooltip="From Load UniAVGen Video DiT."),
                AudioDiT.Input("audio_dit", tooltip="From Load UniAVGen Audio DiT."),
                Vocoder.Input("vocoder", tooltip="From Load UniAVGen Vocoder (the windows' speech is "
                                                 "decoded to carry the voice on)."),
                io.Vae.Input("vae", tooltip="The Wan 2.2 VAE: decodes each window and encodes its last "
                                            "frame for the next one."),
                io.Conditioning.Input("positive", tooltip="The video caption (CLIPTextEncode, umT5)."),
                io.Conditioning.Input("negative", tooltip="Negative caption; the official one is empty."),
                io.Latent.Input("reference_image", tooltip="The face (UniAVGen Reference Image); it anchors "
                                                           "the identity in every window."),
                io.String.Input("text", multiline=True, default="",
                                tooltip="Everything the person says. It is split at sentence and clause "
                                        "ends into windows that fit 5.06 s each."),
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
                          tooltip="Optional voice to clone for the first window (Audio To Mel, "
                                  "use_as reference_voice); later windows carry it on."),
                io.String.Input("reference_text", multiline=True, default="", optional=True,
                                tooltip="The exact transcript of reference_voice (only with it)."),
            ],
            outputs=[io.Image.Output(display_name="images"), io.Audio.Output(display_name="audio"),
                     io.String.Output(display_name="plan")],
        )

    @classmethod
    def validate_inputs(cls, language: str | None = None) -> bool | str:
        return combo_problem(cls, NODE, f"Choose one of {LANGUAGES}.", language=language) or True

    @classmethod
    def execute(cls, video_dit, audio_dit, vocoder, vae, positive, negative, reference_image: dict,
                text: str, language: str, window_seconds: float, length: int, seed: int, steps: int,
                shift: float,
                video_cfg: float, audio_cfg: float, macfg_fraction: float, slg_layer: int,
                batched_cfg: bool, reference_voice: MelClip | None = None,
                reference_text: str = "") -> io.NodeOutput:
        if (length - 1) % 4 or window_seconds > length / 16:
            raise ValueError(f"{NODE}: 'length' {length} must be 4k+1 frames and hold 'window_seconds' "
                             f"{window_seconds} s of speech ({length / 16:.2f} s); e.g. length 81 with "
                             "4.5 s.")
        check_combos(cls, NODE, f"Choose one of {LANGUAGES}.", language=language)
        try:
            windows = [w.strip() for w in plan_windows(text, language, window_seconds)]
            check_windows(len(windows))  # before any sampling: each window is a whole run
        except LimitError as err:
            raise ValueError(err.worded(NODE, "text")) from err
        except ValueError as err:
            raise ValueError(f"{NODE}: 'text' {err}") from err
        try:
            settings = [SamplerSettings(steps=steps, shift=shift, video_cfg=video_cfg,
                                        audio_cfg=audio_cfg, macfg_fraction=macfg_fraction,
                                        slg_layer=slg_layer, seed=(seed + n) % SEEDS, batched_cfg=batched_cfg)
                        for n in range(len(windows))]
        except SamplerError as err:
            raise ValueError(f"{NODE}: {user_words(err)}") from err
        plan = "\n".join(f"window {n + 1}: {w}" for n, w in enumerate(windows))
        log.info("%s: %d windows\n%s", NODE, len(windows), plan)
        encoder = SpeechTextEncoder(audio_dit.model.vocabulary)
        for words in windows:
            check_vocabulary(encoder, words, language, NODE, text_node=NODE)
        model = native_model(video_dit, audio_dit)   # the sampler node's path: one implementation
        guide = GuiderSettings(video_cfg=video_cfg, audio_cfg=audio_cfg, macfg_fraction=macfg_fraction,
                               slg_layer=slg_layer, batched_cfg=batched_cfg)
        fmt = comfy.latent_formats.Wan22()
        pbar = comfy.utils.ProgressBar(len(windows) * steps)
        frames_out, audio_out, inputs, last_frame = [], [], None, None
        for n, words in enumerate(windows):
            device = torch.device("cpu")   # conditioning lives on the CPU; sampling moves it
            if n == 0:
                task = Task.RAVG if reference_voice is not None else Task.AVG
                inputs = build_task_inputs(
                    task=task, speech=SpeechRequest(words, language, reference_text.strip()),
                    encoder=encoder,
                    positive=positive, negative=negative, reference_image=reference_image,
                    reference_voice=reference_voice, condition_audio=None, condition_video=None,
                    length=length, device=device)
            else:
                last = vae.encode(last_frame[..., :3])  # k = 1: the last frame as an image (full precision)
                voice = _MEL(prepare_speech(audio_out[-1], SAMPLE_RATE, reference=True))
                speech = encoder.encode_for_task(words, language, Task.CONTINUE,
                                                 reference_text=windows[n - 1])
                inputs = continuation(inputs, cond_latent=fmt.process_in(last.float()).to(device),
                                      voice_mel=voice.to(device), speech=speech)
            video, audio = sample_task(model, inputs, guide, seed=settings[n].seed, steps=steps, shift=shift,
                                       callback=_progress(pbar, n * steps), node=f"{NODE}: window {n + 1}")
            # decode now, on the CPU side: finished windows keep no DiT activations alive
            frames = _decode_frames(vae, fmt.process_out(video.float()))
            mm.load_models_gpu([vocoder])
            mel = audio[0].float()
            wave = vocoder.model.decode(mel.to(vocoder.load_device)).float().cpu().reshape(1, 1, -1)
            check_finite_wave(NODE, wave, MelClip(mel=mel.cpu(), role=MelRole.GENERATED))
            audio_out.append(fit_length(wave, frames.shape[0] * SAMPLE_RATE // 16)[0, 0])
            last_frame = frames[-1:].clone()
            # finished windows are kept as 8-bit frames (a quarter of float32); the join converts back
            frames_out.append(to_uint8_frames(frames))
            del frames
            mm.throw_exception_if_processing_interrupted()
        images, wave = join_windows(frames_out, audio_out)
        images = images.float().div_(255.0)
        audio = {"waveform": wave.reshape(1, 1, -1), "sample_rate": SAMPLE_RATE}
        return io.NodeOutput(images, audio, plan, ui={"text": [plan]})


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


def _decode_frames(vae, latent: torch.Tensor) -> torch.Tensor:
    """VAE-decode one window's latent to IMAGE frames [F, H, W, 3] on the CPU."""
    images = vae.decode(latent)
    return images.reshape(-1, *images.shape[-3:]).cpu()
