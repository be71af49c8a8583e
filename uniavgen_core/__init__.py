"""Pure-PyTorch UniAVGen library. Never imports ComfyUI (`comfy`, `folder_paths`, `server`)."""

__version__ = "0.1.0"
