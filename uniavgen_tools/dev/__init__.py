"""Developer tooling shared by the user tools, the tests and the benchmarks.

comfy_server      a ComfyUI server started on a throwaway folder layout (or attached to), over HTTP
inprocess         ComfyUI imported into this process, the pack loaded through its own loader
stand_ins         the stand-in text encoder and VAE nodes (stand_in_pack/) for runs without real weights
tiny_models       the tiny random DiT and vocoder in the official layout, cached and linked into layouts
demo_models       the random single-file models `run.sh --demo` uses
tiny_workflows    API prompts shrunk to the tiny models (stand-in loaders); tiny_sizes: their sizes
random_inputs     random task inputs of any size (sampler tests, benchmarks)
workflow_graph    workflow graphs in the frontend's format; workflow_specs: the shipped workflows
workflow_check    a saved workflow / API twin against a live server's /object_info
browser           the real frontend in Playwright (open, run, export API prompts)
batch_farm        several local CPU ComfyUI servers for the batch client (tiny_batch: its CLI on them)

Commands: python -m uniavgen_tools.dev.make_workflows | export_api_prompts | make_example_inputs
"""
