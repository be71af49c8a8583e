"""A real ComfyUI server on a free loopback port, with the pack as a custom node; ended by PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

MODEL_FOLDERS = ("diffusion_models", "text_encoders", "vae", "checkpoints", "audio_encoders",
                 "uniavgen_vocoders")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class HostLayout:
    """Folders one ComfyUI instance uses: custom nodes, models, input/output/temp/user."""

    root: Path
    custom_nodes: Path = field(init=False)
    models: Path = field(init=False)

    def __post_init__(self) -> None:
        self.custom_nodes = self.root / "custom_nodes"
        self.models = self.root / "models"
        for sub in ("custom_nodes", "input", "output", "temp", "user/default"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for folder in MODEL_FOLDERS:
            (self.models / folder).mkdir(parents=True, exist_ok=True)
        # Without this the frontend opens a tutorial dialog over the canvas.
        (self.root / "user/default/comfy.settings.json").write_text(
            json.dumps({"Comfy.TutorialCompleted": True}))

    def link_pack(self, source: Path, name: str) -> None:
        link = self.custom_nodes / name
        if not link.exists():
            link.symlink_to(source, target_is_directory=True)

    def write_extra_paths(self) -> Path:
        lines = ["uniavgen_tests:", f"  base_path: {self.root}", "  custom_nodes: custom_nodes/"]
        lines += [f"  {folder}: models/{folder}/" for folder in MODEL_FOLDERS]
        path = self.root / "extra_model_paths.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path


class ComfyServer:
    """A ComfyUI server this process starts (start/stop), or one already running (attach).

    own_folders: the layout's folders replace ComfyUI's models/input/output/user (tests, the
    embedded host); without it ComfyUI runs with its own folders and extra_model_paths.yaml, and
    only `extra_paths` (custom nodes and models to add) is passed on top.
    """

    def __init__(self, comfyui_dir: Path, layout: HostLayout, env: dict | None = None, *,
                 cpu: bool = True, python: str = sys.executable, own_folders: bool = True,
                 extra_paths: Path | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.comfyui_dir = comfyui_dir
        self.layout = layout
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = layout.root / "server.log"
        self.extra_env = env or {}
        self.cpu, self.python = cpu, python
        self.own_folders, self.extra_paths = own_folders, extra_paths
        self.extra_args = extra_args   # more ComfyUI command-line options (e.g. --front-end-root)
        self.process: subprocess.Popen | None = None

    @classmethod
    def attach(cls, url: str, layout: HostLayout) -> ComfyServer:
        """A client of a server someone else runs (never started or stopped from here)."""
        server = cls(Path("."), layout)
        server.base_url = url.rstrip("/")
        return server

    @property
    def throttles_progress(self) -> bool:
        """Newer hosts (0.33) send a step's progress only 100 ms after the last one, except the first
        and the last; older ones (0.3.75) send every step."""
        return "PROGRESS_THROTTLE_MIN_INTERVAL" in (self.comfyui_dir / "comfy/utils.py").read_text()

    def start(self, timeout: float = 120.0) -> None:
        cmd = [self.python, "main.py", *(["--cpu"] if self.cpu else []),
               "--listen", "127.0.0.1", "--port", str(self.port), "--disable-auto-launch"]
        if self.own_folders:
            cmd += [
                "--disable-api-nodes",
                "--extra-model-paths-config", str(self.layout.write_extra_paths()),
                "--output-directory", str(self.layout.root / "output"),
                "--input-directory", str(self.layout.root / "input"),
                "--temp-directory", str(self.layout.root / "temp"),
                "--user-directory", str(self.layout.root / "user"),
                "--database-url", "sqlite:///:memory:",
            ]
        elif self.extra_paths is not None:
            cmd += ["--extra-model-paths-config", str(self.extra_paths)]
        cmd += list(self.extra_args)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.extra_env}
        log = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the server's lifetime
        self.process = subprocess.Popen(cmd, cwd=self.comfyui_dir, stdout=log, stderr=subprocess.STDOUT,
                                        env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.process.returncode}:\n{self.log()}")
            try:
                self.get_json("/system_stats")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ComfyUI did not listen within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- HTTP ---------------------------------------------------------------------------------
    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(self.base_url + path, timeout=30) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read())

    def post_json(self, path: str, payload: dict) -> tuple[int, dict]:
        req = urllib.request.Request(self.base_url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
                body = resp.read()
                return resp.status, (json.loads(body) if body else {})
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def upload(self, path: Path) -> str:
        """Put a file in the server's input folder (as the frontend's upload button does); its name."""
        boundary = uuid.uuid4().hex
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"overwrite\"\r\n\r\ntrue\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
                f"filename=\"{path.name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        body = head.encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        req = urllib.request.Request(self.base_url + "/upload/image", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - the user's server
            return json.loads(resp.read())["name"]

    def queue_prompt(self, prompt: dict, client_id: str | None = None) -> tuple[int, dict]:
        return self.post_json("/prompt", {"prompt": prompt, "client_id": client_id or uuid.uuid4().hex})

    def wait_history(self, prompt_id: str, timeout: float = 600.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            history = self.get_json(f"/history/{prompt_id}")
            entry = history.get(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None:
                if entry["status"].get("status_str") in ("success", "error"):
                    return entry
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI died while running {prompt_id}:\n{self.log()}")
            time.sleep(0.25)
        raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout}s")

    def run_prompt(self, prompt: dict, timeout: float = 600.0) -> dict:
        status, body = self.queue_prompt(prompt)
        if status != 200:
            raise AssertionError(f"/prompt refused the prompt ({status}): {json.dumps(body)[:2000]}")
        return self.wait_history(body["prompt_id"], timeout)
