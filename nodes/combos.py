"""Drop-down (combo) values checked by the pack: ComfyUI 0.3.75 does not check V3 combo values.

A value sent through the API, or linked from a string node, could be anything; without this it
fails deep inside a node with a raw error. One rule for every node: the value must be one of the
options the node's schema offers.
"""

from __future__ import annotations

from comfy_api.latest import io


def combo_options(node_cls: type[io.ComfyNode], name: str) -> list:
    """The options of combo input `name` of a node, as its schema lists them now."""
    for item in node_cls.define_schema().inputs:
        if item.id == name and isinstance(item, io.Combo.Input):
            return list(item.options or [])
    raise KeyError(f"{node_cls.__name__} has no combo input {name!r}")


def combo_problem(node_cls: type[io.ComfyNode], node: str, fix: str = "Pick one from the list.",
                  **values) -> str | None:
    """A message for the first value (None = linked, not known yet) that is not an option."""
    for name, value in values.items():
        if value is None:
            continue
        options = combo_options(node_cls, name)
        if value not in options:
            shown = options if len(options) <= 12 else options[:12] + [f"... ({len(options)} in all)"]
            return f"{node}: '{name}' {value!r} is not one of {shown}. {fix}"
    return None


def check_combos(node_cls: type[io.ComfyNode], node: str, fix: str = "Pick one from the list.",
                 **values) -> None:
    """Raise the combo_problem message (for execute, where linked values have arrived)."""
    problem = combo_problem(node_cls, node, fix, **values)
    if problem:
        raise ValueError(problem)
