"""One rule set for the sampling settings: the Sampler, Long-form and native nodes refuse the same bad
value in the same words, each naming itself and its input, at run time and (all but Long-form) before
the queue too (the rules: uniavgen_core.settings)."""

from __future__ import annotations

import inspect

import pytest

from helpers.node_runner import node_class, run, validate

SAMPLER, LONG, GUIDER, SCHEDULER, CONDITIONING = ("UniAVGenSampler", "UniAVGenLongForm", "UniAVGenGuider",
                                                  "UniAVGenScheduler", "UniAVGenConditioning")
NAMES = {SAMPLER: "UniAVGen Sampler", LONG: "UniAVGen Long Form", GUIDER: "UniAVGen Guider",
         SCHEDULER: "UniAVGen Scheduler", CONDITIONING: "UniAVGen Conditioning"}

# Good values of every input each node's execute() takes; the models are never reached, because the
# settings are checked first.
_SAMPLING = dict(seed=1, steps=50, shift=5.0, video_cfg=3.0, audio_cfg=2.0, macfg_fraction=0.5, slg_layer=11,
                 batched_cfg=True)
_CONDITIONS = dict(positive=None, negative=None, speech=None, length=81)
GOOD = {
    SAMPLER: dict(video_dit=None, audio_dit=None, **_CONDITIONS, **_SAMPLING, step_cache=0.0),
    LONG: dict(video_dit=None, audio_dit=None, vocoder=None, vae=None, positive=None, negative=None,
               reference_image=None, text="Hello.", language="en", window_seconds=4.5, length=81,
               **_SAMPLING),
    GUIDER: dict(model=None, positive=None, negative=None, video_cfg=3.0, audio_cfg=2.0, macfg_fraction=0.5,
                 slg_layer=11, batched_cfg=True, step_cache=0.0),
    SCHEDULER: dict(steps=50, shift=5.0),
    CONDITIONING: dict(model=None, **_CONDITIONS),
}

# (input, bad value, words of the fix): the same words from every node that has the input
BAD = [
    ("video_cfg", -1.0, "cannot be negative"),
    ("audio_cfg", float("inf"), "cannot be negative or infinite"),
    ("macfg_fraction", 1.5, "use 0..1"),
    ("macfg_fraction", -0.25, "use 0..1"),
    ("slg_layer", -3, "use -1 or 0 (off)"),
    ("steps", 0, "use 1..1000"),
    ("shift", 0.0, "must be > 0"),
    ("length", 80, "4k+1 frames, at least 5"),
    ("step_cache", -0.1, "'step_cache' must be a finite number >= 0"),
    ("seed", -3, "use an integer in [0, 2**64)"),
]
CASES = [(node, name, value, words) for name, value, words in BAD for node in GOOD if name in GOOD[node]]


def _validated(node: str, **change) -> bool | str:
    """validate_inputs as ComfyUI calls it: the widget values its signature names (links are absent)."""
    named = inspect.signature(node_class(node).validate_inputs).parameters
    values = {k: v for k, v in {**GOOD[node], **change}.items() if k in named and v is not None}
    return validate(node, **values)


def test_every_rule_reaches_each_node_with_that_input(pack):
    nodes_per_input = {name: {node for node, n, *_ in CASES if n == name} for name, *_ in BAD}
    assert nodes_per_input["video_cfg"] == {SAMPLER, LONG, GUIDER}
    assert nodes_per_input["steps"] == {SAMPLER, LONG, SCHEDULER}
    assert nodes_per_input["length"] == {SAMPLER, LONG, CONDITIONING}
    assert nodes_per_input["step_cache"] == {SAMPLER, GUIDER}


def _named_when_validating(node: str, name: str) -> bool:
    return name in inspect.signature(node_class(node).validate_inputs).parameters


@pytest.mark.parametrize(("node", "name", "value", "words"), CASES)
def test_execution_refuses_with_node_input_and_value(pack, node, name, value, words):
    with pytest.raises(ValueError) as err:
        run(node, **{**GOOD[node], name: value})
    message = str(err.value)
    assert message.startswith(f"{NAMES[node]}: '{name}' is {value}; ") and words in message, message
    if _named_when_validating(node, name):   # refused before the queue too, in the same words
        assert _validated(node, **{name: value}) == message


def test_settings_are_refused_before_the_queue_where_errors_stay_on_their_input(pack):
    """Long-form checks its settings at the start of execute(): its validate_inputs names only its
    combos, so ComfyUI pins a bad 'language' on 'language' alone."""
    for node in (SAMPLER, GUIDER, SCHEDULER, CONDITIONING):
        assert all(_named_when_validating(node, name) for n, name, *_ in CASES if n == node), node
    assert not any(_named_when_validating(LONG, name) for n, name, *_ in CASES if n == LONG)


@pytest.mark.parametrize("node", list(GOOD))
def test_good_values_pass_validation(pack, node):
    assert _validated(node) is True


def test_every_broken_rule_is_listed(pack):
    message = validate(SAMPLER, steps=0, video_cfg=-1.0, length=80)
    assert message.count("'") == 6 and message.startswith("UniAVGen Sampler: 'steps' is 0"), message
    assert "'video_cfg' is -1.0" in message and "'length' is 80" in message


def test_sampler_and_conditioning_declare_the_same_conditioning_inputs(pack):
    """One declaration of the conditioning inputs; workflows depend on the ids and their order."""
    sampler = [i.id for i in node_class(SAMPLER).define_schema().inputs]
    conditioning = [i.id for i in node_class(CONDITIONING).define_schema().inputs]
    shared = ["positive", "negative", "speech", "reference_image", "reference_voice", "condition_audio",
              "condition_video", "length"]
    assert sampler[:2 + len(shared)] == ["video_dit", "audio_dit", *shared]
    assert conditioning == ["model", *shared]
