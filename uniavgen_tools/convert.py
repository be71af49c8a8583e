"""Convert the official UniAVGen download into single safetensors (or GGUF) files.

With the Python that runs ComfyUI (torch and safetensors, nothing else), from the pack's folder:
    python -m uniavgen_tools.convert SRC DST [--vocoder DIR]
or from any folder: bash <pack>/scripts/uniavgen.sh convert SRC DST [--vocoder DIR]
"""

from uniavgen_core.convert import main

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m uniavgen_tools.convert"))
