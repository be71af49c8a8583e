"""Node display names follow one convention: "UniAVGen " then Title Case words.

Like ComfyUI core ("Load Checkpoint", "VAE Decode") with the pack's name first, so the pack's nodes
sort together in the search box. Errors start with the same name, so a user finds the node.
"""

from __future__ import annotations

import re
import sys

CONVENTION = re.compile(r"UniAVGen( [A-Z0-9][A-Za-z0-9]*)+")
NAMES = {
    "UniAVGenLoadVideoDiT": "UniAVGen Load Video DiT",
    "UniAVGenLoadAudioDiT": "UniAVGen Load Audio DiT",
    "UniAVGenLoadVocoder": "UniAVGen Load Vocoder",
    "UniAVGenSpeechText": "UniAVGen Speech Text",
    "UniAVGenReferenceImage": "UniAVGen Reference Image",
    "UniAVGenConditionVideo": "UniAVGen Condition Video",
    "UniAVGenAudioToMel": "UniAVGen Audio To Mel",
    "UniAVGenSampler": "UniAVGen Sampler",
    "UniAVGenLongForm": "UniAVGen Long Form",
    "UniAVGenVocoderDecode": "UniAVGen Vocoder Decode",
    "UniAVGenSaveVideo": "UniAVGen Save Video",
    "UniAVGenInfo": "UniAVGen Info",
    "UniAVGenModel": "UniAVGen Model",
    "UniAVGenConditioning": "UniAVGen Conditioning",
    "UniAVGenGuider": "UniAVGen Guider",
    "UniAVGenScheduler": "UniAVGen Scheduler",
    "UniAVGenSplitLatent": "UniAVGen Split Latent",
    "UniAVGenJoinLatent": "UniAVGen Join Latent",
}


def _display_names(pack) -> dict[str, tuple[type, str]]:
    import nodes

    return {node_id: (cls, cls.define_schema().display_name)
            for node_id, cls in nodes.NODE_CLASS_MAPPINGS.items() if cls.__module__.startswith(pack.__name__)}


def test_the_convention_can_fail():
    for bad in ("Load UniAVGen Vocoder", "UniAVGen Long-form", "UniAVGen long form", "UniAVGen  Sampler",
                "UniAVGenSampler", "UniAVGen"):
        assert not CONVENTION.fullmatch(bad), bad


def test_every_display_name_follows_the_convention(pack):
    names = _display_names(pack)
    assert set(NAMES) <= set(names)
    wrong = {node_id: name for node_id, (_, name) in names.items() if not CONVENTION.fullmatch(name)}
    assert not wrong, f"display names must be 'UniAVGen ' + Title Case words: {wrong}"
    assert len({name for _, name in names.values()}) == len(names), "two nodes share a display name"
    assert {node_id: names[node_id][1] for node_id in NAMES} == NAMES


def test_errors_name_the_node_by_its_display_name(pack):
    """Nodes keep the name their errors start with in NODE (on the class or its module)."""
    for node_id, (cls, name) in _display_names(pack).items():
        in_errors = getattr(cls, "NODE", None) or getattr(sys.modules[cls.__module__], "NODE", None)
        assert in_errors in (None, name), f"{node_id}: errors say {in_errors!r}, the node is {name!r}"
