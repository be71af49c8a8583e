"""Convert the official UniAVGen download into single safetensors (or GGUF) files.

From the pack's folder, with the Python that runs ComfyUI (torch and safetensors, nothing else):
    python -m uniavgen_tools.convert ../../models/diffusion_models/UniAVGen ../../models/diffusion_models \\
        --vocoder ../../models/diffusion_models/UniAVGen/code2wav_bigvgan_model
"""

from uniavgen_core.convert import main

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m uniavgen_tools.convert"))
