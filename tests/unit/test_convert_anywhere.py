"""The README's converter command, run as written from the pack installed in a ComfyUI folder."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

from safetensors import safe_open

from helpers import tiny
from helpers.paths import REPO_ROOT
from uniavgen_core.random_models import write_random_vocoder


def _readme_command() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    wrapper = r"bash custom_nodes/ComfyUI-UniAVGen/scripts/uniavgen\.sh convert "
    block = re.search(r"```bash\n(" + wrapper + r".*?)```", text, re.S)
    assert block, "README: the converter example is gone"
    return shlex.split(block.group(1).replace("\\\n", " "))


def test_readme_converter_command_works_from_the_comfyui_folder(tmp_path):
    comfyui = tmp_path / "ComfyUI"
    (comfyui / "custom_nodes").mkdir(parents=True)
    (comfyui / "custom_nodes" / "ComfyUI-UniAVGen").symlink_to(REPO_ROOT, target_is_directory=True)
    official = comfyui / "models" / "diffusion_models" / "UniAVGen"
    tiny.save_checkpoint(official, *tiny.models(), shards=2)
    entries = [" "] + [f"t{i}" for i in range(tiny.AUDIO.vocab_size - 1)]
    (official / "vocab.txt").write_text("\n".join(entries))
    write_random_vocoder(official / "code2wav_bigvgan_model")

    command = _readme_command()
    assert command[0] == "bash"
    env = {**os.environ, "COMFYUI_PYTHON": sys.executable}
    done = subprocess.run(command, cwd=comfyui, capture_output=True, text=True, timeout=300, check=False,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = comfyui / "models" / "diffusion_models"
    written = sorted(p.name for p in out.glob("*.safetensors"))
    assert written == ["uniavgen_audio_bf16.safetensors", "uniavgen_video_bf16.safetensors",
                       "uniavgen_video_fp8_e4m3fn.safetensors", "uniavgen_vocoder.safetensors"]
    with safe_open(str(out / "uniavgen_audio_bf16.safetensors"), "pt") as f:
        assert "uniavgen_speech_vocab" in f.metadata()


def test_converter_help_names_the_command():
    done = subprocess.run([sys.executable, "-m", "uniavgen_tools.convert", "--help"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "python -m uniavgen_tools.convert" in done.stdout
