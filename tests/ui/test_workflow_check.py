"""The file-vs-editor comparison on hand-made states (no browser): it passes and it can fail."""

from __future__ import annotations

from uniavgen_tools.dev.browser import is_loopback
from uniavgen_tools.dev.workflow_check import (
    GraphState,
    NodeState,
    WidgetState,
    api_prompt_mismatches,
    same_value,
    ui_node,
    ui_workflow,
    workflow_mismatches,
)


def _sampler(values: list) -> NodeState:
    names = ["seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise"]
    kinds = ["number", "combo", "number", "number", "combo", "combo", "number"]
    return NodeState(7, "KSampler", False, tuple(
        WidgetState(n, k, v, True) for n, k, v in zip(names, kinds, values, strict=False)))


def _graph(*nodes: NodeState, links: int = 0) -> GraphState:
    return GraphState(nodes=nodes, link_count=links)


SAVED = [42, "fixed", 20, 8.0, "euler", "normal", 1.0]


def test_saved_values_match_and_display_widgets_are_ignored():
    preview = NodeState(2, "PreviewAny", False, (WidgetState("preview", "MARKDOWN", "", False),))
    workflow = ui_workflow([ui_node(7, "KSampler", (0, 0), widgets_values=SAVED),
                            ui_node(2, "PreviewAny", (0, 0))], [])
    assert workflow_mismatches(workflow, _graph(_sampler([42, "fixed", 20, 8, "euler", "normal", 1]),
                                                preview)) == []


def test_missing_control_value_is_reported_with_a_hint():
    shifted = [42, 20, 8.0, "euler", "normal", 1.0]  # what the frontend does with it: by position
    live = _sampler(shifted + [1.0])
    workflow = ui_workflow([ui_node(7, "KSampler", (0, 0), widgets_values=shifted)], [])
    problems = workflow_mismatches(workflow, _graph(live))
    assert any("6 widget values" in p for p in problems), problems
    assert any("'control_after_generate' holds 20" in p for p in problems), problems
    assert any("number widget 'cfg' holds 'euler'" in p for p in problems), problems
    assert any("hint: the file leaves out" in p for p in problems), problems


def test_changed_value_count_and_type_are_reported():
    workflow = ui_workflow([ui_node(7, "KSampler", (0, 0), widgets_values=SAVED)], [[1, 7, 0, 7, 0, "X"]])
    changed = _sampler([43, "fixed", 20, 8.0, "euler", "normal", 1.0])
    problems = workflow_mismatches(workflow, _graph(changed, NodeState(9, "Note", False, ())))
    assert any("'seed' is 43" in p for p in problems), problems
    assert "the file has 1 nodes, the editor shows 2" in problems
    assert "the file has 1 links, the editor shows 0" in problems
    other = NodeState(7, "KSamplerAdvanced", False, ())
    assert any("'KSamplerAdvanced' in the editor" in p for p in workflow_mismatches(workflow, _graph(other)))


def test_same_value_tolerates_float_round_trip_but_not_bools():
    assert same_value(0.1 + 0.2, 0.3) and same_value(8, 8.0)
    assert not same_value(True, 1) and not same_value(1.0, 1.001) and not same_value("1", 1)


def test_api_twin_comparison():
    exported = {"1": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0], "preview": ""}},
                "2": {"class_type": "PrimitiveInt", "inputs": {"value": 5}}}
    twin = {"1": {"class_type": "PreviewAny", "inputs": {"source": [2, 0]}},
            "2": {"class_type": "PrimitiveInt", "inputs": {"value": 5}}}
    declared = {"PreviewAny": ["source"], "PrimitiveInt": ["value"]}
    assert api_prompt_mismatches(exported, twin, declared) == []
    assert api_prompt_mismatches(exported, twin) == [
        "node 1: input 'preview' is exported but not in the twin"]
    twin["2"]["inputs"]["value"] = 6
    assert api_prompt_mismatches(exported, twin, declared) == [
        "node 2: input 'value' exported as 5, the twin has 6"]


def test_api_twin_comparison_across_frontend_and_node_versions():
    """A twin exported by frontend 1.32 on ComfyUI 0.3.75, compared with 1.49's export on 0.33."""
    twin = {"1": {"class_type": "LoadAudio", "inputs": {"audio": "a.wav", "audioUI": ""}},
            "2": {"class_type": "CreateVideo", "inputs": {"fps": 16}}}
    exported = {"1": {"class_type": "LoadAudio", "inputs": {"audio": "a.wav"}},
                "2": {"class_type": "CreateVideo", "inputs": {"fps": 16, "bit_depth": 8}}}
    declared = {"LoadAudio": ["audio"], "CreateVideo": ["images", "fps", "audio", "bit_depth"]}
    later = {"CreateVideo": {"bit_depth": 8}}
    assert api_prompt_mismatches(exported, twin, declared, later) == []
    assert api_prompt_mismatches(exported, twin, declared) == [
        "node 2: input 'bit_depth' is exported but not in the twin"]
    exported["2"]["inputs"]["bit_depth"] = 10  # not the default: the twin would run differently
    assert api_prompt_mismatches(exported, twin, declared, later) == [
        "node 2: input 'bit_depth' is exported but not in the twin"]


def test_only_loopback_urls_pass():
    assert is_loopback("http://127.0.0.1:8188/api/prompt") and is_loopback("ws://localhost:1/ws")
    assert is_loopback("data:image/png;base64,AAAA")
    assert not is_loopback("https://api.comfy.org/nodes") and not is_loopback("http://10.0.0.1/")
