"""Watching a running ComfyUI server: its RSS, its websocket messages, error texts, saved files."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

from uniavgen_tools.dev.comfy_server import ComfyServer

# PYTHONPATH entry whose sitecustomize refuses every non-loopback connection (test-only).
NO_NETWORK_DIR = Path(__file__).resolve().parent / "no_network"


def rss_bytes(server: ComfyServer) -> int:
    """Resident set size of the server process (psutil, else /proc/<pid>/status VmRSS)."""
    pid = server.process.pid
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for pid {pid}") from None


def run_ok(server: ComfyServer, prompt: dict, timeout: float = 300) -> dict:
    entry = server.run_prompt(prompt, timeout=timeout)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    return entry


def execution_error(entry: dict) -> dict:
    """The execution_error message of a finished /history entry ({} when there is none)."""
    for kind, data in entry.get("status", {}).get("messages", []):
        if kind == "execution_error":
            return data
    return {}


def node_errors_text(body: dict) -> str:
    """All texts of a 400 answer of /prompt: class types, messages, details."""
    parts = [json.dumps(body.get("error", {}))]
    for node_id, info in body.get("node_errors", {}).items():
        parts.append(f"node {node_id} {info.get('class_type')}")
        parts += [f"{e.get('message')}: {e.get('details')}" for e in info.get("errors", [])]
    return "\n".join(parts)


def saved_files(server: ComfyServer, entry: dict, node: str = "save") -> list[Path]:
    out = server.layout.root / "output"
    return [out / item["subfolder"] / item["filename"] for item in entry["outputs"][node]["images"]]


class WsClient:
    """A websocket client of the server, collecting its messages on a thread."""

    def __init__(self, server: ComfyServer, client_id: str | None = None) -> None:
        import websocket  # websocket-client

        self.client_id = client_id or uuid.uuid4().hex
        self.messages: list[dict] = []
        self._cond = threading.Condition()
        url = server.base_url.replace("http", "ws", 1) + f"/ws?clientId={self.client_id}"
        self._ws = websocket.create_connection(url, timeout=60)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                raw = self._ws.recv()
            except Exception:  # noqa: BLE001 - closed socket ends the reader
                return
            if isinstance(raw, str) and raw.startswith("{"):
                message = json.loads(raw)
                message["received_s"] = time.monotonic()  # when it arrived here (step timings)
                with self._cond:
                    self.messages.append(message)
                    self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 120.0) -> dict:
        """The first message (seen so far or later) for which predicate(message) is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching websocket message in {timeout}s: "
                                       f"{[m.get('type') for m in self.messages][-20:]}")
                self._cond.wait(left)

    def of_type(self, kind: str) -> list[dict]:
        with self._cond:
            return [m for m in self.messages if m.get("type") == kind]

    def close(self) -> None:
        self._ws.close()
        self._thread.join(timeout=5)
