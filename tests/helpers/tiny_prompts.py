"""API prompts of tiny whole graphs (AVG, RAVG, A2V, V2A) for a real server, with the test stand-ins.

Geometry: short side 64, 17 frames at 16 fps, 2 steps. The inputs are files in the server's input
folder (tests/helpers/tiny_media.py writes them). Node ids are short fixed strings so tests can
swap one input: `prompt["sampler"]["inputs"]["steps"] = 0`.
"""

from __future__ import annotations

import copy

from .node_runner import DIT_FILE, FRAMES, SHORT_SIDE
from uniavgen_tools.dev.stand_ins import TEXT_ENCODER_NODE, VAE_NODE
from uniavgen_tools.dev.tiny_models import VOCODER_NAME

STEPS = 2
FPS = 16.0
TEXT = "Hello there, nice to meet you."
REFERENCE_TEXT = "This is my voice."

SAMPLER_SETTINGS = dict(length=FRAMES, seed=7, steps=STEPS, shift=5.0, video_cfg=3.0, audio_cfg=2.0,
                        macfg_fraction=0.5, slg_layer=1, batched_cfg=True)


def _node(class_type: str, **inputs) -> dict:
    return {"class_type": class_type, "inputs": inputs}


def base_prompt(*, seed: int = 7, steps: int = STEPS, prefix: str = "uniavgen_tiny", text: str = TEXT,
                reference_text: str = "", dit: str = DIT_FILE, audio_dit: str | None = None,
                vocoder: str = VOCODER_NAME) -> dict:
    """Loaders, captions, speech, sampler (no task inputs yet), decoders, CreateVideo, the save node."""
    settings = {**SAMPLER_SETTINGS, "seed": seed, "steps": steps}
    return {
        "te": _node(TEXT_ENCODER_NODE),
        "pos": _node("CLIPTextEncode", clip=["te", 0], text="A woman speaks to the camera."),
        "neg": _node("CLIPTextEncode", clip=["te", 0], text=""),
        "vae": _node(VAE_NODE),
        "vdit": _node("UniAVGenLoadVideoDiT", dit_name=dit, weight_dtype="default"),
        "adit": _node("UniAVGenLoadAudioDiT", dit_name=audio_dit or dit, weight_dtype="default"),
        "voc": _node("UniAVGenLoadVocoder", vocoder_name=vocoder),
        "speech": _node("UniAVGenSpeechText", text=text, language="en", reference_text=reference_text),
        "sampler": _node("UniAVGenSampler", video_dit=["vdit", 0], audio_dit=["adit", 0],
                         positive=["pos", 0], negative=["neg", 0], speech=["speech", 0], **settings),
        "decode": _node("VAEDecode", samples=["sampler", 0], vae=["vae", 0]),
        "audio": _node("UniAVGenVocoderDecode", vocoder=["voc", 0], mel=["sampler", 1]),
        "mux": _node("CreateVideo", images=["decode", 0], fps=FPS, audio=["audio", 0]),
        "save": _node("UniAVGenSaveVideo", video=["mux", 0], filename_prefix=prefix, crf=23),
    }


def _with_reference(prompt: dict, image: str) -> dict:
    prompt["img"] = _node("LoadImage", image=image)
    prompt["ref"] = _node("UniAVGenReferenceImage", image=["img", 0], vae=["vae", 0], short_side=SHORT_SIDE)
    prompt["sampler"]["inputs"]["reference_image"] = ["ref", 0]
    return prompt


def _with_mel(prompt: dict, audio: str, use_as: str) -> dict:
    prompt["wav"] = _node("LoadAudio", audio=audio)
    prompt["mel"] = _node("UniAVGenAudioToMel", audio=["wav", 0], use_as=use_as)
    prompt["sampler"]["inputs"][use_as] = ["mel", 0]
    return prompt


def avg(image: str = "ref.png", **kw) -> dict:
    """Joint audio+video from a reference image and the speech text."""
    return _with_reference(base_prompt(**kw), image)


def ravg(image: str = "ref.png", voice: str = "voice.wav", reference_text: str = REFERENCE_TEXT,
         **kw) -> dict:
    """AVG with a cloned voice (its transcript in Speech Text)."""
    return _with_mel(avg(image, reference_text=reference_text, **kw), voice, "reference_voice")


def a2v(image: str = "ref.png", audio: str = "speech.wav", **kw) -> dict:
    """Audio-driven video: the given speech is kept, the face follows it."""
    return _with_mel(avg(image, **kw), audio, "condition_audio")


def v2a(video: str = "clip.mp4", fps: float | None = None, length: int = FRAMES, **kw) -> dict:
    """Dubbing a silent video; fps None links GetVideoComponents' fps output."""
    prompt = base_prompt(**kw)
    prompt["vid"] = _node("LoadVideo", file=video)
    prompt["parts"] = _node("GetVideoComponents", video=["vid", 0])
    prompt["cond"] = _node("UniAVGenConditionVideo", images=["parts", 0], vae=["vae", 0],
                           fps=["parts", 2] if fps is None else fps, length=length, short_side=SHORT_SIDE)
    prompt["sampler"]["inputs"]["condition_video"] = ["cond", 0]
    return prompt


BUILDERS = {"AVG": avg, "RAVG": ravg, "A2V": a2v, "V2A": v2a}


def edit(prompt: dict, node: str, **inputs) -> dict:
    """A copy of the prompt with some inputs of one node replaced."""
    out = copy.deepcopy(prompt)
    out[node]["inputs"].update(inputs)
    return out


def info_prompt() -> dict:
    """The cheapest prompt that runs: the pack's Info node."""
    return {"info": _node("UniAVGenInfo")}
