"""The pack's command-line tools, run from the pack's folder with `python -m`:

    python -m uniavgen_tools.run        the main job (scripts/run.sh picks the Python and calls it)
    python -m uniavgen_tools.convert    the official download into single safetensors / GGUF files
    python -m uniavgen_tools.batch      CSV rows over one or many ComfyUI servers
    uniavgen_tools.dev                  developer tooling shared by these tools, tests and benchmarks

Nothing here is imported by ComfyUI: the nodes live in `nodes/`, the model in `uniavgen_core/`.
"""
