"""One ComfyUI server: uploads, queueing, its websocket events, results, cleanup (aiohttp)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

log = logging.getLogger(__name__)

# Errors that say "this server, now" rather than "this row": the row is retried elsewhere.
SERVER_SIDE_TYPES = ("OutOfMemoryError", "OutOfMemory", "InterruptProcessingException", "AcceleratorError",
                     "CudaError", "MemoryError")
SERVER_SIDE_TEXT = ("out of memory", "cuda error", "device-side assert", "interrupted")


class ServerDown(ConnectionError):
    """The server stopped answering (refused, reset, websocket closed, heartbeat missed)."""


class Refused(ValueError):
    """/prompt refused the prompt (validation): the body says which node and input."""

    def __init__(self, message: str, node_ids: set[str]) -> None:
        super().__init__(message)
        self.node_ids = node_ids


@dataclass
class Outcome:
    """How a prompt ended: success with its history entry, or an error classified by side."""

    ok: bool
    entry: dict = field(default_factory=dict)
    reason: str = ""
    server_side: bool = False


def classify_error(data: dict) -> Outcome:
    kind = str(data.get("exception_type", ""))
    message = str(data.get("exception_message", "")).strip().splitlines()
    text = message[0] if message else kind or "the workflow failed"
    node = data.get("node_type") or data.get("node_id") or "?"
    server_side = kind.endswith(SERVER_SIDE_TYPES) or any(t in text.lower() for t in SERVER_SIDE_TEXT)
    return Outcome(False, reason=f"{kind.rsplit('.', 1)[-1] or 'error'} in {node}: {text}"[:400],
                   server_side=server_side)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Server:
    """A client of one server. `events` sees every websocket message of this batch's prompts."""

    def __init__(self, url: str, client_id: str, session: aiohttp.ClientSession,
                 on_event: Callable[[Server, str, dict], None] | None = None) -> None:
        self.url = url.rstrip("/")
        self.client_id = client_id
        self.session = session
        self.on_event = on_event
        self.waiting: dict[str, asyncio.Future[Outcome]] = {}
        self.uploaded: dict[str, str] = {}        # sha256 -> name on the server (this connection)
        self.ws_task: asyncio.Task | None = None
        self.connected = asyncio.Event()

    # -- plain HTTP ---------------------------------------------------------------------------
    async def _request(self, method: str, path: str, **kwargs) -> aiohttp.ClientResponse:
        try:
            resp = await self.session.request(method, self.url + path, **kwargs)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
            raise ServerDown(f"{self.url}: {err.__class__.__name__}: {err}") from None
        if resp.status >= 500:
            body = (await resp.text())[:300]
            raise ServerDown(f"{self.url}{path} answered {resp.status}: {body}")
        return resp

    async def get_json(self, path: str) -> dict:
        async with await self._request("GET", path) as resp:
            try:
                return await resp.json(content_type=None)
            except (ValueError, aiohttp.ClientError) as err:
                raise ServerDown(f"{self.url}{path} did not answer JSON ({resp.status}): is it ComfyUI? "
                                 f"({err.__class__.__name__})") from None

    async def post_json(self, path: str, payload: dict) -> tuple[int, dict]:
        async with await self._request("POST", path, json=payload) as resp:
            text = await resp.text()
            try:
                return resp.status, (json.loads(text) if text else {})
            except json.JSONDecodeError:
                return resp.status, {"error": text[:300]}

    async def object_info(self, classes: set[str]) -> dict:
        """The classes' /object_info entries; a class the server does not have is left out."""
        info = {}
        for name in sorted(classes):
            info.update(await self.get_json(f"/object_info/{name}"))
        return info

    # -- uploads ------------------------------------------------------------------------------
    async def upload(self, path: Path, subfolder: str) -> str:
        """The file in the batch's own input subfolder, named by its content: identical files once.

        overwrite stays off: the server then keeps an identical file as it is and never replaces a
        different one (it would pick another name, which we then use).
        """
        digest = await asyncio.to_thread(_sha256, path)
        if digest in self.uploaded:
            return self.uploaded[digest]
        form = aiohttp.FormData()
        form.add_field("image", path.read_bytes(), filename=f"{digest[:16]}_{path.name}",
                       content_type="application/octet-stream")
        form.add_field("type", "input")
        form.add_field("subfolder", subfolder)
        async with await self._request("POST", "/upload/image", data=form) as resp:
            if resp.status != 200:
                detail = (await resp.text())[:200]
                raise ServerDown(f"{self.url}/upload/image answered {resp.status}: {detail}")
            body = await resp.json(content_type=None)
        name = f"{body.get('subfolder') or subfolder}/{body['name']}"
        self.uploaded[digest] = name
        return name

    # -- prompts ------------------------------------------------------------------------------
    async def queue(self, prompt: dict, prompt_id: str) -> None:
        status, body = await self.post_json("/prompt", {"prompt": prompt, "prompt_id": prompt_id,
                                                       "client_id": self.client_id})
        if status == 200:
            return
        errors = body.get("node_errors") or {}
        parts = [str(body.get("error", {}).get("message", body.get("error", "")))]
        for node_id, err in errors.items():
            for e in err.get("errors", []):
                detail = e.get("details") or e.get("message")
                parts.append(f"node {node_id} ({err.get('class_type')}): {detail}")
        raise Refused(f"the server refused the prompt ({status}): " + "; ".join(p for p in parts if p),
                      set(errors))

    def expect(self, prompt_id: str) -> asyncio.Future[Outcome]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[prompt_id] = future
        return future

    async def outcome_from_history(self, prompt_id: str) -> Outcome | None:
        entry = (await self.get_json(f"/history/{prompt_id}")).get(prompt_id)
        if not entry:
            return None
        status = entry.get("status", {})
        if status.get("status_str") == "success":
            return Outcome(True, entry)
        for kind, data in status.get("messages", []):
            if kind == "execution_error":
                return classify_error(data)
            if kind == "execution_interrupted":
                return Outcome(False, reason="interrupted on the server", server_side=True)
        return Outcome(False, reason="the workflow failed", server_side=True)

    async def state_of(self, prompt_id: str) -> str:
        """'done', 'running', 'pending' or 'unknown' (not in this server's queue nor history)."""
        if (await self.get_json(f"/history/{prompt_id}")).get(prompt_id):
            return "done"
        queue = await self.get_json("/queue")
        if any(item[1] == prompt_id for item in queue.get("queue_running", [])):
            return "running"
        if any(item[1] == prompt_id for item in queue.get("queue_pending", [])):
            return "pending"
        return "unknown"

    async def download(self, item: dict, target: Path) -> None:
        params = {k: str(item.get(k, "")) for k in ("filename", "subfolder", "type")}
        async with await self._request("GET", "/view", params=params) as resp:
            if resp.status != 200:
                raise ServerDown(f"{self.url}/view answered {resp.status} for {params['filename']}")
            with open(target, "wb") as f:
                async for chunk in resp.content.iter_chunked(1 << 20):
                    f.write(chunk)

    async def cancel(self, pending: list[str], running: list[str]) -> None:
        """Removes only these queued prompts and interrupts only these running ones."""
        if pending:
            await self.post_json("/queue", {"delete": pending})
        for prompt_id in running:
            await self.post_json("/interrupt", {"prompt_id": prompt_id})

    # -- websocket ----------------------------------------------------------------------------
    async def connect(self) -> None:
        """Opens the websocket (events of prompts queued with our client id); ServerDown if it cannot."""
        ws_url = self.url.replace("http", "ws", 1) + f"/ws?clientId={self.client_id}"
        try:
            ws = await self.session.ws_connect(ws_url, heartbeat=15, max_msg_size=0)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
            raise ServerDown(f"{self.url}: {err.__class__.__name__}: {err}") from None
        self.uploaded.clear()  # a server that went away may come back with another input folder
        self.connected.set()
        self.ws_task = asyncio.create_task(self._listen(ws))

    async def _listen(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._dispatch(json.loads(msg.data))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            pass
        finally:
            self.connected.clear()
            await ws.close()
            lost = ServerDown(f"{self.url} stopped answering (websocket closed)")
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(lost)
            self.waiting.clear()

    def _dispatch(self, message: dict) -> None:
        kind, data = message.get("type", ""), message.get("data") or {}
        prompt_id = data.get("prompt_id") if isinstance(data, dict) else None
        if prompt_id not in self.waiting:
            return
        if self.on_event is not None:
            self.on_event(self, kind, data)
        if kind == "execution_success" or (kind == "executing" and data.get("node") is None):
            # The history entry is written right after these messages; fetched by the waiter.
            self._settle(prompt_id, Outcome(True))
        elif kind == "execution_error":
            self._settle(prompt_id, classify_error(data))
        elif kind == "execution_interrupted":
            self._settle(prompt_id, Outcome(False, reason="interrupted on the server", server_side=True))

    def _settle(self, prompt_id: str, outcome: Outcome) -> None:
        future = self.waiting.pop(prompt_id)
        if not future.done():
            future.set_result(outcome)

    async def close(self) -> None:
        if self.ws_task is not None:
            self.ws_task.cancel()
            try:
                await self.ws_task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                pass
