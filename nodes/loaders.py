"""Loader nodes: the video DiT, the audio DiT (with its speech vocabulary) and the vocoder."""

from __future__ import annotations

import logging

import comfy.model_management as mm
from comfy_api.latest import io

from ..uniavgen_core.checkpoint import (CheckpointError, load_audio_dit, load_video_dit, quant_types,
                                          storage_dtype)
from ..uniavgen_core.vocab_files import VocabularyNotFound, find_vocabulary
from ..uniavgen_core.weights import PICKLE_HINT, PICKLE_SUFFIXES
from .gguf_ops import gguf_operations
from .io_types import AudioDiT, VideoDiT
from .model_files import list_dit_files, resolve_dit_file
from .memory import WEIGHT_DTYPES, compute_dtype_for, new_patcher, operations_for

log = logging.getLogger(__name__)

_FILE_TOOLTIP = ("A UniAVGen checkpoint in models/diffusion_models (or models/unet): the official sharded "
                 "folder's diffusion_pytorch_model.safetensors.index.json, a converted single file, or a "
                 "GGUF (Q8_0, Q4_K, ...; kept quantised in memory, expanded layer by layer when used).")
_DTYPE_TOOLTIP = ("How the weights are stored in memory. 'default' keeps the file's dtype; fp8_e4m3fn "
                  "halves memory again (computed in bf16/fp32). For a GGUF this applies to the tensors "
                  "it keeps in float; quantised ones stay quantised.")


def _check_names(node: str, dit_name: str | None, weight_dtype: str | None) -> bool | str:
    """validate_inputs of both loaders: a clear message instead of ComfyUI's bare 'not in list'.

    Linked inputs are None here; _load_dit checks them when they arrive.
    """
    if weight_dtype is not None and weight_dtype not in WEIGHT_DTYPES:
        return f"{node}: 'weight_dtype' {weight_dtype!r} is not one of {list(WEIGHT_DTYPES)}."
    if dit_name is None:
        return True
    if dit_name.lower().endswith(PICKLE_SUFFIXES):
        return (f"{node}: 'dit_name' {dit_name!r} is a pickle checkpoint: {PICKLE_HINT}, "
                "then put the .safetensors file in models/diffusion_models.")
    if dit_name not in list_dit_files():
        return (f"{node}: 'dit_name' {dit_name!r} is not in models/diffusion_models. Put the UniAVGen "
                "checkpoint there (the official sharded folder, a converted single .safetensors "
                "file or a .gguf) and refresh the node list.")
    return True


def _load_dit(node: str, loader, file_name: str, weight_dtype: str, *, half: str,
              with_vocabulary: bool = False):
    path = resolve_dit_file(file_name, node)
    if weight_dtype not in WEIGHT_DTYPES:
        raise ValueError(f"{node}: weight_dtype {weight_dtype!r} is not one of {list(WEIGHT_DTYPES)}.")
    load_device, offload_device = mm.get_torch_device(), mm.unet_offload_device()
    dtype = WEIGHT_DTYPES[weight_dtype]
    try:
        # 'default' keeps the file's dtype, which then decides the compute dtype and the cast ops
        held = dtype or storage_dtype(path, half)
        quantised = quant_types(path, half)
        # GGUF blocks: compute in what ComfyUI picks for the device, as for a model of unknown dtype
        compute = compute_dtype_for(load_device, None if quantised else held)
        ops = operations_for(held, compute, load_device)
        if quantised:
            ops = gguf_operations(ops)
            log.info("%s: %s holds GGUF %s tensors, dequantised per layer in %s", node, file_name,
                     dict(quantised), compute)
        model = loader(path, dtype=dtype, operations=ops, device=offload_device)
    except CheckpointError as err:
        raise ValueError(f"{node}: 'dit_name' {file_name!r} cannot be loaded: {err}") from err
    model.compute_dtype = compute
    if with_vocabulary:
        # Checked before any sampling: a missing vocabulary would only show up as a failed run.
        try:
            model.vocabulary, origin = find_vocabulary(path, model.config.vocab_size)
        except (VocabularyNotFound, ValueError) as err:
            raise ValueError(f"{node}: 'dit_name' {file_name!r}: {err}") from err
        log.info("%s: speech vocabulary (%d entries) from %s", node, len(model.vocabulary), origin)
    log.info("%s: %s loaded (weights %s, compute %s)", node, file_name, held, compute)
    return new_patcher(model, load_device, offload_device, quantised=bool(quantised))


class LoadVideoDiT(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenLoadVideoDiT",
            display_name="UniAVGen Load Video DiT",
            category="UniAVGen/loaders",
            description="Loads the video half of UniAVGen (the Wan 2.2 5B video DiT with the "
                        "audio-to-video interaction blocks).",
            inputs=[
                io.Combo.Input("dit_name", options=list_dit_files(), tooltip=_FILE_TOOLTIP),
                io.Combo.Input("weight_dtype", options=list(WEIGHT_DTYPES), default="default",
                               tooltip=_DTYPE_TOOLTIP),
            ],
            outputs=[VideoDiT.Output(display_name="video_dit")],
        )

    @classmethod
    def validate_inputs(cls, dit_name: str | None = None, weight_dtype: str | None = None) -> bool | str:
        return _check_names("UniAVGen Load Video DiT", dit_name, weight_dtype)

    @classmethod
    def execute(cls, dit_name: str, weight_dtype: str) -> io.NodeOutput:
        return io.NodeOutput(_load_dit("UniAVGen Load Video DiT", load_video_dit, dit_name, weight_dtype,
                                       half="video"))


class LoadAudioDiT(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenLoadAudioDiT",
            display_name="UniAVGen Load Audio DiT",
            category="UniAVGen/loaders",
            description="Loads the audio half of UniAVGen (the 1.4B audio DiT, its character text "
                        "encoder and the video-to-audio interaction blocks) and its speech vocabulary.",
            inputs=[
                io.Combo.Input("dit_name", options=list_dit_files(), tooltip=_FILE_TOOLTIP),
                io.Combo.Input("weight_dtype", options=list(WEIGHT_DTYPES), default="default",
                               tooltip=_DTYPE_TOOLTIP),
            ],
            outputs=[AudioDiT.Output(display_name="audio_dit")],
        )

    @classmethod
    def validate_inputs(cls, dit_name: str | None = None, weight_dtype: str | None = None) -> bool | str:
        return _check_names("UniAVGen Load Audio DiT", dit_name, weight_dtype)

    @classmethod
    def execute(cls, dit_name: str, weight_dtype: str) -> io.NodeOutput:
        return io.NodeOutput(_load_dit("UniAVGen Load Audio DiT", load_audio_dit, dit_name, weight_dtype,
                                       half="audio", with_vocabulary=True))
