"""The README's main-job command: `bash scripts/run.sh --demo` end to end, and the missing-file list."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers.paths import REPO_ROOT

from .test_workflows_run import check_mp4


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "UNIAVGEN_RUN_DIR": str(tmp_path / "run"),
                   "UNIAVGEN_OUTPUT": str(tmp_path / "out"), **env}
    environment.pop("COMFYUI_DIR", None)  # the embedded host, as for a new user
    return subprocess.run(["bash", str(REPO_ROOT / "scripts" / "run.sh"), *args], env=environment,
                          capture_output=True, text=True, timeout=600, check=False)


def test_demo_makes_a_valid_clip(tmp_path):
    done = _run(tmp_path, "--demo")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    clip = Path(done.stdout.strip().splitlines()[-1])
    assert clip.parent == tmp_path / "out" and clip.is_file()
    assert "DEMO: random weights, the clip is noise" in done.stderr
    check_mp4(clip, 33, 224, 128)  # 33 frames; 1280x736 at a 128 px short side: 1280*128/736 -> 224


def test_without_weights_it_lists_every_missing_file(tmp_path):
    done = _run(tmp_path, UNIAVGEN_MODELS=str(tmp_path / "models"))
    assert done.returncode == 1
    for expected in ("model files are missing",
                     "diffusion_models/UniAVGen/diffusion_pytorch_model.safetensors.index.json",
                     "https://huggingface.co/MCG-NJU/UniAVGen", "diffusion_models/UniAVGen/vocab.txt",
                     "https://github.com/MCG-NJU/Sora2-mini",
                     "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                     "vae/wan2.2_vae.safetensors",
                     "diffusion_models/UniAVGen/code2wav_bigvgan_model/config.json",
                     f"put it in {tmp_path / 'models' / 'vae'}", "bash scripts/run.sh --demo"):
        assert expected in done.stderr, (expected, done.stderr[-3000:])
