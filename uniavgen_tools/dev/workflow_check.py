"""Compare a UI-format workflow file with the graph the frontend built from it (no browser here).

How ComfyUI frontend 1.32.9 maps `widgets_values` onto a node (LGraphNode.configure): value i goes to
the i-th widget whose `serialize` is not false, by position, never by name. So the comparison
pairs the file's list with exactly those widgets:
- display-only widgets the frontend adds (PreviewAny's `preview` markdown: serialize=false) are
  left out, since no file ever stores them;
- control widgets (`control_after_generate` and friends) ARE serialized and take a slot. The
  frontend inserts one after every INT input named `seed`/`noise_seed` or declared with
  control_after_generate, and a save from the UI writes its value ("fixed", "randomize", ...). A
  hand-written file that leaves it out shifts every later value by one slot (seen: KSampler got
  control_after_generate=20, steps=8.0, cfg="euler"); that is a real defect of the file and is
  reported with a hint instead of being papered over.
Because values land by position, a shifted file still "equals" the widgets slot by slot; what
gives it away is the count and values of the wrong kind in a slot (a number in a control widget,
a string in a number widget), which `widget_type_problem` reports.
Numbers compare with a tiny tolerance (JSON float round trip); booleans never equal numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Widgets the frontend adds next to a value widget to change it between runs.
CONTROL_WIDGETS = frozenset({"control_after_generate", "control_before_generate", "control_filter_list"})
CONTROL_MODES = frozenset({"fixed", "increment", "decrement", "randomize"})


@dataclass(frozen=True)
class WidgetState:
    name: str
    type: str
    value: Any
    serialize: bool  # False for display-only widgets that never reach the file


@dataclass(frozen=True)
class NodeState:
    id: int
    type: str  # for a missing node: the type the file asked for
    has_errors: bool  # the frontend could not create this type (missing node)
    widgets: tuple[WidgetState, ...]

    @property
    def saved_widgets(self) -> tuple[WidgetState, ...]:
        """The widgets `widgets_values` is assigned to, in order."""
        return tuple(w for w in self.widgets if w.serialize)


@dataclass(frozen=True)
class GraphState:
    nodes: tuple[NodeState, ...]
    link_count: int

    @property
    def missing_types(self) -> list[str]:
        return sorted({n.type for n in self.nodes if n.has_errors})


def same_value(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(same_value, expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(same_value(v, actual[k]) for k, v in expected.items())
    return expected == actual


def widget_type_problem(widget: WidgetState) -> str | None:
    """Says why a widget holds a value of the wrong kind, or None."""
    value = widget.value
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if widget.name in ("control_after_generate", "control_before_generate") and value not in CONTROL_MODES:
        return f"control widget {widget.name!r} holds {value!r}, not one of {sorted(CONTROL_MODES)}"
    if widget.type == "number" and not is_number:
        return f"number widget {widget.name!r} holds {value!r}"
    if widget.type == "toggle" and not isinstance(value, bool):
        return f"toggle widget {widget.name!r} holds {value!r}"
    return None


def widget_mismatches(file_node: Mapping[str, Any], live: NodeState,
                      later: Mapping[str, Any] | None = None) -> list[str]:
    """Differences between one file node's `widgets_values` and the live node's widgets.

    later: defaults of the node's optional widget inputs (from /object_info). Widgets the node
    gained after the file was saved (e.g. CreateVideo's bit_depth in ComfyUI 0.33) come last and
    hold their defaults, as the editor fills them in: not a mismatch.
    """
    where = f"node {live.id} ({live.type})"
    expected = list(file_node.get("widgets_values") or [])
    if isinstance(file_node.get("widgets_values"), dict):
        return [f"{where}: widgets_values is a dict (old VHS style); compare it by hand"]
    saved = live.saved_widgets
    problems = [
        f"{where}: widget {w.name!r} is {w.value!r}, the file says {value!r}"
        for value, w in zip(expected, saved, strict=False)
        if not same_value(value, w.value)
    ]
    problems += [f"{where}: {msg}" for w in saved if (msg := widget_type_problem(w))]
    # Display-only widgets that the frontend still serialises (LoadAudio's player) add empty values.
    trailing_display = len(expected) > len(saved) and all(v in (None, "") for v in expected[len(saved):])
    added_later = len(expected) < len(saved) and later is not None and all(
        w.name in later and same_value(later[w.name], w.value) for w in saved[len(expected):])
    if len(expected) != len(saved) and not trailing_display and not added_later:
        names = [w.name for w in saved]
        problems.append(f"{where}: the file lists {len(expected)} widget values, the node has "
                        f"{len(saved)} saved widgets {names}")
    controls = [w.name for w in saved if w.name in CONTROL_WIDGETS]
    if problems and controls and len(expected) == len(saved) - len(controls):
        problems.append(f"{where}: hint: the file leaves out the value of {controls}; the frontend "
                        "adds that widget after the seed, so put e.g. \"fixed\" right after the seed value")
    return problems


def workflow_mismatches(workflow: Mapping[str, Any], graph: GraphState,
                        later: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Node count, link count, node types and widget values of a file against the live graph.

    later: optional_widget_defaults() of the server, to accept widgets added after saving."""
    file_nodes = {int(n["id"]): n for n in workflow.get("nodes", [])}
    live_nodes = {n.id: n for n in graph.nodes}
    problems = []
    if len(file_nodes) != len(live_nodes):
        problems.append(f"the file has {len(file_nodes)} nodes, the editor shows {len(live_nodes)}")
    file_links = len(workflow.get("links") or [])
    if file_links != graph.link_count:
        problems.append(f"the file has {file_links} links, the editor shows {graph.link_count}")
    for node_id, file_node in sorted(file_nodes.items()):
        live = live_nodes.get(node_id)
        if live is None:
            problems.append(f"node {node_id} ({file_node.get('type')}) is not in the editor")
        elif live.type != file_node.get("type"):
            problems.append(f"node {node_id} is {live.type!r} in the editor, "
                            f"{file_node.get('type')!r} in the file")
        else:
            problems += widget_mismatches(file_node, live, (later or {}).get(live.type))
    return problems


def optional_widget_defaults(object_info: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """class_type -> {optional input: its default}, the values a newly added widget starts with."""
    out = {}
    for name, spec in object_info.items():
        optional = spec.get("input", {}).get("optional", {})
        out[name] = {key: value[1]["default"] for key, value in optional.items()
                     if len(value) > 1 and isinstance(value[1], dict) and "default" in value[1]}
    return out


def _normalise_input(value: Any) -> Any:
    # A link is [node id, output slot]; ids are strings in the API format, ints are also accepted.
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int) and not isinstance(
            value[0], (list, dict)):
        return [str(value[0]), value[1]]
    if isinstance(value, dict) and set(value) == {"__value__"}:
        return value["__value__"]  # the frontend wraps list values like this
    return value


def api_prompt_mismatches(exported: Mapping[str, Any], twin: Mapping[str, Any],
                          declared_inputs: Mapping[str, Iterable[str]] | None = None,
                          later: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Differences between the frontend's export of a workflow and its API-format twin.

    `declared_inputs` (class_type -> input names, from /object_info) lets the export carry inputs
    the server does not declare (frontend-only widgets such as PreviewAny's `preview`) without the
    twin having to copy them (nor the export those of the twin); without it every exported input
    must be in the twin and the reverse. `later`
    (optional_widget_defaults) lets it carry optional inputs a node gained after the twin was
    exported, at their defaults (the server applies those to the twin too).
    """
    problems = []
    if set(exported) != set(twin):
        problems.append(f"node ids differ: export {sorted(exported)}, twin {sorted(twin)}")
    for node_id in sorted(set(exported) & set(twin), key=str):
        got, want = exported[node_id], twin[node_id]
        if got.get("class_type") != want.get("class_type"):
            problems.append(f"node {node_id}: class_type {got.get('class_type')!r} in the export, "
                            f"{want.get('class_type')!r} in the twin")
            continue
        got_inputs, want_inputs = got.get("inputs", {}), want.get("inputs", {})
        declared = None if declared_inputs is None else set(declared_inputs.get(got["class_type"], ()))
        for name in sorted(set(got_inputs) | set(want_inputs)):
            if name not in want_inputs:
                defaults = (later or {}).get(got["class_type"], {})
                if name in defaults and same_value(defaults[name], got_inputs[name]):
                    continue
                if declared is None or name in declared:
                    problems.append(f"node {node_id}: input {name!r} is exported but not in the twin")
            elif name not in got_inputs:
                # A frontend-only input another frontend exported (LoadAudio's audioUI, 1.32): no input.
                if declared is None or name in declared:
                    problems.append(f"node {node_id}: input {name!r} is in the twin but not exported")
            elif not same_value(_normalise_input(want_inputs[name]), _normalise_input(got_inputs[name])):
                problems.append(f"node {node_id}: input {name!r} exported as {got_inputs[name]!r}, "
                                f"the twin has {want_inputs[name]!r}")
    return problems


def declared_inputs_from_object_info(object_info: Mapping[str, Any]) -> dict[str, list[str]]:
    out = {}
    for name, spec in object_info.items():
        inputs = spec.get("input", {})
        out[name] = [key for section in ("required", "optional") for key in inputs.get(section, {})]
    return out


def ui_node(node_id: int, node_type: str, pos: Sequence[float], *, size: Sequence[float] = (300, 120),
            inputs: Sequence[dict] = (), outputs: Sequence[dict] = (), widgets_values: Sequence = (),
            order: int = 0) -> dict:
    """One node of a UI-format (version 0.4) workflow, as the editor saves it."""
    return {"id": node_id, "type": node_type, "pos": list(pos), "size": list(size), "flags": {},
            "order": order, "mode": 0, "inputs": list(inputs), "outputs": list(outputs),
            "properties": {}, "widgets_values": list(widgets_values)}


def ui_workflow(nodes: Sequence[dict], links: Sequence[Sequence]) -> dict:
    """A UI-format workflow; links are [id, from node, from slot, to node, to slot, type]."""
    return {"last_node_id": max((n["id"] for n in nodes), default=0),
            "last_link_id": max((link[0] for link in links), default=0),
            "nodes": list(nodes), "links": [list(link) for link in links],
            "groups": [], "config": {}, "extra": {}, "version": 0.4}
