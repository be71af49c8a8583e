"""A 3-window continuation chain on the golden tiny model: conditions carried over, deterministic."""

from __future__ import annotations

import pytest
import torch

from helpers.paths import reference_dir
from uniavgen_core.checkpoint import load_audio_dit, load_video_dit
from uniavgen_core.long_form import continuation, plan_windows
from uniavgen_core.sampler import SamplerSettings, sample
from uniavgen_core.tasks import Task, TaskInputs
from uniavgen_core.text import SpeechTextEncoder, Vocabulary

TEXT = "Hello there, friends. This is a longer clip. It keeps going for a while, and then it ends."


@pytest.fixture(scope="module")
def dits(golden):
    path = golden / "checkpoint"
    return load_video_dit(path, dtype=torch.float32), load_audio_dit(path, dtype=torch.float32)


def chain(dits, seed: int, count: int = 3) -> list[tuple[TaskInputs, object]]:
    encoder = SpeechTextEncoder(Vocabulary.from_file(reference_dir() / "vocab.txt"))
    windows = [w.strip() for w in plan_windows(TEXT, "en", seconds=1.5)][:count]
    g = torch.Generator().manual_seed(3)
    width, channels = dits[0].config.text_dim, dits[0].config.in_dim  # whatever golden set is in use
    first_text = encoder.encode(windows[0], "en")
    positive, negative = first_text.positive, first_text.negative
    inputs = TaskInputs(task=Task.AVG, speech_ids=positive.ids[0], speech_len=int(positive.lens[0]),
                        neg_speech_ids=negative.ids[0], neg_speech_len=int(negative.lens[0]),
                        t5_context=torch.randn(7, width, generator=g),
                        t5_negative=torch.randn(1, width, generator=g),
                        ref_latent=torch.randn(1, channels, 1, 4, 6, generator=g), latent_frames=5)
    done = []
    for n, text in enumerate(windows):
        if n:
            previous, result = done[-1]
            speech = encoder.encode_for_task(text, "en", Task.CONTINUE, reference_text=windows[n - 1])
            # k = 1: the previous window's last latent frame stands in for its re-encoded last frame
            inputs = continuation(inputs, cond_latent=result.decode_video[:, :, -1:],
                                  voice_mel=result.decode_audio[0], speech=speech)
        with torch.no_grad():
            result = sample(*dits, inputs, SamplerSettings(steps=2, seed=seed + n, slg_layer=1,
                                                           batched_cfg=True))
        done.append((inputs, result))
    return done


def test_three_windows_carry_conditions_and_repeat_per_seed(dits):
    first = chain(dits, seed=5)
    assert [i.task for i, _ in first] == [Task.AVG, Task.CONTINUE, Task.CONTINUE]
    for (_, before), (inputs, after) in zip(first, first[1:], strict=False):
        assert torch.equal(inputs.cond_latent, before.decode_video[:, :, -1:])     # condition = last frame
        assert torch.equal(inputs.ref_mel, before.decode_audio[0])                # voice = previous speech
        assert torch.equal(after.decode_video[:, :, :1], inputs.cond_latent)      # written back
    again = chain(dits, seed=5)
    for (_, a), (_, b) in zip(first, again, strict=True):
        assert torch.equal(a.decode_video, b.decode_video) and torch.equal(a.decode_audio, b.decode_audio)
    other = chain(dits, seed=6, count=1)
    assert not torch.equal(first[0][1].decode_video, other[0][1].decode_video)
