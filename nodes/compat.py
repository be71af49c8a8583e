"""Every difference between the ComfyUI versions the pack is tested on (0.3.75 and 0.33.0), in one place.

Differences are detected by feature, never by version number, so versions in between work too.
ComfyUI is imported lazily: the /object_info helpers also serve the scripts, which run without it.

Differences that need no code (checked on both hosts):
- From 0.12 NVIDIA machines default to dynamic VRAM (CoreModelPatcher is ModelPatcherDynamic): the
  weights of comfy.ops layers stay in host memory and stream per layer, other parameters are loaded
  whole, full loads are refused. The DiTs build every Linear through comfy.ops and the loaders
  never ask for a full load; evict_others only unloads the other models (free_memory), which
  dynamic patchers accept. On a CPU ModelPatcherDynamic hands back a plain ModelPatcher.
- ModelPatcher's partial-load accounting reads model.manual_cast_dtype (0.33; 0.3.75 ignores it):
  memory.new_patcher sets it, so cast buffers of fp8 weights are counted on both.
- Frontend 1.49 (0.33) instead of 1.32: the shipped workflows load, export and run in both (ui tier).

Conventions of newer ComfyUI for the native (KSampler) path, not used by the pack's own sampler:
- joint AV latents are a comfy.nested_tensor.NestedTensor of (video, audio) in LATENT["samples"],
  with a NestedTensor "noise_mask" of the same streams (0.6+; ones where a stream is generated);
  LTXVConcatAVLatent / LTXVSeparateAVLatent make and split them for any AV model (0.33);
- samplers hand nested x0 to callbacks and latent previews show its first (video) stream (0.30+).
These exist only from 0.6 on, so a native path needs a fallback (or a higher requires-comfyui).
"""

from __future__ import annotations

import inspect
from typing import Any


def patcher_class() -> type:
    """The ModelPatcher a new model should use: CoreModelPatcher where ComfyUI has it (0.12+, the
    dynamic-VRAM patcher on NVIDIA), else ModelPatcher (0.3.75)."""
    import comfy.model_patcher

    return getattr(comfy.model_patcher, "CoreModelPatcher", None) or comfy.model_patcher.ModelPatcher


def prepare_class_clone(node_class: type, hidden: dict[str, Any]) -> type:
    """A V3 node's per-run class with its hidden inputs (PROMPT, EXTRA_PNGINFO, ...) filled in.

    0.3.75 takes the hidden dict itself; newer ComfyUI a V3Data dict {"hidden_inputs": {...}}.
    """
    params = inspect.signature(node_class.PREPARE_CLASS_CLONE).parameters
    if "hidden_inputs" in params:
        return node_class.PREPARE_CLASS_CLONE(hidden)
    return node_class.PREPARE_CLASS_CLONE({"hidden_inputs": hidden})


def input_spec(spec: list | tuple) -> tuple[Any, dict]:
    """(kind, options) of one /object_info input, combos as a list of their values.

    0.3.75 sends a combo as [[values...], {options}] (V1 style); newer ComfyUI sends V3 combos
    (e.g. LoadAudio's file list, the pack's own) as ["COMBO", {"options": [values...], ...}].
    """
    kind = spec[0]
    options = dict(spec[1]) if len(spec) > 1 and spec[1] else {}
    if kind == "COMBO" and "options" in options:
        kind = list(options.pop("options"))
    return kind, options


def latent_members(latent, shapes) -> list:
    """The members of a joint latent that a sampling callback receives: 0.3.75 hands it the packed
    [B, 1, N] tensor, newer ComfyUI (0.30+) the nested view already."""
    if getattr(latent, "is_nested", False):
        return list(latent.unbind())
    import comfy.utils

    return comfy.utils.unpack_latents(latent, shapes)
