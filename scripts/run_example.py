"""The main job: start ComfyUI with the pack, queue the joint audio+video example, print the clip's path.

    bash scripts/run.sh            # real weights (lists what is missing, and where it goes)
    bash scripts/run.sh --demo     # tiny random weights it makes itself: proves the install, output is noise

Environment: COMFYUI_DIR (an existing ComfyUI; else the embedded 0.3.75), UNIAVGEN_MODELS (model
folder; default <ComfyUI>/models for an existing ComfyUI, else ./models), UNIAVGEN_OUTPUT (default
./output), UNIAVGEN_RUN_DIR (the server's working folders; default ~/.cache/uniavgen/run).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "tests")]

from helpers.comfy_server import ComfyServer, HostLayout  # noqa: E402
from helpers.tiny_workflows import make_tiny, output_files  # noqa: E402
from workflow_graph import ui_to_api  # noqa: E402
from workflow_specs import DIT, UMT5, VAE, VOCODER  # noqa: E402

log = logging.getLogger("uniavgen.run")
WORKFLOW = ROOT / "workflows" / "uniavgen_avg.json"
HF = "https://huggingface.co"
WAN = f"{HF}/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files"
# folder, file, where it comes from
REQUIRED = [
    ("diffusion_models", DIT, f"{HF}/MCG-NJU/UniAVGen (the whole folder: index json, shards, config.json)"),
    ("diffusion_models", "UniAVGen/vocab.txt",
     "https://github.com/MCG-NJU/Sora2-mini (vocab.txt, repository root)"),
    ("text_encoders", UMT5, f"{WAN}/text_encoders/{UMT5}"),
    ("vae", VAE, f"{WAN}/vae/{VAE}"),
    ("diffusion_models", f"{VOCODER}/config.json",
     f"{HF}/MCG-NJU/UniAVGen (its code2wav_bigvgan_model folder)"),
]


def missing_files(models: Path) -> list[str]:
    missing = [f"  {folder}/{name}\n      from {source}\n      put it in {(models / folder / name).parent}"
               for folder, name, source in REQUIRED if not (models / folder / name).is_file()]
    index = models / "diffusion_models" / DIT
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing += [f"  diffusion_models/UniAVGen/{s}\n      from {HF}/MCG-NJU/UniAVGen\n      put it in "
                    f"{index.parent}" for s in shards if not (index.parent / s).is_file()]
    return missing


def prepare_layout(run_dir: Path, models: Path, demo: bool) -> HostLayout:
    run_dir.mkdir(parents=True, exist_ok=True)
    models.mkdir(parents=True, exist_ok=True)
    link = run_dir / "models"
    if link.is_symlink() and link.resolve() != models.resolve():
        link.unlink()
    if not link.exists():
        link.symlink_to(models.resolve(), target_is_directory=True)
    layout = HostLayout(run_dir)
    layout.link_pack(ROOT, "ComfyUI-UniAVGen")
    if demo:
        layout.link_pack(ROOT / "tests" / "host_pack", "UniAVGenDemoStandIns")
    for source in (ROOT / "example_inputs").iterdir():
        shutil.copyfile(source, layout.root / "input" / source.name)
    return layout


def build_prompt(info: dict, demo: bool) -> dict:
    prompt = ui_to_api(json.loads(WORKFLOW.read_text()), info)
    if demo:
        from demo_models import DIT_FILE, VOCODER as DEMO_VOCODER

        make_tiny(prompt, dit=DIT_FILE, vocoder=DEMO_VOCODER, steps=4, short_side=128, frames=33,
                  prefix="UniAVGen/demo_noise")
    return prompt


def keep_output(produced: Path, out_dir: Path) -> Path:
    """Copy the clip out of the server's folder without overwriting anything already there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target, n = out_dir / produced.name, 1
    while target.exists():
        target, n = out_dir / f"{produced.stem}_{n}{produced.suffix}", n + 1
    shutil.copyfile(produced, target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="tiny random weights (the clip is noise)")
    parser.add_argument("--cpu", action="store_true", help="run ComfyUI on the CPU")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="[run] %(message)s")
    comfyui = Path(os.environ["COMFYUI_DIR"])
    user_comfy = os.environ.get("UNIAVGEN_USER_COMFYUI") == "1"
    default_models = comfyui / "models" if user_comfy else ROOT / "models"
    models = Path(os.environ.get("UNIAVGEN_MODELS") or default_models)
    cache = Path(os.environ.get("UNIAVGEN_CACHE", Path.home() / ".cache" / "uniavgen"))
    run_dir = Path(os.environ.get("UNIAVGEN_RUN_DIR") or cache / ("run-demo" if args.demo else "run"))
    if args.demo:
        from demo_models import write_demo_models

        models = run_dir.parent / f"{run_dir.name}-models"
        log.info("DEMO: tiny random weights in %s; the clip will be noise (it proves the install)", models)
        write_demo_models(models)
    else:
        missing = missing_files(models)
        if missing:
            log.error("model files are missing (models folder %s):\n%s\nOr run `bash scripts/run.sh --demo` "
                      "to check the installation on tiny random weights.", models, "\n".join(missing))
            return 1
    layout = prepare_layout(run_dir, models, args.demo)
    cpu = args.cpu or args.demo or os.environ.get("UNIAVGEN_CPU") == "1"
    server = ComfyServer(comfyui, layout, cpu=cpu, python=os.environ.get("UNIAVGEN_PY", sys.executable))
    log.info("starting ComfyUI (%s) on 127.0.0.1, log: %s", comfyui, server.log_path)
    started = time.monotonic()
    server.start(timeout=300)
    try:
        log.info("ComfyUI is at %s; queueing %s", server.base_url, WORKFLOW.name)
        entry = server.run_prompt(build_prompt(server.get_json("/object_info"), args.demo), timeout=6 * 3600)
        if entry["status"]["status_str"] != "success":
            errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
            log.error("the workflow failed: %s",
                      errors[0]["exception_message"] if errors else entry["status"])
            return 1
        clip = keep_output(output_files(entry, layout)[0], Path(os.environ.get("UNIAVGEN_OUTPUT") or
                                                                 ROOT / "output"))
    finally:
        server.stop()
    label = " (DEMO: random weights, the clip is noise)" if args.demo else ""
    log.info("done in %.0f s%s", time.monotonic() - started, label)
    print(clip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
