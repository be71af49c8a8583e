"""Rows per minute of scripts/batch_csv.py with 1..N local ComfyUI servers on the tiny test models.

    UNIAVGEN_COMFYUI_DIR=/path/to/ComfyUI python -m benchmarks.bench_batch [--servers 3] [--rows 6]
        [--threads 1]
Starts N CPU servers (the test hosts: tiny DiT, stand-in encoders), runs one warm-up row on each
(model load), then the same AVG batch of --rows rows on 1, 2, ... N of them; prints one JSON object.
Developer tooling: the hosts are built by uniavgen_tools.dev (batch_farm).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path


from uniavgen_tools.batch.scheduler import Batch, Options
from uniavgen_tools.batch.twins import Settings
from uniavgen_tools.dev.batch_farm import start_farm
from uniavgen_tools.dev.tiny_workflows import make_tiny

from .comfy_host import comfyui_dir
from uniavgen_tools.paths import PACK_ROOT

FACE = PACK_ROOT / "example_inputs" / "uniavgen_face.png"


def write_rows(path: Path, n: int, tag: str) -> Path:
    lines = ["data_id,ref_image_path,speech_content,prompt,lang"]
    lines += [f"{tag}{i:03d},{FACE},Hello number {i}.,A man talks.,en" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def batch(csv_path: Path, out: Path, urls: list[str]) -> dict:
    runner = Batch(csv_path, 0, Settings({"num_steps": 2, "seed": 7}), out, Options(servers=urls),
                   prompt_hook=make_tiny, show_progress=False)
    return asyncio.run(runner.run())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--servers", type=int, default=3)
    p.add_argument("--rows", type=int, default=6)
    p.add_argument("--threads", type=int, default=1, help="torch threads of each server")
    args = p.parse_args()
    root = comfyui_dir(None)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        servers = start_farm(root, [tmp_path / f"host{i}" for i in range(args.servers)], args.threads)
        try:
            urls = [s.base_url for s in servers]
            batch(write_rows(tmp_path / "warm.csv", len(urls), "warm"), tmp_path / "warm", urls)
            result = {"rows": args.rows, "threads_per_server": args.threads, "cpus": os.cpu_count(),
                      "load_average_before": os.getloadavg()[0], "runs": {}}
            for n in range(1, len(urls) + 1):
                summary = batch(write_rows(tmp_path / f"n{n}.csv", args.rows, f"n{n}_"), tmp_path / f"n{n}",
                                urls[:n])
                result["runs"][n] = {"rows_per_minute": summary["rows_per_minute"],
                                     "seconds": summary["seconds"], "failed": summary["failed"],
                                     "rows_per_server": [v["rows"] for v in summary["servers"].values()]}
            result["load_average_after"] = os.getloadavg()[0]
        finally:
            for server in servers:
                server.stop()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
