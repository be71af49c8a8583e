"""The shipped workflows' API twins, patched to run on the tiny test models in seconds.

Only what the real files need changes: the stand-in umT5/VAE nodes replace CLIPLoader/VAELoader,
model names point at the tiny models, and the clip is 17 frames at a 64 px short side, 2 steps.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..paths import API_TWINS, EXAMPLE_INPUTS, WORKFLOWS
from .comfy_server import HostLayout
from .make_example_inputs import write_wav
from .stand_ins import TEXT_ENCODER_NODE, VAE_NODE
from .tiny_models import DIT_INDEX, VOCODER_NAME
from .tiny_sizes import FRAMES, SHORT_SIDE, STEPS
from .workflow_graph import widget_index

TINY_DIT = DIT_INDEX
# The example face is 1280x736: a 64 px short side makes it 128x64 (long side rounded up to 32).
WIDTH, HEIGHT = 128, 64
SHORT_SPEECH = "uniavgen_speech_short.wav"  # fits the 17-frame (1.06 s) tiny clip
SAMPLER_ID = "10"


def copy_example_inputs(layout: HostLayout) -> None:
    """The bundled example inputs plus a short speech clip, in the server's input folder."""
    target = layout.root / "input"
    for source in EXAMPLE_INPUTS.iterdir():
        shutil.copyfile(source, target / source.name)
    t = np.arange(int(0.8 * 24000)) / 24000
    samples = 0.4 * np.sin(2 * np.pi * 170 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    write_wav(target / SHORT_SPEECH, samples)


def twin(stem: str) -> dict:
    return json.loads((API_TWINS / f"{stem}.json").read_text())


def tiny_prompt(stem: str, *, steps: int = STEPS, seed: int | None = None, prefix: str | None = None) -> dict:
    """The API twin of workflows/<stem>.json on the tiny models."""
    return make_tiny(twin(stem), steps=steps, seed=seed, prefix=prefix)


def make_tiny(prompt: dict, *, dit: str = TINY_DIT, vocoder: str = VOCODER_NAME, steps: int = STEPS,
              seed: int | None = None, prefix: str | None = None, short_side: int = SHORT_SIDE,
              frames: int = FRAMES) -> dict:
    """An API prompt of a shipped workflow, moved onto stand-in encoders and tiny models (in place)."""
    for node in prompt.values():
        kind, inputs = node["class_type"], node["inputs"]
        if kind == "CLIPLoader":
            node["class_type"], node["inputs"] = TEXT_ENCODER_NODE, {}
        elif kind == "VAELoader":
            node["class_type"], node["inputs"] = VAE_NODE, {}
        elif kind in ("UniAVGenLoadVideoDiT", "UniAVGenLoadAudioDiT"):
            inputs["dit_name"] = dit
        elif kind == "UniAVGenLoadVocoder":
            inputs["vocoder_name"] = vocoder
        elif kind in ("UniAVGenReferenceImage", "UniAVGenConditionVideo"):
            inputs["short_side"] = short_side
            if "length" in inputs:
                inputs["length"] = frames
        elif kind == "UniAVGenSampler":
            inputs.update(steps=steps, length=frames)
        elif kind == "UniAVGenConditioning":   # the native graph
            inputs["length"] = frames
        elif kind == "UniAVGenScheduler":
            inputs["steps"] = steps
        elif kind == "RandomNoise" and seed is not None:
            inputs["noise_seed"] = seed
        elif kind == "UniAVGenLongForm":  # three windows of 17 frames
            inputs.update(steps=steps, length=frames, window_seconds=1.0,
                          text="Hello there. How are you? Goodbye now.")
            if seed is not None:
                inputs["seed"] = seed
        elif kind == "LoadAudio" and "speech" in inputs["audio"]:
            inputs["audio"] = SHORT_SPEECH
        elif kind == "UniAVGenSaveVideo" and prefix:
            inputs["filename_prefix"] = prefix
    return prompt


def output_files(entry: dict, layout: HostLayout, suffix: str = ".mp4") -> list[Path]:
    """Files a finished prompt wrote, from its /history entry."""
    found = []
    for outputs in entry.get("outputs", {}).values():
        for items in outputs.values():
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and str(item.get("filename", "")).endswith(suffix):
                    base = layout.root / item.get("type", "output")
                    found.append(base / item.get("subfolder", "") / item["filename"])
    return found


def tiny_ui_workflow(stem: str, object_info: dict, *, prefix: str) -> dict:
    """workflows/<stem>.json (UI format) patched like tiny_prompt, for a run from the editor."""
    workflow = json.loads((WORKFLOWS / f"{stem}.json").read_text())
    changes = {
        "UniAVGenLoadVideoDiT": {"dit_name": TINY_DIT}, "UniAVGenLoadAudioDiT": {"dit_name": TINY_DIT},
        "UniAVGenLoadVocoder": {"vocoder_name": VOCODER_NAME},
        "UniAVGenReferenceImage": {"short_side": SHORT_SIDE},
        "UniAVGenSampler": {"steps": STEPS, "length": FRAMES},
        "UniAVGenConditioning": {"length": FRAMES}, "UniAVGenScheduler": {"steps": STEPS},
        "UniAVGenSaveVideo": {"filename_prefix": prefix},
    }
    for node in workflow["nodes"]:
        if node["type"] in ("CLIPLoader", "VAELoader"):
            node["type"] = TEXT_ENCODER_NODE if node["type"] == "CLIPLoader" else VAE_NODE
            node["widgets_values"], node["properties"] = [], {"Node name for S&R": node["type"]}
        for name, value in changes.get(node["type"], {}).items():
            node["widgets_values"][widget_index(object_info[node["type"]], name)] = value
    return workflow
