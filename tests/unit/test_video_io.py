"""The reproducible mp4 writer: the same frames give the same file, read back with PyAV."""

from __future__ import annotations

import json
import re
from fractions import Fraction

import numpy as np
import pytest
import torch

from helpers.clips import FRAMES, HEIGHT, WIDTH, as_yuv420, decode_mp4, moving_clip, sha256, speech
from uniavgen_core.video_io import SoundTrack, VideoWriteError, check_filename_prefix, write_mp4, x264_params

def test_the_same_frames_give_the_same_file_every_time(tmp_path):
    clip, sound = moving_clip(), speech(FRAMES / 16)
    paths = [write_mp4(tmp_path / f"run{i}.mp4", clip, 16, sound) for i in range(4)]
    assert len({sha256(p) for p in paths}) == 1
    other = write_mp4(tmp_path / "other.mp4", moving_clip(seed=1), 16, sound)
    assert sha256(other) != sha256(paths[0])  # the content reaches the file: the check can fail


def test_frames_rate_audio_and_metadata_come_back(tmp_path):
    clip = moving_clip(grain=0.0)
    sound = speech(2.0, rate=24000, channels=2)  # longer than the clip: cut at the last frame
    prompt = {"3": {"class_type": "KSampler", "inputs": {"seed": 7}}}
    path = write_mp4(tmp_path / "clip.mp4", clip, 16.0, sound, crf=18,
                     metadata={"prompt": prompt, "title": "take one"})
    back = decode_mp4(path)
    assert back["frames"].shape == (FRAMES, HEIGHT, WIDTH, 3) and back["rate"] == 16
    error = np.abs(back["frames"].astype(int) - as_yuv420(clip)).mean()
    assert error < 3, error  # 2.2 measured at crf 18; swapped channels or a shifted frame give tens
    assert json.loads(back["metadata"]["prompt"]) == prompt and back["metadata"]["title"] == "take one"
    samples, rate, channels = back["audio"]
    assert rate == 24000 and channels == 2
    # AAC adds its priming and pads the last packet; 17 frames at 16 fps are 25,500 samples.
    assert 25500 <= samples.shape[-1] <= 25500 + 2048


def test_lower_crf_gives_a_closer_picture(tmp_path):
    clip = moving_clip(grain=0.02)
    expected = as_yuv420(clip)
    errors = {crf: np.abs(decode_mp4(write_mp4(tmp_path / f"crf{crf}.mp4", clip, 16, crf=crf))["frames"]
                          .astype(int) - expected).mean() for crf in (10, 35)}
    assert errors[10] < errors[35] / 2, errors


def test_fractional_frame_rates_are_kept(tmp_path):
    path = write_mp4(tmp_path / "ntsc.mp4", moving_clip(frames=6), Fraction(30000, 1001))
    assert decode_mp4(path)["rate"] == Fraction(30000, 1001)


@pytest.mark.parametrize(("frames", "needle"), [
    (torch.rand(3, 63, 96, 3), "even width and height"),
    (torch.rand(3, 64, 95, 3), "even width and height"),
    (torch.rand(64, 96, 3), "[frames, height, width, 3]"),
    (torch.rand(0, 64, 96, 3), "at least one frame"),
])
def test_frames_that_cannot_be_h264_are_refused(tmp_path, frames, needle):
    with pytest.raises(VideoWriteError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        write_mp4(tmp_path / "bad.mp4", frames, 16)
    assert list(tmp_path.iterdir()) == []


def test_bad_settings_are_refused(tmp_path):
    clip = moving_clip(frames=2)
    with pytest.raises(VideoWriteError, match="crf must be in 0..51"):
        write_mp4(tmp_path / "a.mp4", clip, 16, crf=52)
    with pytest.raises(VideoWriteError, match="frame rate must be positive"):
        write_mp4(tmp_path / "b.mp4", clip, 0)
    with pytest.raises(VideoWriteError, match="audio must be"):
        write_mp4(tmp_path / "c.mp4", clip, 16, SoundTrack(torch.zeros(3, 100), 24000))
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_never_overwritten(tmp_path):
    path = tmp_path / "mine.mp4"
    path.write_bytes(b"a user's file")
    with pytest.raises(VideoWriteError, match="already exists"):
        write_mp4(path, moving_clip(frames=2), 16)
    assert path.read_bytes() == b"a user's file"


def test_an_interruption_leaves_no_file(tmp_path):
    calls = []

    def interrupt_on_second_chunk():
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt):
        write_mp4(tmp_path / "cut.mp4", moving_clip(), 16, on_chunk=interrupt_on_second_chunk)
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


def test_nan_frames_are_refused_and_leave_no_file(tmp_path):
    # issue 19: a clip with NaN pixels is refused (it used to be written black with a warning)
    clip = moving_clip(frames=4)
    clip[1] = float("nan")
    with pytest.raises(VideoWriteError, match="frame 1 holds NaN/inf pixels"):
        write_mp4(tmp_path / "nan.mp4", clip, 16)
    assert list(tmp_path.iterdir()) == []


def test_inf_audio_is_refused_and_leaves_no_file(tmp_path):
    wave = torch.zeros(1, 24000)
    wave[0, 5] = float("inf")
    with pytest.raises(VideoWriteError, match="audio holds 1 NaN/inf samples"):
        write_mp4(tmp_path / "inf.mp4", moving_clip(frames=4), 16, SoundTrack(wave, 24000))
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_never_replaced(tmp_path):
    target = tmp_path / "taken.mp4"
    target.write_bytes(b"keep")
    with pytest.raises(VideoWriteError, match="already exists"):
        write_mp4(target, moving_clip(frames=4), 16)
    assert target.read_bytes() == b"keep" and sorted(p.name for p in tmp_path.iterdir()) == ["taken.mp4"]


@pytest.mark.parametrize("prefix, fragment", [
    ("", "is empty"), ("   ", "is empty"), ("clip\x00x", "control character"), ("a/\nb", "control character"),
    ("/etc/clip", "absolute path"), ("C:/clip", "absolute path"), ("../clip", "'..'"), (".hidden", "hidden"),
    ("a//b", "empty names"), ("x" * 300, "bytes"), ("d/" * 600 + "c", "bytes long"),
])
def test_bad_filename_prefixes_are_refused(prefix, fragment):
    with pytest.raises(VideoWriteError, match=re.escape(fragment)):
        check_filename_prefix(prefix)


def test_good_filename_prefixes_pass():
    assert check_filename_prefix(" UniAVGen/clip ") == "UniAVGen/clip"
    assert check_filename_prefix("%date:yyyy-MM-dd%/talk") == "%date:yyyy-MM-dd%/talk"
    assert check_filename_prefix("ünï/çode 1") == "ünï/çode 1"


def test_x264_is_capped_below_avx512_only_where_torch_sees_avx512(monkeypatch):
    for capability, expected in (("AVX512", "asm=AVX2"), ("AVX2", None), ("DEFAULT", None), ("NEON", None)):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        assert x264_params() == expected
