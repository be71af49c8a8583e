"""The README's main-job command: `bash scripts/run.sh --demo` end to end, and the missing-file list."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.paths import REPO_ROOT, copy_repository
from helpers.user_comfy import user_comfyui

from helpers.clips import check_mp4

from uniavgen_tools.dev.workflow_specs import DIT, UMT5, VAE, VOCODER


def _run(tmp_path: Path, *args: str, root: Path = REPO_ROOT, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "UNIAVGEN_RUN_DIR": str(tmp_path / "run"),
                   "UNIAVGEN_OUTPUT": str(tmp_path / "out"), **env}
    environment.pop("COMFYUI_DIR", None)  # the embedded host, as for a new user
    return subprocess.run(["bash", str(root / "scripts" / "run.sh"), *args], env=environment,
                          capture_output=True, text=True, timeout=600, check=False)


def test_demo_makes_a_valid_clip(tmp_path):
    """From a copy of the repository without tests/: the main job needs nothing from the test suite."""
    pack = copy_repository(tmp_path / "ComfyUI-UniAVGen", "tests")
    if (REPO_ROOT.parent / "shared").is_dir():  # the second host's source, found beside the copy as beside us
        (tmp_path / "shared").symlink_to(REPO_ROOT.parent / "shared", target_is_directory=True)
    done = _run(tmp_path, "--demo", root=pack)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    clip = Path(done.stdout.strip().splitlines()[-1])
    assert clip.parent == tmp_path / "out" and clip.is_file()
    assert "DEMO: random weights, the clip is noise" in done.stderr
    check_mp4(clip, 33, 224, 128)  # 33 frames; 1280x736 at a 128 px short side: 1280*128/736 -> 224
    assert 0.01 < audio_peak(clip) < 0.3  # audible noise at a comfortable level, not full scale


def audio_peak(clip: Path) -> float:
    import av
    import numpy as np

    with av.open(str(clip)) as container:
        return float(max(np.abs(frame.to_ndarray()).max() for frame in container.decode(audio=0)))


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


# -- an existing ComfyUI, used as it is (COMFYUI_DIR), and a running one (--server) --------------

@pytest.fixture(scope="module")
def user_comfy(comfy_root, tmp_path_factory) -> Path:
    """A user's ComfyUI: its own models/, output/ and an extra_model_paths.yaml naming another
    model folder, holding stand-in files for everything but the vocoder."""
    base = tmp_path_factory.mktemp("user")
    comfyui = user_comfyui(comfy_root, base / "ComfyUI")
    elsewhere = base / "more_models"
    (elsewhere / "text_encoders").mkdir(parents=True)
    (elsewhere / "text_encoders" / UMT5).write_bytes(b"")
    (elsewhere / "dits" / "UniAVGen").mkdir(parents=True)
    (elsewhere / "dits" / DIT).write_text('{"weight_map": {}}')
    (comfyui / "models" / "vae").mkdir()
    (comfyui / "models" / "vae" / VAE).write_bytes(b"")
    (comfyui / "extra_model_paths.yaml").write_text(
        f"mine:\n  base_path: {elsewhere}\n  text_encoders: text_encoders/\n  diffusion_models: dits/\n")
    return comfyui


def _run_user(user_comfy: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COMFYUI_DIR": str(user_comfy), "COMFYUI_PYTHON": sys.executable}
    return subprocess.run(["bash", str(REPO_ROOT / "scripts" / "run.sh"), *args], env=env,
                          cwd=user_comfy.parent, capture_output=True, text=True, timeout=900, check=False)


def test_existing_comfyui_model_folders_are_searched_as_comfyui_does(user_comfy):
    done = _run_user(user_comfy, "--cpu")
    assert done.returncode == 1, done.stderr[-3000:]
    assert f"with Python {sys.executable} (COMFYUI_PYTHON)" in done.stderr
    assert "model files are missing" in done.stderr
    # Found through its models/ and its extra_model_paths.yaml: only the vocoder is missing.
    missing = done.stderr.split("model files are missing", 1)[1]
    assert f"diffusion_models/{VOCODER}" in missing, missing
    for found in (UMT5, VAE, DIT):
        assert found not in missing, (found, missing)
    assert str(user_comfy.parent / "more_models" / "dits") in missing  # where it would be searched


def test_existing_comfyui_demo_clip_lands_in_its_output_folder(user_comfy):
    done = _run_user(user_comfy, "--demo")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    clip = Path(done.stdout.strip().splitlines()[-1])
    assert clip == user_comfy / "output" / "UniAVGen" / "demo_noise_00001_.mp4" and clip.is_file()
    check_mp4(clip, 33, 224, 128)
    assert list((user_comfy / "custom_nodes").iterdir()) == []  # the pack came in from outside
    assert not (user_comfy / "models" / "diffusion_models").exists()  # demo weights stay outside
    # ComfyUI's own counter in its own folder: a second run does not overwrite the first.
    again = _run_user(user_comfy, "--demo")
    assert Path(again.stdout.strip().splitlines()[-1]).name == "demo_noise_00002_.mp4", again.stderr[-3000:]


def test_server_option_queues_on_a_running_comfyui(server, host_layout):
    from uniavgen_tools.dev.demo_models import write_demo_models

    write_demo_models(host_layout.models)  # the running server lists files as they appear
    before = set((host_layout.root / "output").rglob("*.mp4"))
    env = {**os.environ, "UNIAVGEN_PY": sys.executable}
    env.pop("COMFYUI_DIR", None)
    command = ["bash", str(REPO_ROOT / "scripts" / "run.sh"), "--server", server.base_url, "--demo"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    new = set((host_layout.root / "output").rglob("*.mp4")) - before
    assert len(new) == 1 and next(iter(new)).parent.name == "UniAVGen", new
    assert done.stdout.strip().endswith(f"{next(iter(new)).name} in the output folder of {server.base_url}")
    assert "starting ComfyUI" not in done.stderr


def test_server_option_without_a_server_says_so_in_one_line(tmp_path):
    env = {**os.environ, "UNIAVGEN_PY": sys.executable}
    env.pop("COMFYUI_DIR", None)
    done = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "run.sh"), "--server", "http://127.0.0.1:9"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "no ComfyUI answers at http://127.0.0.1:9" in done.stderr
