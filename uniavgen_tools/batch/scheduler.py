"""The batch: one supervisor and N slots per server, a shared list of rows, retries and the summary.

A row goes to the first free slot of a server that is up. A server-side failure (server gone,
out of memory, interrupted) puts the row back for another server, at most `retries` times; a
row-level failure (missing file, refused input) ends the row at once. A server that drops is
reconnected in the background and used again when it answers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from .manifest import Manifest, publish, sha256_file, temporary_path
from .progress import Progress
from .rows import Row, RowError, check_row, read_rows
from .server import Outcome, Refused, Server, ServerDown
from .twins import ROW_NODES, PromptHook, Settings, TwinError, build_prompt, choose_models, load_twin

log = logging.getLogger(__name__)
EventHook = Callable[[str, str, str, dict], None]   # (server url, event type, data_id, data)


class NoServer(ConnectionError):
    """No server answered at the start: the CLI prints this one line and exits 1."""


@dataclass
class Options:
    servers: list[str]
    per_server: int = 1            # prompts in flight on one server
    retries: int = 2               # extra attempts after server-side failures
    down_timeout: float = 600.0    # give the remaining rows up when no server answered this long
    row_timeout: float = 0.0       # 0: none; else a row running longer is interrupted and retried
    reconnect_delay: float = 2.0
    long: bool = False             # tasks 2 / 3: the long twins (audio or video of any length)


@dataclass
class Job:
    row: Row
    attempts: list[dict] = field(default_factory=list)   # {"server", "reason"} per failed attempt
    avoid: set[str] = field(default_factory=set)          # servers that failed it server-side
    adopt: dict | None = None                             # a prompt an earlier run queued for it


@dataclass
class Slot:
    """State of one server as the scheduler sees it."""

    server: Server
    template: dict | None = None
    unusable: str = ""                 # why this server cannot run the workflow (models missing)
    stale: set[str] = field(default_factory=set)   # our prompts there that moved elsewhere
    seconds: list[float] = field(default_factory=list)
    failures: int = 0


class Batch:
    def __init__(self, csv_path: Path, task: int, settings: Settings, out_dir: Path, options: Options, *,
                 inputs_dir: Path | None = None, prompt_hook: PromptHook | None = None,
                 on_event: EventHook | None = None, show_progress: bool | None = None) -> None:
        self.csv_path, self.task, self.settings = csv_path, task, settings
        self.out_dir, self.options, self.inputs_dir = out_dir, options, inputs_dir
        self.on_event = on_event
        template = load_twin(task, long=options.long)
        self.template = prompt_hook(template) if prompt_hook else template
        self.show_progress = show_progress
        self.pending: list[Job] = []
        self.running: dict[str, tuple[Slot, Job]] = {}   # prompt_id -> where and what
        self.results: dict[str, dict] = {}               # data_id -> summary entry
        self.changed = asyncio.Condition()
        self.last_up = time.monotonic()

    # -- set-up -------------------------------------------------------------------------------
    def _prepare(self) -> list[Row]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.manifest = Manifest(self.out_dir, self.csv_path, self.task)
        rows = read_rows(self.csv_path)
        for row in rows:
            done = self.manifest.finished(row.data_id)
            if done:
                self.results[row.data_id] = {"status": "already done", "file": done["file"]}
                continue
            try:
                check_row(row, self.task, self.csv_path, self.inputs_dir)
            except RowError as err:
                self._fail(Job(row), str(err))
                continue
            self.pending.append(Job(row, adopt=self.manifest.queued.get(row.data_id)))
        return rows

    async def run(self) -> dict:
        started = time.monotonic()
        rows = self._prepare()
        self.progress = Progress(len(self.pending), self.options.servers, self.show_progress)
        try:
            if self.pending:
                await self._run_servers()
        finally:
            self.progress.close()
        return self._summary(rows, time.monotonic() - started)

    async def _run_servers(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            # Stable per batch: a rerun then receives the events of prompts the last run queued.
            client_id = f"uniavgen-batch-{self.manifest.batch_id}"
            self.slots = [Slot(Server(url, client_id, session, self._event)) for url in self.options.servers]
            up = await asyncio.gather(*(self._bring_up(slot, quiet=True) for slot in self.slots))
            if all(slot.unusable for slot in self.slots):
                raise TwinError("; ".join(f"{s.server.url}: {s.unusable}" for s in self.slots))
            if not any(up):
                raise NoServer("no ComfyUI server answers at " + ", ".join(self.options.servers)
                               + " (start ComfyUI there, or pass --server URL)")
            loop = asyncio.get_running_loop()
            tasks = [asyncio.create_task(self._supervise(slot)) for slot in self.slots]
            tasks += [asyncio.create_task(self._work(slot)) for slot in self.slots
                      for _ in range(self.options.per_server)]
            workers = asyncio.gather(*tasks)
            stop = loop.create_future()
            try:
                loop.add_signal_handler(signal.SIGINT, lambda: stop.done() or stop.set_result(True))
                loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(True))
            except (NotImplementedError, RuntimeError):  # not the main thread (tests) or Windows
                pass
            try:
                await asyncio.wait([workers, stop], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    try:
                        loop.remove_signal_handler(sig)
                    except (NotImplementedError, RuntimeError):
                        pass
                interrupted = not workers.done()
                workers.cancel()
                try:
                    await workers
                except asyncio.CancelledError:
                    pass
                if interrupted:
                    await self._cancel_ours()
                for slot in self.slots:
                    await slot.server.close()
            if interrupted:
                raise KeyboardInterrupt

    async def _bring_up(self, slot: Slot, quiet: bool = False) -> bool:
        """Connects and checks the server's models; True when it can take rows."""
        server = slot.server
        try:
            await server.connect()
            if slot.stale:  # prompts that moved elsewhere while it was away must not run twice
                await server.cancel(sorted(slot.stale), sorted(slot.stale))
                slot.stale.clear()
            if slot.template is None and not slot.unusable:
                needed = {v["class_type"] for v in self.template.values()}
                info = await server.object_info(needed)
                if needed - set(info):
                    raise TwinError(f"it lacks the nodes {', '.join(sorted(needed - set(info)))} (is the "
                                    "UniAVGen pack installed there, and ComfyUI recent enough?)")
                slot.template = choose_models(self.template, self.settings, info)
        except ServerDown as err:
            await server.close()  # connected again only when it all worked
            if not quiet:  # at the start, NoServer says it in one line if none answers
                log.warning("%s", err)
            return False
        except TwinError as err:
            slot.unusable = str(err)
            log.error("%s cannot run this workflow: %s", server.url, err)
            return False
        self.last_up = time.monotonic()
        await self._notify()
        return True

    async def _supervise(self, slot: Slot) -> None:
        """Reconnects a server that dropped, while rows remain (one warning per outage, not per try)."""
        warned = False
        while not slot.unusable and not self._all_settled():
            if slot.server.connected.is_set():
                self.last_up = time.monotonic()
                await asyncio.sleep(0.5)
                continue
            self.progress.server(slot.server.url, "down")
            await self._notify()
            await asyncio.sleep(self.options.reconnect_delay)
            if await self._bring_up(slot, quiet=warned):
                log.info("%s answers again: back in use", slot.server.url)
                self.progress.server(slot.server.url, "idle")
                warned = False
            else:
                warned = True

    # -- taking rows --------------------------------------------------------------------------
    def _all_settled(self) -> bool:
        return not self.pending and not self.running

    def _usable(self, slot: Slot) -> bool:
        return slot.server.connected.is_set() and not slot.unusable and slot.template is not None

    def _pick(self, slot: Slot) -> Job | None:
        url = slot.server.url
        urls_up = {s.server.url for s in self.slots if self._usable(s)}
        for job in self.pending:
            if job.adopt and job.adopt.get("server") != url:
                if job.adopt.get("server") in urls_up:
                    continue  # its earlier prompt may still be running there
                self._give_up_adoption(job)
            if url in job.avoid and urls_up - job.avoid - {url}:
                continue  # another server that has not failed it is up
            self.pending.remove(job)
            return job
        return None

    def _give_up_adoption(self, job: Job) -> None:
        """The row runs elsewhere: its earlier prompt is removed from its server when that answers."""
        for other in self.slots:
            if other.server.url == job.adopt.get("server"):
                other.stale.add(job.adopt["prompt_id"])
        job.adopt = None

    async def _take(self, slot: Slot) -> Job | None:
        async with self.changed:
            while True:
                if self._all_settled():
                    return None
                if self._usable(slot):
                    job = self._pick(slot)
                    if job is not None:
                        return job
                if (self.pending and not self.running and not any(self._usable(s) for s in self.slots)
                        and time.monotonic() - self.last_up > self.options.down_timeout):
                    for job in list(self.pending):
                        self.pending.remove(job)
                        self._fail(job, f"no server answered for {self.options.down_timeout:.0f} s")
                    self.changed.notify_all()
                    return None
                try:
                    await asyncio.wait_for(self.changed.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def _work(self, slot: Slot) -> None:
        while (job := await self._take(slot)) is not None:
            try:
                await self._run_job(slot, job)
            except Exception as err:  # a bug must cost one row, not the whole batch
                log.exception("%s: unexpected error", job.row.data_id)
                self._fail(job, f"unexpected error: {err.__class__.__name__}: {err}", slot.server.url)
            finally:
                self.progress.server(slot.server.url, "idle" if slot.server.connected.is_set() else "down")
                await self._notify()

    # -- one row on one server ----------------------------------------------------------------
    async def _run_job(self, slot: Slot, job: Job) -> None:
        server, data_id = slot.server, job.row.data_id
        started = time.monotonic()
        prompt_id, cancelled = "", False
        try:
            record, job.adopt = job.adopt, None
            outcome = None
            if record and record.get("server") == server.url:
                prompt_id = record["prompt_id"]
                self.running[prompt_id] = (slot, job)
                outcome = await self._adopted(slot, job, prompt_id)
                if outcome is None:
                    self.running.pop(prompt_id, None)
            if outcome is None:
                self.progress.server(server.url, f"{data_id} upload")
                subfolder = f"uniavgen_batch/{self.manifest.batch_id}"
                uploaded = {col: await server.upload(path, subfolder) for col, path in job.row.files.items()}
                prompt = build_prompt(slot.template, job.row, self.task, self.settings, uploaded,
                                      f"{subfolder}/{data_id}")
                prompt_id = uuid.uuid4().hex
                outcome = await self._submit(slot, job, prompt, prompt_id)
            if outcome.ok:
                file = await self._save(server, prompt_id, outcome, data_id)
                self._done(slot, job, file, prompt_id, time.monotonic() - started)
            elif outcome.server_side:
                self._retry(slot, job, outcome.reason)
            else:
                self._fail(job, outcome.reason, server.url)
        except Refused as err:
            if err.node_ids and not err.node_ids & ROW_NODES:
                slot.unusable = str(err)  # e.g. a model the other servers have: this one sits out
                log.error("%s cannot run this workflow: %s", server.url, err)
                self._retry(slot, job, str(err))
            else:
                self._fail(job, str(err), server.url)
        except (ServerDown, aiohttp.ClientError, asyncio.TimeoutError) as err:
            if prompt_id:
                slot.stale.add(prompt_id)
            reason = str(err) or f"no result within --row-timeout {self.options.row_timeout:.0f} s"
            if isinstance(err, asyncio.TimeoutError) and server.connected.is_set():
                try:
                    await server.cancel([prompt_id], [prompt_id])
                except ServerDown:
                    pass
            self._retry(slot, job, reason)
        except (RowError, OSError) as err:
            self._fail(job, str(err), server.url)
        except asyncio.CancelledError:
            cancelled = True  # Ctrl-C: the prompt stays listed so that it is removed from the server
            raise
        finally:
            if not cancelled:
                self.running.pop(prompt_id, None)

    async def _submit(self, slot: Slot, job: Job, prompt: dict, prompt_id: str) -> Outcome:
        server = slot.server
        future = server.expect(prompt_id)
        self.manifest.append(event="queued", data_id=job.row.data_id, server=server.url, prompt_id=prompt_id)
        self.running[prompt_id] = (slot, job)  # before the request: Ctrl-C during it still cleans up
        try:
            await server.queue(prompt, prompt_id)
        except Exception:
            server.waiting.pop(prompt_id, None)
            raise
        self.progress.server(server.url, f"{job.row.data_id} queued")
        return await self._wait(future)

    async def _wait(self, future: asyncio.Future[Outcome]) -> Outcome:
        if self.options.row_timeout > 0:
            return await asyncio.wait_for(future, self.options.row_timeout)
        return await future

    async def _adopted(self, slot: Slot, job: Job, prompt_id: str) -> Outcome | None:
        """The result of the prompt an earlier run queued for this row on this server; None: run anew."""
        server = slot.server
        future = server.expect(prompt_id)  # before asking: it may end while we ask
        state = await server.state_of(prompt_id)
        if state in ("running", "pending"):
            log.info("%s: picking up its prompt still %s on %s", job.row.data_id, state, server.url)
            return await self._wait(future)
        server.waiting.pop(prompt_id, None)
        if state == "done":
            outcome = await server.outcome_from_history(prompt_id)
            if outcome is not None and outcome.ok:
                log.info("%s: finished on %s while the client was away", job.row.data_id, server.url)
                return outcome
        return None

    async def _save(self, server: Server, prompt_id: str, outcome: Outcome, data_id: str) -> Path:
        entry = outcome.entry
        for _ in range(40):  # success is announced just before the history entry is stored
            if entry:
                break
            await asyncio.sleep(0.25)
            entry = (await server.get_json(f"/history/{prompt_id}")).get(prompt_id) or {}
        item = next((i for outputs in entry.get("outputs", {}).values() for items in outputs.values()
                     if isinstance(items, list) for i in items
                     if isinstance(i, dict) and str(i.get("filename", "")).endswith(".mp4")), None)
        if item is None:
            raise RowError("the workflow finished without a video")
        part = temporary_path(self.out_dir, data_id)
        try:
            await server.download(item, part)
            return publish(part, self.out_dir / f"{data_id}.mp4")
        finally:
            part.unlink(missing_ok=True)

    # -- endings ------------------------------------------------------------------------------
    def _done(self, slot: Slot, job: Job, file: Path, prompt_id: str, seconds: float) -> None:
        slot.seconds.append(seconds)
        self.manifest.append(event="done", data_id=job.row.data_id, file=str(file), bytes=file.stat().st_size,
                             sha256=sha256_file(file), server=slot.server.url, prompt_id=prompt_id,
                             seconds=round(seconds, 2), attempts=len(job.attempts) + 1)
        entry = {"status": "done", "file": str(file), "server": slot.server.url, "seconds": round(seconds, 2)}
        if job.attempts:
            entry["retried"] = job.attempts
        self.results[job.row.data_id] = entry
        self.progress.row_done()
        log.info("%s: %s (%s, %.1f s)", job.row.data_id, file, slot.server.url, seconds)

    def _retry(self, slot: Slot, job: Job, reason: str) -> None:
        slot.failures += 1
        job.attempts.append({"server": slot.server.url, "reason": reason})
        job.avoid.add(slot.server.url)
        self.manifest.append(event="retry", data_id=job.row.data_id, server=slot.server.url, reason=reason)
        if len(job.attempts) > self.options.retries:
            self._fail(job, f"gave up after {len(job.attempts)} attempts; last: {reason}")
            return
        log.warning("%s: %s on %s; queued again", job.row.data_id, reason, slot.server.url)
        self.pending.insert(0, job)

    def _fail(self, job: Job, reason: str, server: str = "") -> None:
        self.manifest.append(event="failed", data_id=job.row.data_id, reason=reason, server=server)
        entry = {"status": "failed", "reason": reason, "row": job.row.number}
        if job.attempts:
            entry["retried"] = job.attempts
        self.results[job.row.data_id] = entry
        if hasattr(self, "progress"):
            self.progress.row_done()
        log.error("%s (row %d): %s", job.row.data_id, job.row.number, reason)

    async def _cancel_ours(self) -> None:
        """Ctrl-C: our queued prompts leave every queue, our running ones are interrupted."""
        by_server: dict[str, list[str]] = {}
        for prompt_id, (slot, _job) in self.running.items():
            by_server.setdefault(slot.server.url, []).append(prompt_id)
        for slot in self.slots:
            ids = sorted(set(by_server.get(slot.server.url, [])) | slot.stale)
            if ids:
                try:
                    await slot.server.cancel(ids, ids)
                    log.info("%s: removed or interrupted %d prompt(s) of this batch",
                             slot.server.url, len(ids))
                except ServerDown as err:
                    log.warning("%s", err)

    def _event(self, server: Server, kind: str, data: dict) -> None:
        slot_job = self.running.get(data.get("prompt_id", ""))
        data_id = slot_job[1].row.data_id if slot_job else "?"
        if kind == "progress":
            self.progress.step(server.url, data_id, int(data.get("value", 0)), int(data.get("max", 0)))
        elif kind == "execution_start":
            self.progress.server(server.url, f"{data_id} running")
        if self.on_event is not None:
            self.on_event(server.url, kind, data_id, data)

    def _summary(self, rows: list[Row], seconds: float) -> dict:
        failed = {k: v for k, v in self.results.items() if v["status"] == "failed"}
        servers = {}
        for slot in getattr(self, "slots", []):
            times = slot.seconds
            mean = round(sum(times) / len(times), 2) if times else None
            servers[slot.server.url] = {"rows": len(times), "failures": slot.failures,
                                        "seconds_per_row": mean}
            if slot.unusable:
                servers[slot.server.url]["unusable"] = slot.unusable
        return {
            "rows": len(rows),
            "done": sum(v["status"] == "done" for v in self.results.values()),
            "already_done": sum(v["status"] == "already done" for v in self.results.values()),
            "failed": len(failed),
            "failures": {k: v["reason"] for k, v in failed.items()},
            "retried": {k: v["retried"] for k, v in self.results.items() if v.get("retried")},
            "servers": servers,
            "seconds": round(seconds, 1),
            "rows_per_minute": round(sum(v["status"] == "done" for v in self.results.values())
                                     / seconds * 60, 2) if seconds > 0 else None,
            "output_dir": str(self.out_dir),
            "results": self.results,
        }
