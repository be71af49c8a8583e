"""Geometry helpers: frames <-> frames <-> mel frames, seconds, the resize rule, latent sizes."""

from __future__ import annotations

import pytest

from uniavgen_core import geometry as geo


def test_official_window_21_81_506():
    assert geo.pixel_frames(21) == 81
    assert geo.latent_frames(81) == 21
    assert geo.mel_frames(21) == 506
    assert geo.clip_seconds(21) == 5.0625
    assert geo.mel_seconds(506) == 5.06


@pytest.mark.parametrize("latent, pixel, mel", [(1, 1, 6), (2, 5, 31), (5, 17, 106), (21, 81, 506)])
def test_frame_rules(latent, pixel, mel):
    assert geo.pixel_frames(latent) == pixel
    assert geo.latent_frames(pixel) == latent
    assert geo.mel_frames(latent) == mel


@pytest.mark.parametrize("pixel", [2, 80, 82])
def test_latent_frames_rejects_non_4k_plus_1(pixel):
    with pytest.raises(ValueError, match="4k\\+1"):
        geo.latent_frames(pixel)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_frame_counts_must_be_positive_ints(bad):
    with pytest.raises(ValueError, match="positive integer"):
        geo.pixel_frames(bad)


@pytest.mark.parametrize("size, expected", [
    ((1280, 736), (1280, 736)),      # official example, unchanged
    ((768, 1024), (736, 992)),       # W768 x H1024 -> 736 x 992 (long side rounded up)
    ((1920, 1080), (1312, 736)),     # 1920*736/1080 = 1308.4 -> 1312
    ((1280, 720), (1312, 736)),      # 720p: the short side goes up to 736
    ((500, 500), (736, 736)),        # square
    ((1000, 370), (2016, 736)),      # official float maths would make the short side 768 here
])
def test_model_resolution(size, expected):
    assert geo.model_resolution(*size) == expected


def test_model_resolution_other_short_side():
    assert geo.model_resolution(1920, 1080, short_side=480) == (864, 480)
    assert geo.model_resolution(1920, 1080, short_side=500) == (928, 512)   # 500 -> ceil32 = 512


def test_model_resolution_errors():
    with pytest.raises(ValueError, match="image width must be a positive integer"):
        geo.model_resolution(0, 720)
    with pytest.raises(ValueError, match="short_side"):
        geo.model_resolution(1280, 720, short_side=-1)


def test_check_resolution_accepts_multiples_of_32():
    assert geo.check_resolution(832, 480) == (832, 480)


@pytest.mark.parametrize("w, h, match", [(1000, 736, "width 1000 is not a multiple of 32.*use 992 or 1024"),
                                         (1280, 720, "height 720 is not a multiple of 32.*use 704 or 736"),
                                         (16, 64, "use 32"), (0, 64, "positive integer")])
def test_check_resolution_errors(w, h, match):
    with pytest.raises(ValueError, match=match):
        geo.check_resolution(w, h)


def test_latent_and_pixel_sizes():
    assert geo.latent_size(1280, 736) == (80, 46)
    assert geo.latent_size(96, 64) == (6, 4)
    assert geo.pixel_size(80, 46) == (1280, 736)
    with pytest.raises(ValueError, match="multiple of 32"):
        geo.latent_size(1280, 720)
    with pytest.raises(ValueError, match="latent height 45 is odd"):
        geo.pixel_size(80, 45)
