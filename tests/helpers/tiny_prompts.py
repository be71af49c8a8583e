"""The shipped API twins of the four tasks on the tiny models, with short node ids, for the
reliability tests.

They come from the one tiny-prompt builder (uniavgen_tools.dev.tiny_workflows.make_tiny: stand-in
encoders, tiny DiT and vocoder, 17 frames at a 64 px short side, 2 steps); only the node ids are
renamed so that a test can swap one input by name, `prompt["sampler"]["inputs"]["steps"] = 0`, and
the media point at the files tiny_media.py writes into the server's input folder.
"""

from __future__ import annotations

import copy

from uniavgen_tools.dev.stand_ins import TEXT_ENCODER_NODE, VAE_NODE
from uniavgen_tools.dev.tiny_models import VOCODER_NAME
from uniavgen_tools.dev.tiny_sizes import FRAMES, STEPS
from uniavgen_tools.dev.tiny_workflows import TINY_DIT, make_tiny, twin

TEXT = "Hello there, nice to meet you."
REFERENCE_TEXT = "This is my voice."
SHORT_IDS = {
    TEXT_ENCODER_NODE: "te", VAE_NODE: "vae", "LoadImage": "img", "UniAVGenReferenceImage": "ref",
    "UniAVGenLoadVideoDiT": "vdit", "UniAVGenLoadAudioDiT": "adit", "UniAVGenLoadVocoder": "voc",
    "UniAVGenSpeechText": "speech", "UniAVGenSampler": "sampler", "VAEDecode": "decode",
    "UniAVGenVocoderDecode": "audio", "CreateVideo": "mux", "UniAVGenSaveVideo": "save",
    "LoadAudio": "wav", "UniAVGenAudioToMel": "mel", "LoadVideo": "vid", "GetVideoComponents": "parts",
    "UniAVGenConditionVideo": "cond",
}
TWINS = {"AVG": "uniavgen_avg", "RAVG": "uniavgen_ravg", "A2V": "uniavgen_a2v", "V2A": "uniavgen_v2a"}


def _short_ids(prompt: dict) -> dict:
    sampler = next(node for node in prompt.values() if node["class_type"] == "UniAVGenSampler")
    captions = {sampler["inputs"]["positive"][0]: "pos", sampler["inputs"]["negative"][0]: "neg"}
    renamed = {old: captions.get(old) or SHORT_IDS[node["class_type"]] for old, node in prompt.items()}
    assert len(set(renamed.values())) == len(renamed), renamed
    for node in prompt.values():
        for name, value in node["inputs"].items():
            if isinstance(value, list) and len(value) == 2 and value[0] in renamed:
                node["inputs"][name] = [renamed[value[0]], value[1]]
    return {renamed[old]: node for old, node in prompt.items()}


def task_prompt(task: str, *, seed: int = 7, steps: int = STEPS, prefix: str = "uniavgen_tiny",
                text: str = TEXT, reference_text: str = "", dit: str = TINY_DIT, audio_dit: str | None = None,
                vocoder: str = VOCODER_NAME) -> dict:
    prompt = _short_ids(make_tiny(twin(TWINS[task]), dit=dit, vocoder=vocoder, steps=steps, prefix=prefix))
    prompt["sampler"]["inputs"]["seed"] = seed
    prompt["speech"]["inputs"].update(text=text, reference_text=reference_text)
    if audio_dit is not None:
        prompt["adit"]["inputs"]["dit_name"] = audio_dit
    return prompt


def avg(image: str = "ref.png", **kw) -> dict:
    """Joint audio+video from a reference image and the speech text."""
    prompt = task_prompt("AVG", **kw)
    prompt["img"]["inputs"]["image"] = image
    return prompt


def ravg(image: str = "ref.png", voice: str = "voice.wav", reference_text: str = REFERENCE_TEXT,
         **kw) -> dict:
    """AVG with a cloned voice (its transcript in Speech Text)."""
    prompt = task_prompt("RAVG", reference_text=reference_text, **kw)
    prompt["img"]["inputs"]["image"], prompt["wav"]["inputs"]["audio"] = image, voice
    return prompt


def a2v(image: str = "ref.png", audio: str = "speech.wav", **kw) -> dict:
    """Audio-driven video: the given speech is kept, the face follows it."""
    prompt = task_prompt("A2V", **kw)
    prompt["img"]["inputs"]["image"], prompt["wav"]["inputs"]["audio"] = image, audio
    return prompt


def v2a(video: str = "clip.mp4", fps: float | None = None, length: int = FRAMES, **kw) -> dict:
    """Dubbing a silent video; fps None keeps the link to the video's own frame rate."""
    prompt = task_prompt("V2A", **kw)
    prompt["vid"]["inputs"]["file"] = video
    prompt["cond"]["inputs"]["length"] = length
    if fps is not None:
        prompt["cond"]["inputs"]["fps"] = fps
    return prompt


def without_task_inputs(**kw) -> dict:
    """The AVG graph with its reference image taken away: a sampler with no task input."""
    prompt = task_prompt("AVG", **kw)
    del prompt["img"], prompt["ref"], prompt["sampler"]["inputs"]["reference_image"]
    return prompt


def edit(prompt: dict, node: str, **inputs) -> dict:
    """A copy of the prompt with some inputs of one node replaced."""
    out = copy.deepcopy(prompt)
    out[node]["inputs"].update(inputs)
    return out


def info_prompt() -> dict:
    """The cheapest prompt that runs: the pack's Info node."""
    return {"info": {"class_type": "UniAVGenInfo", "inputs": {}}}
