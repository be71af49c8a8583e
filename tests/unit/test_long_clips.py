"""Long clips in the core: audio windows cut at pauses, dubbing windows, the voice anchor, the chain.

The chain runs here with recording stand-ins for the model work (sample / decode / encode / vocode),
so every tensor a window is conditioned on can be checked exactly.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from uniavgen_core.chain import (
    ANCHOR,
    PREVIOUS_WINDOW,
    ChainContext,
    ChainOps,
    audio_chain,
    text_chain,
    video_chain,
)
from uniavgen_core.geometry import pixel_frames
from uniavgen_core.long_windows import (
    SAMPLES_PER_FRAME,
    border_energy,
    frames_for_samples,
    join_segments,
    join_speech,
    plan_audio_windows,
    plan_video_windows,
    split_text,
)
from uniavgen_core.tasks import Task
from uniavgen_core.text import SpeechTextEncoder, Vocabulary

ROOT = Path(__file__).resolve().parents[2]
SR = 24000
PAUSES = (60, 125, 190, 262)   # frame borders where the synthetic speaker pauses


def speech_with_pauses(seconds: float = 20.0, pauses=PAUSES, seed: int = 0) -> torch.Tensor:
    """Noise 'syllables' with short (83 ms) silences centred on `pauses`, and a half-loud dip elsewhere in
    every allowed range (the cut must prefer the silence to the dip)."""
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * SR)
    wave = 0.5 * torch.randn(n, generator=g) * (1 + torch.sin(torch.arange(n) / 700.0)) / 2
    for frame in pauses:
        centre = frame * SAMPLES_PER_FRAME
        wave[centre - 1000:centre + 1000] = 0.0
        dip = (frame - 8) * SAMPLES_PER_FRAME   # quieter than speech, louder than silence
        wave[dip - 1500:dip + 1500] *= 0.3
    return wave


def test_audio_cuts_land_in_the_pauses_and_cover_every_sample():
    wave = speech_with_pauses()
    segments = plan_audio_windows(wave, 81)
    assert [s.stop for s in segments[:-1]] == list(PAUSES)
    for s in segments:
        assert s.overlap + s.count <= 81 and s.generated <= 81 and (s.generated - 1) % 4 == 0
        lowest = s.start + int(0.6 * (81 - s.overlap) + 0.999)
        if s is not segments[-1]:   # the quietest border of the allowed range
            energies = {f: border_energy(wave, f) for f in range(lowest, s.start + 81 - s.overlap + 1)}
            assert border_energy(wave, s.stop) == min(energies.values())
    # every sample once: the segments' sample ranges tile [0, N)
    ranges = [(s.start * SAMPLES_PER_FRAME, min(s.stop * SAMPLES_PER_FRAME, wave.numel())) for s in segments]
    assert ranges[0][0] == 0 and ranges[-1][1] == wave.numel()
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert segments[-1].stop == frames_for_samples(wave.numel()) == 320


def test_audio_windows_never_exceed_the_window_length_on_any_signal():
    g = torch.Generator().manual_seed(1)
    # seconds per window length: within the windows-per-run limit even when every cut comes early
    for window, seconds in ((9, 8.3), (33, 37.3), (81, 60.7)):
        wave = torch.randn(int(seconds * SR), generator=g)
        segments = plan_audio_windows(wave, window)
        assert all(0 < s.overlap + s.count <= window for s in segments)
        assert segments[0].start == 0 and segments[-1].stop == frames_for_samples(wave.numel())
        assert all(a.stop == b.start for a, b in zip(segments, segments[1:], strict=False))


def test_dubbing_windows_partition_the_frames():
    for total in (1, 80, 81, 82, 320, 963):
        segments = plan_video_windows(total, 81)
        assert segments[0].start == 0 and segments[-1].stop == total
        assert all(a.stop == b.start and b.overlap == 0 for a, b in zip(segments, segments[1:], strict=False))
        assert all(0 < s.count <= 81 and s.generated <= 81 for s in segments)
        assert max(s.count for s in segments) - min(s.count for s in segments) <= 1


def test_text_split_over_windows_keeps_every_word_in_order():
    text = "One two three four five six seven eight nine ten eleven twelve thirteen fourteen."
    pieces = split_text(text, "en", [80, 80, 40])
    assert "".join(pieces) == text and all(p.strip() for p in pieces)
    assert len(pieces[2].split()) < len(pieces[0].split())
    assert split_text("", "en", [1, 1]) == ["", ""]


# ---- the chain with recording stand-ins -------------------------------------------------------

class Recorder:
    """Stand-ins for the model work. Decoded frames are labelled (window, local index); encoding a
    frame stores its labels in the latent, so conditions can be traced back to frames."""

    def __init__(self):
        self.sampled, self.encoded, self.voiced = [], [], []

    def sample(self, inputs, n):
        self.sampled.append(inputs)
        f = inputs.latent_frames
        video = torch.full((1, 48, f, 2, 2), float(n))
        mel = torch.full((1, inputs.mel_frames, 80), float(n + 1))
        return video, mel

    def decode(self, video):
        frames = pixel_frames(video.shape[2])
        window = torch.full((frames,), float(video[0, 0, 0, 0, 0]))
        label = torch.stack([window, torch.arange(frames).float()], 1)
        return label[:, :, None, None]       # [F, 2, 1, 1]: (window, local frame)

    def encode(self, frames):
        self.encoded.append(frames)
        latent = torch.zeros(1, 48, (frames.shape[0] - 1) // 4 + 1, 2, 2)
        latent[0, :2, 0] = frames[0, :2, 0, 0][:, None, None]
        return latent

    def vocode(self, mel, frames):
        return torch.full((frames * SAMPLES_PER_FRAME,), float(mel[0, 0]))

    def voice_mel(self, wave):
        mel = torch.full((50, 80), float(wave[0]) * 10)
        self.voiced.append(mel)
        return mel

    def audio_mel(self, wave):   # one row per 240 samples (+1, as an STFT would give), row = mean
        padded = torch.nn.functional.pad(wave, (0, -wave.numel() % 240))
        rows = padded.reshape(-1, 240).mean(1)
        return torch.cat([rows, rows[-1:]])[:, None].expand(-1, 80).clone()

    def ops(self):
        return ChainOps(self.sample, self.decode, self.encode, self.vocode, self.voice_mel, self.audio_mel)


def encoder():
    tokens = ["<pad>", " "] + list("abcdefghijklmnopqrstuvwxyz.,")
    return SpeechTextEncoder(Vocabulary.from_text("\n".join(tokens)))


def context(voice=None, anchor=ANCHOR, ref=True):
    return ChainContext(encoder=encoder(), language="en", t5_context=torch.ones(3, 8),
                        t5_negative=torch.zeros(1, 8),
                        ref_latent=torch.zeros(1, 48, 1, 2, 2) if ref else None, reference_voice=voice,
                        reference_text="my own voice." if voice is not None else "", anchor=anchor)


def test_a2v_chain_hears_its_slice_continues_and_covers_the_audio():
    wave = speech_with_pauses(seed=2)
    rec = Recorder()
    chain = audio_chain(context(), rec.ops(), wave, "hello there. this is long.", 81)
    segments = chain.segments
    assert [i.task for i in rec.sampled] == [Task.A2V] + [Task.A2V_CONTINUE] * (len(segments) - 1)
    for n, (inputs, s) in enumerate(zip(rec.sampled, segments, strict=True)):
        first = (s.start - s.overlap) * SAMPLES_PER_FRAME    # the window's own audio slice
        expect = wave[first:first + 240].mean()
        assert torch.isclose(inputs.cond_mel[0, 0], expect) and inputs.cond_mel.shape[0] == inputs.mel_frames
        assert pixel_frames(inputs.latent_frames) == s.generated
        if n:   # condition = the previous segment's last kept frame
            before = segments[n - 1]
            assert inputs.cond_latent[0, 0, 0, 0, 0] == n - 1
            assert inputs.cond_latent[0, 1, 0, 0, 0] == before.overlap + before.count - 1
    video = join_segments([w.frames for w in chain.windows], segments)
    assert video.shape[0] == frames_for_samples(wave.numel())   # exactly as long as the audio
    assert "".join(chain.texts) == "hello there. this is long."


def test_v2a_chain_every_frame_once_and_one_voice():
    frames = torch.arange(300).float()[:, None, None, None].expand(300, 2, 1, 1).clone()
    rec = Recorder()
    chain = video_chain(context(ref=False), rec.ops(), frames, "a b c d e f g h i j k l m n o p.", 81)
    segments = chain.segments
    assert [s.count for s in segments] == [75, 75, 75, 75]
    # each window is given exactly its frames (the last repeated up to 4k+1), borders as planned
    for given, s in zip(rec.encoded, segments, strict=True):
        assert torch.equal(given[:s.count], frames[s.start:s.stop]) and given.shape[0] == s.generated
        assert torch.equal(given[s.count:], frames[s.stop - 1:s.stop].expand(s.generated - s.count, 2, 1, 1))
    assert torch.equal(torch.cat([g[:s.count] for g, s in zip(rec.encoded, segments, strict=True)]), frames)
    assert [i.task for i in rec.sampled] == [Task.V2A] + [Task.V2A_VOICE] * 3
    anchor = rec.voiced[0]
    assert all(i.ref_mel is anchor for i in rec.sampled[1:]) and len(rec.voiced) == 1
    speech = join_speech([w.wave for w in chain.windows], segments)
    assert speech.numel() == 300 * SAMPLES_PER_FRAME


TEXTS = ["first bit.", "second bit.", "third bit.", "fourth bit."]


def test_voice_anchor_is_window_one_for_every_later_window():
    rec = Recorder()
    text_chain(context(), rec.ops(), TEXTS, 17)
    assert [i.task for i in rec.sampled] == [Task.AVG] + [Task.CONTINUE] * 3
    anchor = rec.voiced[0]
    assert len(rec.voiced) == 1 and float(anchor[0, 0]) == 10.0    # window 1's speech (mel value 1)
    for inputs in rec.sampled[1:]:
        assert inputs.ref_mel is anchor
        # the anchor's transcript is window 1's text, prefixed as RAVG
        ids = encoder().encode_for_task("x", "en", Task.CONTINUE, reference_text=TEXTS[0]).positive.ids[0]
        assert torch.equal(inputs.speech_ids[:len(TEXTS[0])], ids[:len(TEXTS[0])])


def test_voice_anchor_is_the_users_voice_when_given():
    voice = torch.randn(40, 80)
    rec = Recorder()
    text_chain(context(voice=voice), rec.ops(), TEXTS, 17)
    assert [i.task for i in rec.sampled] == [Task.RAVG] + [Task.CONTINUE] * 3
    assert all(i.ref_mel is voice for i in rec.sampled) and not rec.voiced
    rec = Recorder()
    video_chain(context(voice=voice), rec.ops(), torch.zeros(200, 2, 1, 1), "a b c.", 81)
    assert [i.task for i in rec.sampled] == [Task.V2A_VOICE] * 3
    assert all(i.ref_mel is voice for i in rec.sampled)


def test_previous_window_option_clones_the_window_before():
    rec = Recorder()
    text_chain(context(anchor=PREVIOUS_WINDOW), rec.ops(), TEXTS, 17)
    assert len(rec.voiced) == 3
    for n, inputs in enumerate(rec.sampled[1:]):
        assert inputs.ref_mel is rec.voiced[n] and float(inputs.ref_mel[0, 0]) == 10.0 * (n + 1)
    voice = torch.randn(40, 80)
    rec = Recorder()
    text_chain(context(voice=voice, anchor=PREVIOUS_WINDOW), rec.ops(), TEXTS, 17)
    assert rec.sampled[0].ref_mel is voice and rec.sampled[1].ref_mel is rec.voiced[0]


def test_an_unknown_anchor_is_refused():
    with pytest.raises(ValueError, match="voice anchor 'drift'"):
        context(anchor="drift")


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
            for n in ast.walk(tree) if isinstance(n, ast.Call)}


def test_node_and_parity_chain_test_use_the_core_chain():
    node = _calls(ROOT / "nodes" / "long_form.py")
    parity = _calls(ROOT / "tests" / "parity" / "test_continuation_chain.py")
    assert "text_chain" in node and "text_chain" in parity
    # no second copy of the loop: neither builds continuation inputs itself
    assert "continuation" not in node and "continuation" not in parity
