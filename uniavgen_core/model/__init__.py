"""UniAVGen joint DiT in plain PyTorch: video and audio DiTs and their layer-interleaved forward."""

from .attention import AttentionFn, sdpa_attention
from .audio import AudioDiT
from .inputs import JointInputs, PassFlags
from .joint import joint_forward
from .video import VideoDiT

__all__ = [
    "AttentionFn", "AudioDiT", "JointInputs", "PassFlags", "VideoDiT", "joint_forward", "sdpa_attention",
]
