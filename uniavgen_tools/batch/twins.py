"""The API twins in workflows/api/ (exported by the real frontend) with one row's values set.

The twins share node ids across tasks; each id's class is checked on load, so a regenerated twin
with other ids fails here with a clear message instead of queueing a wrong prompt.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import API_TWINS
from .rows import TASKS, Row

API_DIR = API_TWINS

CLIP, CAPTION, NEGATIVE, VAE, IMAGE = "1", "2", "3", "4", "5"
VIDEO_DIT, AUDIO_DIT, SPEECH, SAMPLER = "7", "8", "9", "10"
VOCODER, SAVE, AUDIO, VIDEO = "12", "15", "16", "18"
LONG = "21"   # the Long Form node of the long A2V / V2A twins (--long): text and settings go there
CLASSES = {CLIP: "CLIPLoader", CAPTION: "CLIPTextEncode", NEGATIVE: "CLIPTextEncode", VAE: "VAELoader",
           IMAGE: "LoadImage", VIDEO_DIT: "UniAVGenLoadVideoDiT", AUDIO_DIT: "UniAVGenLoadAudioDiT",
           SPEECH: "UniAVGenSpeechText", SAMPLER: "UniAVGenSampler", VOCODER: "UniAVGenLoadVocoder",
           SAVE: "UniAVGenSaveVideo", AUDIO: "LoadAudio", VIDEO: "LoadVideo", LONG: "UniAVGenLongForm"}
# Tasks whose rows may run as long clips (audio or video longer than one window), and their twins.
LONG_TWINS = {2: "uniavgen_long_a2v", 3: "uniavgen_long_v2a"}
# CSV file column -> (node id, input) per task.
FILE_INPUTS: dict[int, dict[str, tuple[str, str]]] = {
    0: {"ref_image_path": (IMAGE, "image")},
    1: {"ref_image_path": (IMAGE, "image"), "ref_audio_path": (AUDIO, "audio")},
    2: {"ref_image_path": (IMAGE, "image"), "audio_path": (AUDIO, "audio")},
    3: {"video_path": (VIDEO, "file")},
}
# Nodes whose values come from the row: a server refusing one of them refuses the row, not itself.
ROW_NODES = {CAPTION, NEGATIVE, IMAGE, SPEECH, AUDIO, VIDEO}
# Official inference.yaml key -> UniAVGen Sampler input.
SETTINGS = {"num_steps": "steps", "shift": "shift", "seed": "seed", "video_guidance_scale": "video_cfg",
            "audio_guidance_scale": "audio_cfg", "slg_layer": "slg_layer", "macfg_prop": "macfg_fraction"}
# Loader input -> the options that set it, the more specific first (--video-dit over --dit).
MODEL_INPUTS: dict[tuple[str, str], tuple[str, ...]] = {
    (VIDEO_DIT, "dit_name"): ("video_dit", "dit"),
    (AUDIO_DIT, "dit_name"): ("audio_dit", "dit"),
    (VIDEO_DIT, "weight_dtype"): ("weight_dtype",),
    (AUDIO_DIT, "weight_dtype"): ("weight_dtype",),
    (CLIP, "clip_name"): ("text_encoder",),
    (VAE, "vae_name"): ("vae",),
    (VOCODER, "vocoder_name"): ("vocoder",),
}
# Which single files can be a loader's own DiT when none is named (the converter's file names).
DIT_HALVES = {VIDEO_DIT: "video", AUDIO_DIT: "audio"}
INDEX_SUFFIX = ".safetensors.index.json"
PromptHook = Callable[[dict], dict]


class TwinError(ValueError):
    """The twin or the server's models do not fit: the whole batch (or one server) cannot run."""


def load_twin(task: int, api_dir: Path = API_DIR, *, long: bool = False) -> dict:
    """The task's twin; `long`: its long-clip twin (the Long Form node takes any length)."""
    if long and task not in LONG_TWINS:
        raise TwinError(f"--long runs audio-driven (2) and dubbing (3) rows of any length; task {task} "
                        "has no long twin (drop --long)")
    path = api_dir / f"{LONG_TWINS[task] if long else 'uniavgen_' + TASKS[task]}.json"
    prompt = json.loads(path.read_text(encoding="utf-8"))
    speech_nodes = {LONG} if long else {SPEECH, SAMPLER}
    needed = {CAPTION, NEGATIVE, SAVE} | speech_nodes | {n for n, _ in FILE_INPUTS[task].values()}
    for node_id in sorted(needed | (set(CLASSES) & set(prompt))):
        found = prompt.get(node_id, {}).get("class_type")
        if found != CLASSES[node_id]:
            raise TwinError(f"{path}: node {node_id} is {found!r}, expected {CLASSES[node_id]!r}; "
                            "the batch runner sets row values on the twins' node ids")
    return prompt


@dataclass
class Settings:
    """The official YAML's values and the model choices, applied to every row."""

    yaml: dict = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)   # option (dit, video_dit, vae ...) -> value


def combo_options(object_info: dict, class_type: str, name: str) -> list[str] | None:
    """A combo input's options in /object_info, in the V1 ([list, {...}]) or V3 ("COMBO") form."""
    info = object_info.get(class_type, {}).get("input", {})
    spec = {**info.get("optional", {}), **info.get("required", {})}.get(name)
    if not spec:
        return None
    if isinstance(spec[0], list):
        return [str(o) for o in spec[0]]
    if spec[0] == "COMBO" and len(spec) > 1:
        return [str(o) for o in spec[1].get("options", [])]
    return None


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _own_dits(node_id: str, options: list[str]) -> list[str]:
    """A loader's candidates: sharded index files (both halves) and single files of its half."""
    half = DIT_HALVES[node_id]
    return [o for o in options if o.endswith(INDEX_SUFFIX) or half in o.rsplit("/", 1)[-1].lower()]


def choose_models(template: dict, settings: Settings, object_info: dict) -> dict:
    """The template with the model names this server has; TwinError names what is missing.

    Without an option, the workflow's name is kept when the server has it; else a DiT loader takes
    its half's only candidate (the sharded index, or a converted single or fp8 file).
    """
    prompt = copy.deepcopy(template)
    for (node_id, name), flags in MODEL_INPUTS.items():
        node = prompt.get(node_id)
        if node is None or node["class_type"] != CLASSES[node_id]:
            continue  # not in this task's twin, or replaced (the tests' stand-in encoders)
        options = combo_options(object_info, node["class_type"], name)
        given = next(((f, settings.models[f]) for f in flags if settings.models.get(f)), None)
        if given is not None:
            flag, wanted = given
            if options is not None and wanted not in options:
                raise TwinError(f"{_flag(flag)} {wanted!r} is not on this server ({node['class_type']}."
                                f"{name} lists: {', '.join(options) or 'nothing'})")
            node["inputs"][name] = wanted
            continue
        if options is None or node["inputs"][name] in options:
            continue
        own = _own_dits(node_id, options) if node_id in DIT_HALVES else []
        if len(own) == 1:
            node["inputs"][name] = own[0]
            continue
        listed = ", ".join(own or options) or "(none: put the model in its models folder)"
        raise TwinError(f"{node['class_type']}.{name}: the workflow's {node['inputs'][name]!r} is not on "
                        f"this server; pass {_flag(flags[0])} with one of: {listed}")
    return prompt


def build_prompt(template: dict, row: Row, task: int, settings: Settings, uploaded: dict[str, str],
                 output_prefix: str) -> dict:
    """The server's template with this row's texts, uploaded files and the YAML settings."""
    prompt = copy.deepcopy(template)
    values = row.values
    prompt[CAPTION]["inputs"]["text"] = values.get("prompt", "")
    prompt[NEGATIVE]["inputs"]["text"] = str(settings.yaml.get("video_negative_prompt") or "")
    if LONG in prompt:   # a long twin: the Long Form node speaks and samples
        prompt[LONG]["inputs"].update(text=values.get("speech_content", ""),
                                      language=values.get("lang") or "en")
        sampler = prompt[LONG]
    else:
        prompt[SPEECH]["inputs"].update(
            text=values.get("speech_content", ""), language=values.get("lang") or "en",
            reference_text=values.get("ref_speech_content", "") if task == 1 else "")
        sampler = prompt[SAMPLER]
    sampler["inputs"].update({ours: settings.yaml[theirs] for theirs, ours in SETTINGS.items()
                                      if settings.yaml.get(theirs) is not None})
    for column, (node_id, name) in FILE_INPUTS[task].items():
        prompt[node_id]["inputs"][name] = uploaded[column]
    prompt[SAVE]["inputs"]["filename_prefix"] = output_prefix
    return prompt
