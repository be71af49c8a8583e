"""One full-size clip end to end through a real ComfyUI server's API, wall time by stage; one JSON object.

    COMFYUI_DIR=/path/to/ComfyUI python -m benchmarks.bench_gpu_clip [--steps 4] [--out FILE]
The shipped joint workflow's API twin (workflows/api/uniavgen_avg.json: umT5 via CLIPLoader, the
Wan 2.2 VAE via VAELoader, the UniAVGen loaders, sampler, VAE decode, vocoder, CreateVideo, Save
Video) is queued on a ComfyUI server started on the GPU, with random model files in the released
shapes (benchmarks/full_size_models.py; the DiT from bench_gpu.py's checkpoint) and the steps
lowered. Stages are timed from the server's websocket: each node runs from its `executing` message
to the next one; the sampler's share is split at its first progress message (loading vs steps). The
saved mp4 is opened with PyAV. Without CUDA it prints {"skipped": ...}; `--smoke` runs on the CPU
at 64x112 with the tiny DiT of bench_gpu --smoke (the text encoder and VAE stay full size).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import torch

from uniavgen_tools.dev.comfy_server import ComfyServer, HostLayout
from uniavgen_tools.dev.workflow_specs import FACE, UMT5, VAE, VOCODER
from uniavgen_tools.paths import API_TWINS, EXAMPLE_INPUTS, PACK_ROOT

from . import full_size_models as files
from .bench_gpu import add_common_args, checkpoint_name, configs, runs_here

DIT_FOLDER = "UniAVGen"


def write_models(models: Path, checkpoints: Path, comfyui: Path, device: torch.device, smoke: bool) -> str:
    """Every model file the workflow loads, in `models`; returns the DiT's name for the loaders.
    The DiT is bench_gpu.py's random checkpoint (in `checkpoints`, written once), linked."""
    from .comfy_host import bench_vocabulary, write_random_checkpoint

    video, audio, _ = configs(smoke)
    holder = models / "diffusion_models" / DIT_FOLDER
    holder.mkdir(parents=True, exist_ok=True)
    name = checkpoint_name(video, audio)
    dtype = torch.float32 if smoke else torch.bfloat16
    checkpoint = write_random_checkpoint(checkpoints / name, video, audio, dtype, device)
    if not (holder / name).exists():
        (holder / name).symlink_to(checkpoint.resolve())
    (holder / "vocab.txt").write_text(bench_vocabulary(audio.vocab_size), encoding="utf-8")
    files.write_vocoder(models / "diffusion_models" / VOCODER)
    files.write_umt5(models / "text_encoders" / UMT5, comfyui, device)
    files.write_wan22_vae(models / "vae" / VAE, device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return f"{DIT_FOLDER}/{name}"


def clip_prompt(dit_name: str, steps: int, short_side: int) -> dict:
    prompt = json.loads((API_TWINS / "uniavgen_avg.json").read_text())
    for node in prompt.values():
        inputs = node["inputs"]
        if node["class_type"] in ("UniAVGenLoadVideoDiT", "UniAVGenLoadAudioDiT"):
            inputs["dit_name"] = dit_name
        elif node["class_type"] == "UniAVGenSampler":
            inputs["steps"] = steps
        elif node["class_type"] == "UniAVGenReferenceImage":
            inputs["short_side"] = short_side
    return prompt


Event = tuple[float, str, dict]   # arrival time, message type, message data


async def queue_and_time(url: str, prompt: dict, timeout: float) -> tuple[list[Event], dict]:
    """(websocket events with their arrival times, the history entry) of one prompt."""
    import aiohttp

    from uniavgen_tools.batch.server import Server

    events: list[Event] = []
    async with aiohttp.ClientSession() as session:
        server = Server(url, uuid.uuid4().hex, session,
                        on_event=lambda _s, kind, data: events.append((time.perf_counter(), kind, data)))
        await server.connect()
        prompt_id = uuid.uuid4().hex
        done = server.expect(prompt_id)
        events.append((time.perf_counter(), "queued", {}))
        try:
            await server.queue(prompt, prompt_id)
            outcome = await asyncio.wait_for(done, timeout)
            await asyncio.sleep(0.5)   # the history entry is written right after the last message
            entry = (await server.get_json(f"/history/{prompt_id}")).get(prompt_id, {})
        finally:
            done.cancel()
            await server.close()
    if not outcome.ok:
        raise RuntimeError(f"the clip failed: {outcome.reason}")
    return events, entry


def stages(events: list[Event], prompt: dict) -> dict:
    """Seconds per node class (in run order), the sampler split into loading and steps."""
    start = events[0][0]
    # the prompt's end: `execution_success` (the client stops listening to it there) or executing None
    marks = [(t, d.get("node") if kind == "executing" else None) for t, kind, d in events
             if kind in ("executing", "execution_success")]
    first_progress = {}
    for t, kind, d in events:
        if kind == "progress" and d.get("node") not in first_progress:
            first_progress[d.get("node")] = t
    out: dict[str, float] = {"queue_to_start_s": round(marks[0][0] - start, 2) if marks else None}
    for (t, node), (t_next, _) in zip(marks, marks[1:], strict=False):
        if node is None:
            continue
        label = prompt[node]["class_type"]
        if label == "UniAVGenSampler" and node in first_progress:
            out["UniAVGenSampler (load + first step)"] = round(first_progress[node] - t, 2)
            out["UniAVGenSampler (other steps)"] = round(t_next - first_progress[node], 2)
            continue
        out[label] = round(out.get(label, 0.0) + t_next - t, 2)
    out["total_s"] = round(marks[-1][0] - start, 2)
    return out


def inspect_clip(path: Path) -> dict:
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        frames = sum(1 for _ in container.decode(video))
        return {"frames": frames, "width": video.codec_context.width, "height": video.codec_context.height,
                "fps": float(video.average_rate), "audio_rate": audio.codec_context.sample_rate,
                "duration_s": round(float(container.duration or 0) / 1e6, 2), "bytes": path.stat().st_size}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--models-dir", type=Path, default=Path("/tmp/uniavgen_bench_models"),
                   help="where the random model files are written once (about 21 GB at full size)")
    p.add_argument("--timeout", type=float, default=900.0)
    add_common_args(p)
    args = p.parse_args()
    if not runs_here(args):
        return
    from .comfy_host import comfyui_dir
    from uniavgen_tools.dev.inprocess import boot_comfy

    comfyui = comfyui_dir(args.comfyui)
    boot_comfy(comfyui, cpu=args.smoke)   # the text encoder and VAE classes the files are drawn from
    device = torch.device("cpu") if args.smoke else torch.device("cuda")
    layout = HostLayout(Path(tempfile.mkdtemp(prefix="uniavgen_gpu_clip_")))
    written = time.perf_counter()
    dit_name = write_models(args.models_dir, args.checkpoint_dir, comfyui, device, args.smoke)
    write_s = round(time.perf_counter() - written, 1)
    for folder in layout.models.iterdir():   # the host's model folders point at the written files
        target = args.models_dir / folder.name
        target.mkdir(parents=True, exist_ok=True)
        folder.rmdir()
        folder.symlink_to(target.resolve(), target_is_directory=True)
    layout.link_pack(PACK_ROOT, "ComfyUI-UniAVGen")
    shutil.copy(EXAMPLE_INPUTS / FACE, layout.root / "input" / FACE)
    frontend = layout.root / "frontend"   # the API needs no web page: no frontend package either
    frontend.mkdir()
    server = ComfyServer(comfyui, layout, cpu=args.smoke, extra_args=("--front-end-root", str(frontend)))
    prompt = clip_prompt(dit_name, args.steps, 64 if args.smoke else 736)
    result: dict = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
                    "smoke": args.smoke, "steps": args.steps, "model_files_written_s": write_s,
                    "torch": torch.__version__}
    started = time.perf_counter()
    server.start(timeout=300)
    result["server_start_s"] = round(time.perf_counter() - started, 1)
    try:
        events, entry = asyncio.run(queue_and_time(server.base_url, prompt, args.timeout))
        result["stages_s"] = stages(events, prompt)
        saved = [item for out in entry.get("outputs", {}).values() for items in out.values()
                 if isinstance(items, list) for item in items if isinstance(item, dict)
                 and str(item.get("filename", "")).endswith(".mp4")]
        clip = layout.root / "output" / saved[0].get("subfolder", "") / saved[0]["filename"]
        result["clip"] = inspect_clip(clip)
    except Exception as err:
        result["error"] = f"{type(err).__name__}: {err}"[:2000]
        result["server_log_tail"] = server.log()[-4000:]
    finally:
        server.stop()
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
