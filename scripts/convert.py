"""Convert the official UniAVGen download into single safetensors files; runs from any folder.

From your ComfyUI folder (relative paths resolve against the folder you run it from):
    python custom_nodes/ComfyUI-UniAVGen/scripts/convert.py models/diffusion_models/UniAVGen \\
        models/diffusion_models --vocoder models/diffusion_models/UniAVGen/code2wav_bigvgan_model
Use the Python that runs ComfyUI (it needs torch and safetensors, nothing else).
"""

from __future__ import annotations

import sys
from pathlib import Path

# The pack's folder, so that `uniavgen_core` imports whatever the working directory is.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uniavgen_core.convert import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(prog=f"python {sys.argv[0]}"))
