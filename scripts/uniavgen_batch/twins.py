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

from .rows import TASKS, Row

API_DIR = Path(__file__).resolve().parents[2] / "workflows" / "api"

CLIP, CAPTION, NEGATIVE, VAE, IMAGE = "1", "2", "3", "4", "5"
VIDEO_DIT, AUDIO_DIT, SPEECH, SAMPLER = "7", "8", "9", "10"
VOCODER, SAVE, AUDIO, VIDEO = "12", "15", "16", "18"
CLASSES = {CLIP: "CLIPLoader", CAPTION: "CLIPTextEncode", NEGATIVE: "CLIPTextEncode", VAE: "VAELoader",
           IMAGE: "LoadImage", VIDEO_DIT: "UniAVGenLoadVideoDiT", AUDIO_DIT: "UniAVGenLoadAudioDiT",
           SPEECH: "UniAVGenSpeechText", SAMPLER: "UniAVGenSampler", VOCODER: "UniAVGenLoadVocoder",
           SAVE: "UniAVGenSaveVideo", AUDIO: "LoadAudio", VIDEO: "LoadVideo"}
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
# --option -> the loader inputs it sets.
MODEL_INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "dit": ((VIDEO_DIT, "dit_name"), (AUDIO_DIT, "dit_name")),
    "weight_dtype": ((VIDEO_DIT, "weight_dtype"), (AUDIO_DIT, "weight_dtype")),
    "text_encoder": ((CLIP, "clip_name"),),
    "vae": ((VAE, "vae_name"),),
    "vocoder": ((VOCODER, "vocoder_name"),),
}
PromptHook = Callable[[dict], dict]


class TwinError(ValueError):
    """The twin or the server's models do not fit: the whole batch (or one server) cannot run."""


def load_twin(task: int, api_dir: Path = API_DIR) -> dict:
    path = api_dir / f"uniavgen_{TASKS[task]}.json"
    prompt = json.loads(path.read_text(encoding="utf-8"))
    needed = {CAPTION, NEGATIVE, SPEECH, SAMPLER, SAVE} | {n for n, _ in FILE_INPUTS[task].values()}
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
    models: dict[str, str] = field(default_factory=dict)   # MODEL_INPUTS key -> value given by the user


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


def choose_models(template: dict, settings: Settings, object_info: dict) -> dict:
    """The template with the model names this server has; TwinError names what is missing."""
    prompt = copy.deepcopy(template)
    for option, targets in MODEL_INPUTS.items():
        for node_id, name in targets:
            node = prompt.get(node_id)
            if node is None or node["class_type"] != CLASSES[node_id]:
                continue  # not in this task's twin, or replaced (the tests' stand-in encoders)
            options = combo_options(object_info, node["class_type"], name)
            wanted = settings.models.get(option)
            if options is None:
                if wanted:
                    node["inputs"][name] = wanted
                continue
            if wanted:
                if wanted not in options:
                    raise TwinError(f"--{option.replace('_', '-')} {wanted!r} is not on this server "
                                    f"({node['class_type']}.{name} lists: {', '.join(options) or 'nothing'})")
                node["inputs"][name] = wanted
            elif node["inputs"][name] not in options:
                if option == "dit" and len(options) == 1:
                    node["inputs"][name] = options[0]  # the only DiT there: sharded, single file or fp8
                else:
                    raise TwinError(
                        f"{node['class_type']}.{name}: the workflow's {node['inputs'][name]!r} is not on "
                        f"this server; pass --{option.replace('_', '-')} with one of: "
                        f"{', '.join(options) or '(none: put the model in its models folder)'}")
    return prompt


def build_prompt(template: dict, row: Row, task: int, settings: Settings, uploaded: dict[str, str],
                 output_prefix: str) -> dict:
    """The server's template with this row's texts, uploaded files and the YAML settings."""
    prompt = copy.deepcopy(template)
    values = row.values
    prompt[CAPTION]["inputs"]["text"] = values.get("prompt", "")
    prompt[NEGATIVE]["inputs"]["text"] = str(settings.yaml.get("video_negative_prompt") or "")
    prompt[SPEECH]["inputs"].update(
        text=values.get("speech_content", ""), language=values.get("lang") or "en",
        reference_text=values.get("ref_speech_content", "") if task == 1 else "")
    prompt[SAMPLER]["inputs"].update({ours: settings.yaml[theirs] for theirs, ours in SETTINGS.items()
                                      if settings.yaml.get(theirs) is not None})
    for column, (node_id, name) in FILE_INPUTS[task].items():
        prompt[node_id]["inputs"][name] = uploaded[column]
    prompt[SAVE]["inputs"]["filename_prefix"] = output_prefix
    return prompt
