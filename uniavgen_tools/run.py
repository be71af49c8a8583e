"""The main job: run the joint audio+video example workflow in ComfyUI and print the clip's path.

    bash scripts/run.sh                     real weights (lists what is missing, and where it goes)
    bash scripts/run.sh --demo              tiny random weights made per run: proves the install (noise)
    bash scripts/run.sh --server URL        queue on a ComfyUI that is already running

It queues the workflow's API twin (workflows/api/uniavgen_avg.json, exported by the real frontend)
after uploading the example inputs. Three ways to reach ComfyUI:
- default: the embedded ComfyUI 0.3.75 of the cached venv, started with a fresh folder per run;
  models from UNIAVGEN_MODELS (default ./models), the clip copied to UNIAVGEN_OUTPUT (./output).
- COMFYUI_DIR (run.sh picks its Python): that ComfyUI started as it is, with its own model folders
  (extra_model_paths.yaml included) and output folder, where the clip stays.
- --server URL: that server's folders; the clip stays in its output folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import urllib.error
from pathlib import Path

from .dev.comfy_server import ComfyServer, HostLayout
from .dev.stand_ins import STAND_IN_PACK_DIR, TEXT_ENCODER_NODE
from .dev.workflow_graph import input_spec
from .dev.workflow_specs import DIT, UMT5, VAE, VOCODER
from .paths import API_TWINS, EXAMPLE_INPUTS, PACK_ROOT

log = logging.getLogger("uniavgen.run")
TWIN = API_TWINS / "uniavgen_avg.json"
HF = "https://huggingface.co"
WAN = f"{HF}/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files"
# folder, file, where it comes from (the static check of a models folder)
REQUIRED = [
    ("diffusion_models", DIT, f"{HF}/MCG-NJU/UniAVGen (the whole folder: index json, shards, config.json)"),
    ("diffusion_models", "UniAVGen/vocab.txt",
     "https://github.com/MCG-NJU/Sora2-mini (vocab.txt, repository root)"),
    ("text_encoders", UMT5, f"{WAN}/text_encoders/{UMT5}"),
    ("vae", VAE, f"{WAN}/vae/{VAE}"),
    ("diffusion_models", f"{VOCODER}/config.json",
     f"{HF}/MCG-NJU/UniAVGen (its code2wav_bigvgan_model folder)"),
]
# node, input, ComfyUI folder, where it comes from (the check against a server's file lists)
LOADERS = {
    "UniAVGenLoadVideoDiT": ("dit_name", "diffusion_models", REQUIRED[0][2]),
    "UniAVGenLoadAudioDiT": ("dit_name", "diffusion_models", REQUIRED[0][2]),
    "CLIPLoader": ("clip_name", "text_encoders", REQUIRED[2][2]),
    "VAELoader": ("vae_name", "vae", REQUIRED[3][2]),
    "UniAVGenLoadVocoder": ("vocoder_name", "diffusion_models", REQUIRED[4][2]),
}


def missing_files(models: Path) -> list[str]:
    missing = [f"  {folder}/{name}\n      from {source}\n      put it in {(models / folder / name).parent}"
               for folder, name, source in REQUIRED if not (models / folder / name).is_file()]
    index = models / "diffusion_models" / DIT
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing += [f"  diffusion_models/UniAVGen/{s}\n      from {HF}/MCG-NJU/UniAVGen\n      put it in "
                    f"{index.parent}" for s in shards if not (index.parent / s).is_file()]
    return missing


def missing_on_server(prompt: dict, info: dict, folders: dict) -> list[str]:
    """Loader values the server does not list: what ComfyUI's own model search (models/ and
    extra_model_paths.yaml) does not find."""
    missing = []
    for node in prompt.values():
        if node["class_type"] not in LOADERS:
            continue
        name, folder, source = LOADERS[node["class_type"]]
        spec = info.get(node["class_type"], {}).get("input", {}).get("required", {}).get(name)
        options = input_spec(spec)[0] if spec else []
        value = node["inputs"][name]
        if value not in options and value not in "".join(missing):
            paths = folders.get(folder, [])
            where = next((p for p in paths if Path(p).parts[-2:] == ("models", folder)),
                         paths[0] if paths else f"ComfyUI's models/{folder}")
            others = [p for p in paths if p != where]
            also = (f"\n      (or any folder ComfyUI searches for {folder}: {', '.join(others)})"
                    if others else "")
            missing.append(f"  {folder}/{value}\n      from {source}\n      put it in {where}{also}")
    return missing


def user_extra_paths(work: Path, comfyui: Path, demo_models: Path | None) -> Path:
    """extra_model_paths config that adds the pack (unless installed) and the demo's stand-ins and
    tiny models to a user's ComfyUI, without writing into it."""
    nodes = work / "custom_nodes"
    nodes.mkdir(exist_ok=True)
    installed = (comfyui / "custom_nodes").is_dir() and any(
        p.resolve() == PACK_ROOT for p in (comfyui / "custom_nodes").iterdir())
    if not installed:
        (nodes / "ComfyUI-UniAVGen").symlink_to(PACK_ROOT, target_is_directory=True)
    lines = ["uniavgen_run:", f"  base_path: {work}", "  custom_nodes: custom_nodes/"]
    if demo_models is not None:
        (nodes / "UniAVGenDemoStandIns").symlink_to(STAND_IN_PACK_DIR, target_is_directory=True)
        lines += [f"  diffusion_models: {demo_models / 'diffusion_models'}",
                  f"  uniavgen_vocoders: {demo_models / 'uniavgen_vocoders'}"]
    path = work / "extra_model_paths.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def demo_prompt(prompt: dict) -> dict:
    from .dev.demo_models import DIT_FILE, VOCODER as DEMO_VOCODER
    from .dev.tiny_workflows import make_tiny

    return make_tiny(prompt, dit=DIT_FILE, vocoder=DEMO_VOCODER, steps=4, short_side=128, frames=33,
                     prefix="UniAVGen/demo_noise")


def keep_output(produced: Path, out_dir: Path) -> Path:
    """Copy the clip out of the run's folder without overwriting anything already there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target, n = out_dir / produced.name, 1
    while target.exists():
        target, n = out_dir / f"{produced.stem}_{n}{produced.suffix}", n + 1
    shutil.copyfile(produced, target)
    return target


def saved_clip(entry: dict) -> dict:
    """The mp4 entry (filename, subfolder, type) of a finished prompt's /history."""
    for outputs in entry.get("outputs", {}).values():
        for items in outputs.values():
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and str(item.get("filename", "")).endswith(".mp4"):
                    return item
    raise RuntimeError("the workflow finished without an mp4 in its outputs")


def comfy_output_dir(comfyui: Path) -> Path:
    """ComfyUI's default output folder: beside its folder_paths.py, symlinks resolved (as it does)."""
    return Path(os.path.realpath(comfyui / "folder_paths.py")).parent / "output"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="tiny random weights (the clip is noise)")
    parser.add_argument("--cpu", action="store_true", help="run ComfyUI on the CPU")
    parser.add_argument("--server", metavar="URL", help="queue on this running ComfyUI instead of "
                        "starting one, e.g. http://127.0.0.1:8188")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="[run] %(message)s")
    comfyui = Path(os.environ["COMFYUI_DIR"]) if os.environ.get("COMFYUI_DIR") else None
    user_comfy = os.environ.get("UNIAVGEN_USER_COMFYUI") == "1"
    with tempfile.TemporaryDirectory(prefix="uniavgen_run_") as tmp:
        return run(args, comfyui, user_comfy, Path(tmp))


def run(args: argparse.Namespace, comfyui: Path | None, user_comfy: bool, work: Path) -> int:
    layout = HostLayout(work)  # this run's own folders (server log, and the embedded host's folders)
    demo_models = None
    if args.demo and not args.server:
        from .dev.demo_models import write_demo_models

        demo_models = work / "demo-models"
        log.info("DEMO: tiny random weights in %s; the clip will be noise (it proves the install)",
                 demo_models)
        write_demo_models(demo_models)
    cpu = args.cpu or args.demo or os.environ.get("UNIAVGEN_CPU") == "1"
    python = os.environ.get("UNIAVGEN_PY", sys.executable)
    if args.server:
        server = ComfyServer.attach(args.server, layout)
        try:
            server.get_json("/system_stats")
        except (urllib.error.URLError, OSError) as err:
            log.error("no ComfyUI answers at %s (%s): start it, or drop --server", args.server, err)
            return 1
    elif user_comfy:
        extra = user_extra_paths(work, comfyui, demo_models)
        server = ComfyServer(comfyui, layout, cpu=cpu, python=python, own_folders=False, extra_paths=extra)
    else:
        models = Path(os.environ.get("UNIAVGEN_MODELS") or PACK_ROOT / "models")
        if demo_models is not None:
            models = demo_models
        elif missing := missing_files(models):
            log.error("model files are missing (models folder %s):\n%s\nOr run `bash scripts/run.sh --demo` "
                      "to check the installation on tiny random weights.", models, "\n".join(missing))
            return 1
        shutil.rmtree(layout.models)  # the layout's empty folders give way to the models folder
        layout.models.symlink_to(models.resolve(), target_is_directory=True)
        layout.link_pack(PACK_ROOT, "ComfyUI-UniAVGen")
        if args.demo:
            layout.link_pack(STAND_IN_PACK_DIR, "UniAVGenDemoStandIns")
        server = ComfyServer(comfyui, layout, cpu=cpu, python=python)
    started = time.monotonic()
    if not args.server:
        log.info("starting ComfyUI (%s) on 127.0.0.1, log: %s", comfyui, server.log_path)
        try:
            server.start(timeout=300)
        except RuntimeError as err:  # its log says why; the usual reason on a machine without a GPU
            log.error("ComfyUI did not start (no GPU here? add --cpu). %s", str(err)[-3000:])
            return 1
    try:
        return queue_example(args, server, comfyui, user_comfy, started)
    finally:
        server.stop()


def queue_example(args: argparse.Namespace, server: ComfyServer, comfyui: Path | None, user_comfy: bool,
                  started: float) -> int:
    info = server.get_json("/object_info")
    prompt = json.loads(TWIN.read_text())
    if args.demo:
        if TEXT_ENCODER_NODE not in info:
            log.error("--demo needs its stand-in nodes (uniavgen_tools/dev/stand_in_pack) and tiny models, "
                      "which %s does not have: run --demo without --server", server.base_url)
            return 1
        prompt = demo_prompt(prompt)
    try:
        folders = server.get_json("/internal/folder_paths")
    except (urllib.error.URLError, OSError):
        folders = {}
    if missing := missing_on_server(prompt, info, folders):
        log.error("model files are missing in %s:\n%s\nOr run `bash scripts/run.sh --demo` to check the "
                  "installation on tiny random weights.", comfyui or server.base_url, "\n".join(missing))
        return 1
    for source in sorted(EXAMPLE_INPUTS.iterdir()):
        server.upload(source)
    log.info("ComfyUI is at %s; queueing %s", server.base_url, TWIN.relative_to(PACK_ROOT))
    entry = server.run_prompt(prompt, timeout=6 * 3600)
    if entry["status"]["status_str"] != "success":
        errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
        log.error("the workflow failed: %s", errors[0]["exception_message"] if errors else entry["status"])
        return 1
    item = saved_clip(entry)
    relative = Path(item.get("subfolder", "")) / item["filename"]
    if args.server or user_comfy:
        # The clip stays where that ComfyUI saves: its output folder (file counter included).
        where = comfy_output_dir(comfyui) if comfyui is not None else None
        clip = str(where / relative) if where is not None and (where / relative).is_file() else \
            f"{relative} in the output folder of {server.base_url}"
    else:
        produced = server.layout.root / item.get("type", "output") / relative
        clip = str(keep_output(produced, Path(os.environ.get("UNIAVGEN_OUTPUT") or PACK_ROOT / "output")))
    label = " (DEMO: random weights, the clip is noise)" if args.demo else ""
    log.info("done in %.0f s%s", time.monotonic() - started, label)
    print(clip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
