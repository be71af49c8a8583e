"""Draw the bundled example inputs (a cartoon face, speech-like audio, a silent clip) from scratch.

    python -m uniavgen_tools.dev.make_example_inputs [--out example_inputs]

They are synthetic on purpose: small, free of rights, and enough to drive every workflow. Real
results need a real photo and a real recording.
"""

from __future__ import annotations

import argparse
import logging
import wave
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

from ..paths import EXAMPLE_INPUTS

FACE = "uniavgen_face.png"
VOICE = "uniavgen_voice.wav"          # 2.0 s: a voice to clone (RAVG)
SPEECH = "uniavgen_speech.wav"        # 4.5 s: speech to animate (A2V), shorter than one window
CLIP = "uniavgen_silent_clip.mp4"     # 81 frames at 16 fps: a clip to dub (V2A)
WIDTH, HEIGHT, FPS, FRAMES = 1280, 736, 16, 81
RATE = 24000

log = logging.getLogger(__name__)


def draw_face(mouth_open: float = 0.2) -> Image.Image:
    img = Image.new("RGB", (WIDTH, HEIGHT), (96, 128, 160))
    d = ImageDraw.Draw(img)
    cx, cy = WIDTH // 2, HEIGHT // 2 + 20
    d.rectangle([cx - 260, cy + 180, cx + 260, HEIGHT], fill=(60, 70, 110))          # shoulders
    d.ellipse([cx - 170, cy - 250, cx + 170, cy + 210], fill=(236, 196, 164))         # head
    d.chord([cx - 180, cy - 270, cx + 180, cy - 20], 180, 360, fill=(70, 45, 30))     # hair
    for ex in (cx - 70, cx + 70):
        d.ellipse([ex - 28, cy - 60, ex + 28, cy - 30], fill=(255, 255, 255))
        d.ellipse([ex - 12, cy - 56, ex + 12, cy - 34], fill=(50, 40, 30))
    d.line([cx, cy - 20, cx - 12, cy + 40, cx + 8, cy + 44], fill=(190, 140, 120), width=5)
    h = int(8 + 40 * mouth_open)
    d.ellipse([cx - 50, cy + 90 - h // 2, cx + 50, cy + 90 + h // 2], fill=(150, 50, 60))
    return img


def speech_like(seconds: float, pitch: float, seed: int) -> np.ndarray:
    """Voiced syllables: a harmonic source shaped by two moving formants, 3-4 syllables per second."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = pitch * (1 + 0.08 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    source = sum(np.sin(k * phase) / k for k in range(1, 12))
    formant = 0.6 + 0.4 * np.sin(2 * np.pi * 3.5 * t + rng.uniform(0, np.pi))
    syllables = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 0.5
    wave_ = source * formant * syllables + 0.01 * rng.standard_normal(t.shape)
    return (0.6 * wave_ / np.abs(wave_).max()).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes((samples * 32767).astype("<i2").tobytes())


def write_clip(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "30", "preset": "veryfast"}
        for i in range(FRAMES):
            frame = av.VideoFrame.from_image(draw_face(0.5 + 0.5 * np.sin(i * 0.9)))
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EXAMPLE_INPUTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    draw_face().save(args.out / FACE, optimize=True)
    write_wav(args.out / VOICE, speech_like(2.0, pitch=190.0, seed=1))
    write_wav(args.out / SPEECH, speech_like(4.5, pitch=140.0, seed=2))
    write_clip(args.out / CLIP)
    for name in (FACE, VOICE, SPEECH, CLIP):
        log.info("%s: %d bytes", args.out / name, (args.out / name).stat().st_size)


if __name__ == "__main__":
    main()
