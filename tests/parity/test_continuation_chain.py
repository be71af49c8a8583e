"""A 3-window continuation chain on the golden tiny model, run by the core chain the node uses
(uniavgen_core.chain.text_chain): conditions carried over, the voice anchor, deterministic."""

from __future__ import annotations

import pytest
import torch

from helpers.paths import reference_dir
from uniavgen_core.chain import ANCHOR, PREVIOUS_WINDOW, ChainContext, ChainOps, WindowResult, text_chain
from uniavgen_core.checkpoint import load_audio_dit, load_video_dit
from uniavgen_core.long_form import plan_windows
from uniavgen_core.sampler import SamplerSettings, sample
from uniavgen_core.tasks import Task
from uniavgen_core.text import SpeechTextEncoder, Vocabulary

TEXT = "Hello there, friends. This is a longer clip. It keeps going for a while, and then it ends."


@pytest.fixture(scope="module")
def dits(golden):
    path = golden / "checkpoint"
    return load_video_dit(path, dtype=torch.float32), load_audio_dit(path, dtype=torch.float32)


def chain(dits, seed: int, count: int = 3, anchor: str = ANCHOR) -> list[WindowResult]:
    """Latent-space stand-ins for the pixel work: decoding keeps latent frames (frame axis first),
    encoding the last 'frame' gives it back as a condition latent, and the voice is the mel itself."""
    encoder = SpeechTextEncoder(Vocabulary.from_file(reference_dir() / "vocab.txt"))
    windows = [w.strip() for w in plan_windows(TEXT, "en", seconds=1.5)][:count]
    g = torch.Generator().manual_seed(3)
    width, channels = dits[0].config.text_dim, dits[0].config.in_dim  # whatever golden set is in use
    ctx = ChainContext(encoder=encoder, language="en", t5_context=torch.randn(7, width, generator=g),
                       t5_negative=torch.randn(1, width, generator=g),
                       ref_latent=torch.randn(1, channels, 1, 4, 6, generator=g), anchor=anchor)

    def run(inputs, n):
        with torch.no_grad():
            settings = SamplerSettings(steps=2, seed=seed + n, slg_layer=1, batched_cfg=True)
            result = sample(*dits, inputs, settings)
        return result.decode_video, result.decode_audio

    ops = ChainOps(sample=run, decode=lambda v: v[0].transpose(0, 1),
                   encode=lambda f: f.transpose(0, 1)[None], vocode=lambda mel, frames: mel,
                   voice_mel=lambda mel: mel)
    # 5 latent frames = 17 pixel frames per window
    return text_chain(ctx, ops, windows, 17).windows


def test_three_windows_carry_conditions_and_repeat_per_seed(dits):
    first = chain(dits, seed=5)
    assert [w.inputs.task for w in first] == [Task.AVG, Task.CONTINUE, Task.CONTINUE]
    for before, after in zip(first, first[1:], strict=False):
        inputs = after.inputs
        assert torch.equal(inputs.cond_latent, before.video[:, :, -1:])     # condition = last frame
        assert torch.equal(inputs.ref_mel, first[0].mel[0])                 # voice = window 1 (anchor)
        assert torch.equal(after.video[:, :, :1], inputs.cond_latent)       # written back
    again = chain(dits, seed=5)
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a.video, b.video) and torch.equal(a.mel, b.mel)
    other = chain(dits, seed=6, count=1)
    assert not torch.equal(first[0].video, other[0].video)


def test_previous_window_voice_option(dits):
    done = chain(dits, seed=5, anchor=PREVIOUS_WINDOW)
    for before, after in zip(done, done[1:], strict=False):
        assert torch.equal(after.inputs.ref_mel, before.mel[0])             # voice = the window before
