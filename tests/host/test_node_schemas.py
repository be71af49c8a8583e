"""Every node of the pack: V3 schema, UniAVGen ids and categories, a tooltip on every input."""

from __future__ import annotations

EXPECTED = {
    "UniAVGenLoadVideoDiT", "UniAVGenLoadAudioDiT", "UniAVGenLoadVocoder", "UniAVGenSpeechText",
    "UniAVGenReferenceImage", "UniAVGenConditionVideo", "UniAVGenAudioToMel", "UniAVGenSampler",
    "UniAVGenVocoderDecode", "UniAVGenLongForm", "UniAVGenSaveVideo", "UniAVGenInfo",
    # the native graph
    "UniAVGenModel", "UniAVGenConditioning", "UniAVGenGuider", "UniAVGenScheduler",
    "UniAVGenSplitLatent", "UniAVGenJoinLatent",
}


def pack_nodes(pack) -> dict[str, type]:
    import nodes

    return {k: v for k, v in nodes.NODE_CLASS_MAPPINGS.items() if v.__module__.startswith(pack.__name__)}


def test_the_pack_registers_its_nodes(pack):
    assert EXPECTED <= set(pack_nodes(pack))


def test_every_schema_is_complete(pack):
    for node_id, cls in pack_nodes(pack).items():
        schema = cls.define_schema()
        assert schema.node_id == node_id and node_id.startswith("UniAVGen")
        assert schema.category.startswith("UniAVGen/") and schema.display_name and schema.description
        for item in schema.inputs:
            assert item.tooltip and len(item.tooltip) > 10, f"{node_id}.{item.id} has no tooltip"
        assert schema.outputs or schema.is_output_node, f"{node_id} has no outputs and shows nothing"
