"""Builds ComfyUI UI-format workflows (and their API-format twins) from a compact graph description.

The socket and widget layout of every node comes from the server's /object_info, so the files
match what the real frontend expects. Used by scripts/make_workflows.py and by the tests that keep
workflows/ and workflows/api/ in sync.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

from ..paths import PACK_ROOT


def _compat():
    """The pack's nodes/compat.py (ComfyUI version differences), loaded without ComfyUI."""
    path = PACK_ROOT / "nodes" / "compat.py"
    spec = importlib.util.spec_from_file_location("uniavgen_compat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# (kind, options) of one /object_info input, combos as lists on every ComfyUI version.
input_spec = _compat().input_spec

# Widget types: everything else is a socket.
_WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
CONTROL_VALUE = "fixed"
_SAVED_BEFORE = object()  # marks a widget with no saved value


@dataclass
class Node:
    """One node: its id, class, widget values by input name, and links into its sockets."""

    id: int
    type: str
    pos: tuple[int, int]
    widgets: dict[str, Any] = field(default_factory=dict)
    links: dict[str, tuple[int, int]] = field(default_factory=dict)   # input -> (node id, output slot)
    title: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    size: tuple[int, int] = (320, 140)


def _input_specs(info: dict) -> list[tuple[str, Any, dict, bool]]:
    """(name, type, options, optional) in the frontend's order: required then optional."""
    specs = []
    order = info.get("input_order", {})
    for group, optional in (("required", False), ("optional", True)):
        inputs = info["input"].get(group, {})
        for name in order.get(group, list(inputs)):
            kind, options = input_spec(inputs[name])
            specs.append((name, kind, options, optional))
    return specs


def _is_widget(kind: Any, options: dict) -> bool:
    if isinstance(kind, list):
        return True
    return kind in _WIDGET_TYPES and not options.get("forceInput", False)


def _has_control(name: str, kind: Any, options: dict) -> bool:
    return kind == "INT" and (options.get("control_after_generate") or name in ("seed", "noise_seed"))


def widget_values(node: Node, info: dict) -> list[Any]:
    # Widgets fed by a link keep a (placeholder) value: the frontend saves every widget's value.
    values: list[Any] = []
    for name, kind, options, _ in _input_specs(info):
        if not _is_widget(kind, options):
            continue
        if name in node.widgets:
            value = node.widgets[name]
        elif "default" in options:
            value = options["default"]
        elif isinstance(kind, list):
            value = kind[0] if kind else ""
        else:
            raise KeyError(f"{node.type}.{name} has no value and no default")
        values.append(value)
        if _has_control(name, kind, options):
            values.append(CONTROL_VALUE)
        values += _upload_values(options)
    return values


def _upload_values(options: dict) -> list[Any]:
    """What the frontend saves after a file combo's upload widget(s), as its own serialiser does."""
    if options.get("image_upload") or options.get("video_upload"):
        return ["image"]
    if options.get("audio_upload"):
        return [None, ""]  # the upload button, then the audio player
    return []


def to_ui(nodes: list[Node], object_info: dict, extra_nodes: list[dict] | None = None) -> dict:
    """UI-format workflow (version 0.4) of the graph."""
    by_id = {n.id: n for n in nodes}
    links: list[list[Any]] = []
    outgoing: dict[tuple[int, int], list[int]] = {}
    ui_nodes = []
    for node in nodes:
        info = object_info[node.type]
        inputs = []
        for name, kind, options, _ in _input_specs(info):
            widget = _is_widget(kind, options)
            if widget and name not in node.links:
                continue
            entry: dict[str, Any] = {"name": name, "type": "COMBO" if isinstance(kind, list) else kind,
                                     "link": None}
            if widget:
                entry["widget"] = {"name": name}
            if name in node.links:
                src, slot = node.links[name]
                link_id = len(links) + 1
                src_type = object_info[by_id[src].type]["output"][slot]
                links.append([link_id, src, slot, node.id, len(inputs), src_type])
                outgoing.setdefault((src, slot), []).append(link_id)
                entry["link"] = link_id
            inputs.append(entry)
        ui_nodes.append({"node": node, "info": info, "inputs": inputs})
    out = []
    for order, item in enumerate(ui_nodes):
        node, info = item["node"], item["info"]
        outputs = [{"name": name, "type": kind, "links": outgoing.get((node.id, slot), []),
                    "slot_index": slot}
                   for slot, (name, kind) in enumerate(zip(info["output_name"], info["output"], strict=True))]
        entry = {
            "id": node.id, "type": node.type, "pos": list(node.pos), "size": list(node.size),
            "flags": {}, "order": order, "mode": 0, "inputs": item["inputs"], "outputs": outputs,
            "properties": {"Node name for S&R": node.type, **node.properties},
            "widgets_values": widget_values(node, info),
        }
        if node.title:
            entry["title"] = node.title
        out.append(entry)
    out += extra_nodes or []
    last_id = max([n["id"] for n in out], default=0)
    return {"last_node_id": last_id, "last_link_id": len(links), "nodes": out, "links": links,
            "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}


def ui_to_api(workflow: dict, object_info: dict) -> dict:
    """API-format prompt of a UI workflow: the inverse of what the frontend's graphToPrompt does."""
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        if node["type"] not in object_info:
            continue  # Note and other frontend-only nodes
        info = object_info[node["type"]]
        linked = {i["name"]: links[i["link"]] for i in node.get("inputs", []) if i.get("link") is not None}
        values = iter(node.get("widgets_values", []))
        inputs: dict[str, Any] = {}
        for name, kind, options, optional in _input_specs(info):
            if _is_widget(kind, options):
                value = next(values, _SAVED_BEFORE)
                if value is _SAVED_BEFORE:
                    # A widget the node gained after the file was saved (e.g. CreateVideo's
                    # optional bit_depth in 0.33): the server's default applies, as in the editor.
                    if not optional and "default" not in options:
                        raise KeyError(f"{node['type']} (node {node['id']}): no saved value for {name!r}")
                    if not optional:
                        inputs[name] = options["default"]
                    continue
                inputs[name] = value
                if _has_control(name, kind, options):
                    next(values, None)
                for _ in _upload_values(options):
                    next(values, None)
            if name in linked:
                link = linked[name]
                inputs[name] = [str(link[1]), link[2]]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs,
                                   "_meta": {"title": node.get("title", node["type"])}}
    return prompt


def widget_index(info: dict, name: str) -> int:
    """Position of a widget's value in a UI node's widgets_values (control values count too)."""
    index = 0
    for input_name, kind, options, _ in _input_specs(info):
        if not _is_widget(kind, options):
            continue
        if input_name == name:
            return index
        index += 1 + _has_control(input_name, kind, options) + len(_upload_values(options))
    raise KeyError(f"no widget {name!r}")
