"""The batch runner (python -m uniavgen_tools.batch): official CSV rows spread over many ComfyUI servers.

rows      the CSV: columns per task, path resolution, the checks a row must pass before it is queued
twins     the API twins in workflows/api/: this row's values on their known node ids
server    one ComfyUI server over HTTP and its websocket (aiohttp, which ComfyUI itself requires)
manifest  the record beside the outputs that makes a rerun do only what is left; atomic mp4 writes
progress  one overall progress bar
scheduler the workers: one per server, retries, failures, Ctrl-C, the summary
"""
