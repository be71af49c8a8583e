"""Geometry of the model's spaces: frames, seconds, pixel and latent sizes.

The official values: inference.py and `EvalDataset.process_frames` (utils/eval_dataset.py) of
MCG-NJU/Sora2-mini.

Video: 16 fps; the Wan 2.2 VAE compresses time by 4 (first frame alone) and space by 16, and the DiT
patchifies latents 2x2, so pixel sides must be multiples of 32. Audio: 80-bin mel at 100 frames/s.
Sizes are (width, height) everywhere, like image editors and ComfyUI widgets.
"""

from __future__ import annotations

from typing import NamedTuple

VIDEO_FPS = 16
MEL_FPS = 100                  # 24 kHz audio, hop 240
TIME_STRIDE = 4                # pixel frames per latent frame (after the first)
SPACE_STRIDE = 16              # pixels per latent cell
SIZE_MULTIPLE = 32             # VAE stride 16 x DiT patch 2
LATENT_CHANNELS = 48
MEL_BINS = 80
MEL_MEAN = -5.1753             # global normalisation of the log-mel: (mel - MEAN) / STD
MEL_STD = 2.1544
OFFICIAL_LATENT_FRAMES = 21    # 81 pixel frames, 5.0625 s, 506 mel frames
OFFICIAL_SHORT_SIDE = 720      # rounded up to 736 by the resize rule
MIN_CLIP_FRAMES = 5            # the shortest clip the sampler takes: 2 latent frames


class Size(NamedTuple):
    width: int
    height: int


def _positive_int(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def pixel_frames(latent_frames: int) -> int:
    """Pixel frames decoded from `latent_frames` latents: 4(F-1)+1 (21 -> 81)."""
    return TIME_STRIDE * (_positive_int(latent_frames, "latent_frames") - 1) + 1


def latent_frames(pixel_frames: int) -> int:
    """Latent frames that encode `pixel_frames` frames (81 -> 21); the count must be 4k+1."""
    _positive_int(pixel_frames, "pixel_frames")
    if (pixel_frames - 1) % TIME_STRIDE:
        lower = pixel_frames - (pixel_frames - 1) % TIME_STRIDE
        raise ValueError(f"a clip of {pixel_frames} frames cannot be VAE-encoded exactly: the frame "
                         f"count must be 4k+1 (e.g. {lower} or {lower + TIME_STRIDE})")
    return (pixel_frames - 1) // TIME_STRIDE + 1


def clip_length_problem(frames: int) -> str:
    """What is wrong with a clip length in pixel frames ("" when it is fine): 4k+1, at least 5."""
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < MIN_CLIP_FRAMES \
            or (frames - 1) % TIME_STRIDE:
        return f"4k+1 frames, at least {MIN_CLIP_FRAMES} (e.g. 81)"
    return ""


def frames_at_video_fps(frames: int, fps: float) -> int:
    """How many frames a clip of `frames` frames at `fps` has at the model's 16 fps (nearest frame)."""
    return int(frames / fps * VIDEO_FPS + 1e-6)


def mel_frames(latent_frames: int) -> int:
    """Mel frames of the audio window that spans `latent_frames`: floor(pixel_frames*100/16) (21 -> 506)."""
    return pixel_frames(latent_frames) * MEL_FPS // VIDEO_FPS


def clip_seconds(latent_frames: int) -> float:
    """Duration of the decoded clip in seconds (21 latent frames -> 81/16 = 5.0625 s)."""
    return pixel_frames(latent_frames) / VIDEO_FPS


def mel_seconds(frames: int) -> float:
    """Duration covered by `frames` mel frames (100 per second)."""
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 0:
        raise ValueError(f"mel frame count must be a non-negative integer, got {frames!r}")
    return frames / MEL_FPS


def ceil_to(value: int, multiple: int) -> int:
    """Smallest multiple of `multiple` that is >= value (exact integer arithmetic)."""
    return -(-value // multiple) * multiple


def model_resolution(width: int, height: int, *, short_side: int = OFFICIAL_SHORT_SIDE) -> Size:
    """Official resize rule: short side -> ceil32(short_side) (720 -> 736), the long side scaled by the
    same factor and rounded UP to a multiple of 32 (the aspect ratio changes slightly).

    1280x736 -> 1280x736; W768xH1024 -> 736x992; a square image -> 736x736. Exact integer maths: the
    official float division sometimes lands a hair above 736 and rounds the short side up to 768 (e.g.
    a 370-pixel short side); that is not reproduced.
    """
    _positive_int(width, "image width")
    _positive_int(height, "image height")
    target = ceil_to(_positive_int(short_side, "short_side"), SIZE_MULTIPLE)
    if height < width:
        return Size(ceil_to(width * target, height * SIZE_MULTIPLE) // height, target)
    return Size(target, ceil_to(height * target, width * SIZE_MULTIPLE) // width)


def check_resolution(width: int, height: int) -> Size:
    """Validate an explicit target resolution: both sides positive multiples of 32."""
    for side, value in (("width", width), ("height", height)):
        _positive_int(value, f"target {side}")
        if value % SIZE_MULTIPLE:
            lower = value // SIZE_MULTIPLE * SIZE_MULTIPLE
            hint = f"{lower} or {lower + SIZE_MULTIPLE}" if lower else f"{SIZE_MULTIPLE}"
            raise ValueError(f"target {side} {value} is not a multiple of {SIZE_MULTIPLE} (VAE stride 16 x "
                             f"patch 2); use {hint}")
    return Size(width, height)


def latent_size(width: int, height: int) -> Size:
    """Latent grid of a pixel size (/16): 1280x736 -> 80x46. Sides must be multiples of 32."""
    width, height = check_resolution(width, height)
    return Size(width // SPACE_STRIDE, height // SPACE_STRIDE)


def pixel_size(latent_width: int, latent_height: int) -> Size:
    """Pixel size decoded from a latent grid (x16). Latent sides must be even (DiT 2x2 patches)."""
    for side, value in (("width", latent_width), ("height", latent_height)):
        _positive_int(value, f"latent {side}")
        if value % 2:
            raise ValueError(f"latent {side} {value} is odd; the DiT patchifies 2x2, so latent sides "
                             f"must be even (pixel sides multiples of {SIZE_MULTIPLE})")
    return Size(latent_width * SPACE_STRIDE, latent_height * SPACE_STRIDE)
