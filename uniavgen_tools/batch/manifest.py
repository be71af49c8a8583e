"""The manifest beside the outputs (append-only JSON lines) and the atomic, never-overwriting mp4 write.

One line per event, flushed and fsynced: a crash loses at most the line being written. A rerun
reads it to skip finished rows and to pick up prompts an earlier run had queued (`queued` lines).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from pathlib import Path

MANIFEST_NAME = "uniavgen_batch_manifest.jsonl"
SUMMARY_NAME = "uniavgen_batch_summary.json"


class Manifest:
    def __init__(self, out_dir: Path, csv_path: Path, task: int) -> None:
        self.path = out_dir / MANIFEST_NAME
        self.done: dict[str, dict] = {}      # data_id -> its 'done' record
        self.queued: dict[str, dict] = {}    # data_id -> its last 'queued' record without an end
        header = None
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                if record.get("event") == "batch":
                    header = header or record
                elif record.get("event") == "done":
                    self.done[record["data_id"]] = record
                    self.queued.pop(record["data_id"], None)
                elif record.get("event") == "queued":
                    self.queued[record["data_id"]] = record
                elif record.get("event") in ("failed", "retry"):
                    self.queued.pop(record["data_id"], None)
        if header is not None and header.get("task") != task:
            raise ValueError(f"{out_dir} holds the outputs of --task {header.get('task')} "
                             f"({header.get('csv')}); use another --output for --task {task}")
        self.batch_id = header["batch_id"] if header else uuid.uuid4().hex[:12]
        if header is None:
            out_dir.mkdir(parents=True, exist_ok=True)
            self.append(event="batch", batch_id=self.batch_id, csv=str(csv_path), task=task)

    def append(self, **record) -> None:
        record.setdefault("time", round(time.time(), 3))
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def finished(self, data_id: str) -> dict | None:
        """The 'done' record of a row whose file is still there with the same bytes' size."""
        record = self.done.get(data_id)
        file = Path(record["file"]) if record else None
        if file is not None and file.is_file() and file.stat().st_size == record["bytes"]:
            return record
        return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def temporary_path(out_dir: Path, data_id: str) -> Path:
    return out_dir / f".{data_id}.{uuid.uuid4().hex[:8]}.part"


def publish(part: Path, target: Path) -> Path:
    """Moves a finished temporary file to target, or target_1, _2 ... if taken: never overwrites.

    os.link fails when the name exists, so two writers can never replace each other's file.
    """
    with open(part, "rb") as f:
        os.fsync(f.fileno())
    candidate, n = target, 1
    while True:
        try:
            os.link(part, candidate)
            break
        except FileExistsError:
            candidate, n = target.with_name(f"{target.stem}_{n}{target.suffix}"), n + 1
        except OSError:  # no hard links on this file system: check, then rename
            if candidate.exists():
                candidate, n = target.with_name(f"{target.stem}_{n}{target.suffix}"), n + 1
                continue
            os.replace(part, candidate)
            return candidate
    part.unlink()
    return candidate
