"""The core's sampling-setting rules (uniavgen_core.settings), worded for a node's own inputs."""

from __future__ import annotations

from ..uniavgen_core.settings import setting_problems

# node input id -> the core's field name, where they differ
_CORE_FIELDS = {"step_cache": "cache_threshold", "length": "frames"}
_INPUT_IDS = {core: ours for ours, core in _CORE_FIELDS.items()}


def settings_message(node: str, **inputs) -> str:
    """"" when the inputs keep the rules, else "<node>: '<input>' is <value>; <fix>; ...".

    Inputs are given under the node's input ids; None (a linked input, unknown while validating)
    is skipped, so validate_inputs and execute can share this.
    """
    core = {_CORE_FIELDS.get(name, name): value for name, value in inputs.items()}
    problems = setting_problems(**core)
    if not problems:
        return ""
    return f"{node}: " + "; ".join(p.worded(_INPUT_IDS.get(p.field, p.field)) for p in problems) + "."


def check_settings(node: str, **inputs) -> None:
    """Raise the `settings_message` of the inputs, if any (at run time, when links have values)."""
    message = settings_message(node, **inputs)
    if message:
        raise ValueError(message)
