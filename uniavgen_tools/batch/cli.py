"""Render an official UniAVGen test CSV on one or many running ComfyUI servers: one <data_id>.mp4 per row.

    python -m uniavgen_tools.batch examples.csv --task 0 [--config inference.yaml]
        [--server http://127.0.0.1:8188 --server http://10.0.0.2:8188 ...] [--output outputs]

The same inputs as the official `inference.py --task N --config_file ...`. Each row queues the API
twin of the task's workflow (workflows/api/) with the row's texts and files; its files go into a
subfolder of the server's input folder that belongs to this batch. Rows go to whichever server is
free; a server that dies or runs out of memory hands its row to another one; a bad row fails once
with its reason. Running the same command again does only what is left (see the manifest in the
output folder). Ctrl-C removes this batch's prompts from the servers and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

import yaml
from tqdm.contrib.logging import logging_redirect_tqdm

from .manifest import SUMMARY_NAME
from .rows import TASK_TITLES, RowError, columns_help
from .scheduler import Batch, NoServer, Options
from .twins import PromptHook, Settings, TwinError

log = logging.getLogger("uniavgen.batch")
DEFAULT_SERVER = "http://127.0.0.1:8188"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m uniavgen_tools.batch",
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=columns_help() + "\n\nSamples: example_inputs/batch_task0.csv ... batch_task3.csv\n"
               "On failure: a server that stops answering, runs out of memory or is interrupted gets its\n"
               "row re-queued on another server (at most --retries times, each reason in the summary);\n"
               "a server that comes back is used again. The final JSON summary is printed and written\n"
               f"to <output>/{SUMMARY_NAME}. Exit status: 0 all rows done, 1 some failed or no server, "
               "130 Ctrl-C.")
    p.add_argument("csv", type=Path, help="the official test CSV (columns below)")
    p.add_argument("--task", type=int, choices=sorted(TASK_TITLES), default=0,
                   help="; ".join(f"{k} {v}" for k, v in TASK_TITLES.items()) + " (as the official --task)")
    p.add_argument("--config", type=Path, help="the official inference.yaml: num_steps, shift, seed, "
                   "video/audio_guidance_scale, slg_layer, macfg_prop, video_negative_prompt, output_dir")
    p.add_argument("--server", action="append", metavar="URL",
                   help=f"a running ComfyUI (repeat: one per GPU or machine); default {DEFAULT_SERVER}")
    p.add_argument("--output", type=Path,
                   help="where the mp4s go: default the YAML's output_dir, else ./outputs")
    p.add_argument("--inputs-dir", type=Path, help="read relative paths of the CSV from here")
    p.add_argument("--per-server", type=int, default=1, help="prompts in flight on each server (default 1)")
    p.add_argument("--retries", type=int, default=2,
                   help="times a row is re-queued after server-side failures (default 2)")
    p.add_argument("--row-timeout", type=float, default=0,
                   help="seconds before a running row is interrupted and re-queued (default: no limit)")
    p.add_argument("--down-timeout", type=float, default=600,
                   help="give the rows left up when no server has answered for this long (default 600 s)")
    p.add_argument("--reconnect-delay", type=float, default=2.0,
                   help="seconds between tries to reach a server that dropped (default 2)")
    models = p.add_argument_group(
        "models", "Default: the workflow's file names; a DiT loader whose file is missing takes the only "
        "candidate the server has (the sharded index json, or one converted file of its half).")
    models.add_argument("--dit", help="sharded checkpoint for both DiT loaders: "
                        "<folder>/diffusion_pytorch_model.safetensors.index.json in models/diffusion_models")
    models.add_argument("--video-dit", help="video DiT file, e.g. the converter's "
                        "uniavgen_video_bf16.safetensors or uniavgen_video_fp8_e4m3fn.safetensors")
    models.add_argument("--audio-dit", help="audio DiT file, e.g. the converter's "
                        "uniavgen_audio_bf16.safetensors")
    models.add_argument("--weight-dtype", help="default, bf16, fp16 or fp8_e4m3fn")
    models.add_argument("--text-encoder", help="umT5 file in models/text_encoders")
    models.add_argument("--vae", help="Wan 2.2 VAE file in models/vae")
    models.add_argument("--vocoder", help="vocoder name as UniAVGen Load Vocoder lists it")
    p.add_argument("--long", action="store_true",
                   help="tasks 2 and 3: run every row through the Long Form node (workflows "
                        "uniavgen_long_a2v / uniavgen_long_v2a), so audio or video longer than one 5.06 s "
                        "window is accepted; the output is as long as the row's audio or video")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only warnings")
    return p


def main(argv: list[str] | None = None, prompt_hook: PromptHook | None = None) -> int:
    """The CLI; prompt_hook changes the workflow before use (the tests move it onto tiny models)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    if not args.csv.is_file():
        log.error("batch: %s does not exist", args.csv)
        return 1
    yaml_settings = (yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}) if args.config else {}
    model_choices = {k: getattr(args, k) for k in ("dit", "video_dit", "audio_dit", "weight_dtype",
                                                   "text_encoder", "vae", "vocoder")
                     if getattr(args, k)}
    out_dir = args.output or Path(yaml_settings.get("output_dir") or "outputs")
    options = Options(servers=[s.rstrip("/") for s in (args.server or [DEFAULT_SERVER])],
                      per_server=max(1, args.per_server), retries=max(0, args.retries),
                      row_timeout=args.row_timeout, down_timeout=args.down_timeout,
                      reconnect_delay=args.reconnect_delay, long=args.long)
    batch = Batch(args.csv, args.task, Settings(yaml_settings, model_choices), out_dir, options,
                  inputs_dir=args.inputs_dir, prompt_hook=prompt_hook,
                  show_progress=False if args.quiet else None)
    try:
        with logging_redirect_tqdm():  # log lines above the progress bar, not through it
            summary = asyncio.run(batch.run())
    except KeyboardInterrupt:
        log.error("batch: stopped; run the same command again to do the rows left")
        return 130
    except (NoServer, TwinError, RowError, ValueError) as err:
        log.error("batch: %s", err)
        return 1
    (out_dir / SUMMARY_NAME).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.write(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=2,
                                ensure_ascii=False) + "\n")
    return 1 if summary["failed"] else 0

