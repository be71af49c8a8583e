"""The sizes of a tiny run, in one place: the tiny prompts, the in-process node tests and the demo.

Pixel frames everywhere: 17 frames at 16 fps are 5 latent frames (1.06 s), the golden geometry.
Unit tests that build latents directly name theirs LATENT_FRAMES.
"""

FRAMES = 17       # pixel frames
SHORT_SIDE = 64   # px: 4 latent rows
STEPS = 2
FPS = 16.0
