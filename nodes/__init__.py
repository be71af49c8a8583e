"""ComfyUI-facing V3 nodes of the UniAVGen pack."""

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .conditioning import AudioToMel, ConditionVideo, ReferenceImage
from .info import UniAVGenInfo
from .loaders import LoadAudioDiT, LoadVideoDiT
from .long_form import LongForm
from .native_nodes import NATIVE_NODES
from .sampler import UniAVGenSampler
from .saving import SaveVideo
from .speech import SpeechText
from .vocoder import LoadVocoder, VocoderDecode, register_vocoder_folder


class UniAVGenExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        # ComfyUI 0.3.75 never calls on_load; this runs once when the pack is loaded.
        register_vocoder_folder()
        return [
            LoadVideoDiT,
            LoadAudioDiT,
            LoadVocoder,
            SpeechText,
            ReferenceImage,
            ConditionVideo,
            AudioToMel,
            UniAVGenSampler,
            LongForm,
            VocoderDecode,
            SaveVideo,
            UniAVGenInfo,
            *NATIVE_NODES,
        ]
