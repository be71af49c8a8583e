"""Save Video with a reproducible encoder: the same clip always gives the same mp4 frames."""

from __future__ import annotations

import logging
import os

import comfy.model_management as mm
import folder_paths
import torch
from comfy.cli_args import args
from comfy_api.latest import io, ui

from ..uniavgen_core.video_io import (DEFAULT_CRF, MAX_CRF, SoundTrack, VideoWriteError,
                                     check_filename_prefix, write_mp4)

log = logging.getLogger(__name__)


def _soundtrack(audio: dict | None) -> SoundTrack | None:
    if not audio:
        return None
    waveform = audio["waveform"]
    if waveform.dim() == 3:
        if waveform.shape[0] > 1:
            log.warning("the video's audio holds a batch of %d waveforms; the first one is saved",
                        waveform.shape[0])
        waveform = waveform[0]
    return SoundTrack(waveform, int(audio["sample_rate"]))


class SaveVideo(io.ComfyNode):
    NODE = "UniAVGen Save Video"

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenSaveVideo",
            display_name=cls.NODE,
            category="UniAVGen/output",
            description="Saves a video as H.264/AAC mp4 in the output folder, like Save Video, with an "
                        "encoder set up to repeat itself: the same frames always give the same file "
                        "contents (ComfyUI's Save Video does not on CPUs with AVX-512).",
            inputs=[
                io.Video.Input("video", tooltip="The video to save, e.g. from Create Video."),
                io.String.Input("filename_prefix", default="UniAVGen/clip",
                                tooltip="File name prefix inside the output folder; may contain a "
                                        "subfolder and %date:yyyy-MM-dd% style fields. A counter is "
                                        "added, so no file is overwritten."),
                io.Int.Input("crf", default=DEFAULT_CRF, min=0, max=MAX_CRF,
                             tooltip="H.264 quality: lower is better and larger. 23 is what Save "
                                     "Video uses; 17-18 looks lossless to most eyes."),
            ],
            outputs=[],
            hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, filename_prefix: str | None = None) -> bool | str:
        if filename_prefix is None:  # linked: checked when it runs
            return True
        try:
            check_filename_prefix(filename_prefix)
        except VideoWriteError as err:
            return cls._prefix_message(filename_prefix, err)
        return True

    @classmethod
    def _prefix_message(cls, prefix, err: Exception) -> str:
        text = str(prefix)
        shown = repr(text) if len(text) <= 60 else repr(text[:40]) + f"... ({len(text)} chars)"
        return f"{cls.NODE}: 'filename_prefix' {shown} {err}."

    @classmethod
    def execute(cls, video, filename_prefix: str, crf: int) -> io.NodeOutput:
        try:  # first: a bad name must not leave or replace any file
            filename_prefix = check_filename_prefix(filename_prefix)
        except VideoWriteError as err:
            raise ValueError(cls._prefix_message(filename_prefix, err)) from err
        parts = video.get_components()
        images: torch.Tensor = parts.images
        height, width = int(images.shape[1]), int(images.shape[2])
        folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(
            filename_prefix, folder_paths.get_output_directory(), width, height)
        file = f"{name}_{counter:05}_.mp4"
        try:
            write_mp4(os.path.join(folder, file), images, parts.frame_rate, _soundtrack(parts.audio),
                      crf=crf, metadata=cls._metadata(),
                      on_chunk=mm.throw_exception_if_processing_interrupted)
        except VideoWriteError as err:
            raise ValueError(f"{cls.NODE}: 'video' cannot be saved: {err}") from err
        except OSError as err:  # the file system's own limits: say which name and why
            raise ValueError(f"{cls.NODE}: 'filename_prefix' {filename_prefix!r} cannot be written in the "
                             f"output folder ({err.strerror or err}); choose a shorter or plainer name."
                             ) from err
        return io.NodeOutput(ui=ui.PreviewVideo([ui.SavedResult(file, subfolder, io.FolderType.output)]))

    @classmethod
    def _metadata(cls) -> dict:
        # The prompt and the workflow go into the file, so dropping it on ComfyUI reopens the graph.
        hidden = cls.hidden
        if args.disable_metadata or hidden is None:
            return {}
        metadata = dict(hidden.extra_pnginfo or {})
        if hidden.prompt is not None:
            metadata["prompt"] = hidden.prompt
        return metadata
