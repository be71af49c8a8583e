"""Run an official UniAVGen test CSV on a running ComfyUI: one <data_id>.mp4 per row.

    python scripts/batch_csv.py examples.csv --task 0 [--config configs/inference.yaml]
        [--server http://127.0.0.1:8188] [--output outputs]

Same inputs as the official `inference.py --task N --config_file ...`: the CSV columns data_id,
ref_image_path, ref_audio_path, ref_speech_content, video_path, audio_path, speech_content, prompt,
lang, and the YAML settings (num_steps, shift, seed, video/audio_guidance_scale, slg_layer,
macfg_prop, video_negative_prompt, output_dir). Each row becomes an API prompt from the matching
workflow in workflows/; its files are uploaded to the server. A bad row is reported and skipped.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from workflow_graph import ui_to_api  # noqa: E402

log = logging.getLogger("uniavgen.batch")
TASKS = {0: "avg", 1: "ravg", 2: "a2v", 3: "v2a"}
# CSV column -> (node class, input) it feeds, per task
FILE_COLUMNS = {0: {"ref_image_path": ("LoadImage", "image")},
                1: {"ref_image_path": ("LoadImage", "image"), "ref_audio_path": ("LoadAudio", "audio")},
                2: {"ref_image_path": ("LoadImage", "image"), "audio_path": ("LoadAudio", "audio")},
                3: {"video_path": ("LoadVideo", "file")}}
SETTINGS = {"num_steps": "steps", "shift": "shift", "seed": "seed", "video_guidance_scale": "video_cfg",
            "audio_guidance_scale": "audio_cfg", "slg_layer": "slg_layer", "macfg_prop": "macfg_fraction"}


class RowError(ValueError):
    """A row that cannot run; the message names the row and the column."""


@dataclass
class Client:
    """The few ComfyUI HTTP calls the runner needs."""

    base: str

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=60) as resp:  # noqa: S310 - user's server
            return resp.read()

    def post(self, path: str, body: bytes, content_type: str) -> dict:
        req = urllib.request.Request(self.base + path, data=body, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - user's server
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:800]
            raise RowError(f"the server refused it ({err.code}): {detail}") from None

    def upload(self, path: Path) -> str:
        boundary = uuid.uuid4().hex
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
                f"filename=\"{path.name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        tail = (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"overwrite\"\r\n\r\n"
                f"true\r\n--{boundary}--\r\n")
        body = head.encode() + path.read_bytes() + tail.encode()
        return self.post("/upload/image", body, f"multipart/form-data; boundary={boundary}")["name"]


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    with open(csv_path, newline="", encoding="utf-8") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(f)]


def _file(row: dict, column: str, csv_path: Path) -> Path:
    value = row.get(column, "")
    if not value:
        raise RowError(f"column {column!r} is empty; this task needs it")
    for candidate in (csv_path.parent / value, Path(value)):
        if candidate.is_file():
            return candidate
    raise RowError(f"{column} {value!r} does not exist (relative paths are read from the current folder "
                   f"or the CSV's folder)")


def build_prompt(row: dict, task: int, settings: dict, template: dict, uploaded: dict[str, str]) -> dict:
    """The workflow template with this row's texts, files and the YAML settings filled in."""
    prompt = json.loads(json.dumps(template))
    by_class: dict[str, list[dict]] = {}
    for node in prompt.values():
        by_class.setdefault(node["class_type"], []).append(node)
    if not row.get("speech_content"):
        raise RowError("column 'speech_content' is empty: the words to speak are needed")
    if task == 1 and not row.get("ref_speech_content"):
        raise RowError("column 'ref_speech_content' is empty: voice cloning needs the reference transcript")
    lang = row.get("lang") or "en"
    if lang not in ("en", "zh"):
        raise RowError(f"lang {lang!r} is not supported: use en or zh")
    speech = by_class["UniAVGenSpeechText"][0]["inputs"]
    speech.update(text=row["speech_content"], language=lang,
                  reference_text=row.get("ref_speech_content", "") if task == 1 else "")
    captions = sorted(by_class["CLIPTextEncode"], key=lambda n: n["_meta"]["title"] != "Caption (positive)")
    captions[0]["inputs"]["text"] = row.get("prompt", "")
    captions[1]["inputs"]["text"] = settings.get("video_negative_prompt", "") or ""
    sampler = by_class["UniAVGenSampler"][0]["inputs"]
    sampler.update({ours: settings[theirs] for theirs, ours in SETTINGS.items() if theirs in settings})
    for column, (node_class, name) in FILE_COLUMNS[task].items():
        by_class[node_class][0]["inputs"][name] = uploaded[column]
    by_class["UniAVGenSaveVideo"][0]["inputs"]["filename_prefix"] = f"uniavgen_batch/{row['data_id']}"
    return prompt


def wait(client: Client, prompt_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = json.loads(client.get(f"/history/{prompt_id}")).get(prompt_id)
        if entry and entry.get("status", {}).get("status_str") in ("success", "error"):
            return entry
        time.sleep(1.0)
    raise RowError(f"no result within {timeout:.0f} s")


def _save(client: Client, entry: dict, out: Path) -> Path:
    for outputs in entry["outputs"].values():
        for item in next(iter(outputs.values()), []):
            if isinstance(item, dict) and str(item.get("filename", "")).endswith(".mp4"):
                keys = ("filename", "subfolder", "type")
                query = urllib.parse.urlencode({k: item.get(k, "") for k in keys})
                target, n = out, 1
                while target.exists():  # never overwrite an earlier result
                    target, n = out.with_name(f"{out.stem}_{n}{out.suffix}"), n + 1
                target.write_bytes(client.get(f"/view?{query}"))
                return target
    raise RowError("the workflow finished without a video")


def run_batch(csv_path: Path, task: int, settings: dict, client: Client, out_dir: Path, *,
              prompt_hook: Callable[[dict], dict] | None = None,
              timeout: float = 6 * 3600) -> dict[str, str]:
    """data_id -> the written mp4 path, or 'error: ...' for rows that failed."""
    info = json.loads(client.get("/object_info"))
    template = ui_to_api(json.loads((ROOT / "workflows" / f"uniavgen_{TASKS[task]}.json").read_text()), info)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, results = read_rows(csv_path), {}
    for i, row in enumerate(rows, 1):
        data_id = row.get("data_id") or f"row{i}"
        started = time.monotonic()
        try:
            uploaded = {col: client.upload(_file(row, col, csv_path)) for col in FILE_COLUMNS[task]}
            prompt = build_prompt({**row, "data_id": data_id}, task, settings, template, uploaded)
            if prompt_hook is not None:
                prompt = prompt_hook(prompt)
            entry = wait(client, client.post("/prompt", json.dumps({"prompt": prompt}).encode(),
                                             "application/json")["prompt_id"], timeout)
            if entry["status"]["status_str"] != "success":
                errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
                raise RowError(errors[0]["exception_message"].strip() if errors else "the workflow failed")
            results[data_id] = str(_save(client, entry, out_dir / f"{data_id}.mp4"))
            log.info("[%d/%d] %s: %s (%.0f s)", i, len(rows), data_id, results[data_id],
                     time.monotonic() - started)
        except (RowError, OSError) as err:
            results[data_id] = f"error: {err}"
            log.error("[%d/%d] %s: %s", i, len(rows), data_id, err)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--task", type=int, choices=sorted(TASKS), default=0,
                        help="0 AVG, 1 RAVG, 2 A2V, 3 V2A (as the official --task)")
    parser.add_argument("--config", type=Path, help="the official inference.yaml (defaults: its values)")
    parser.add_argument("--server", default="http://127.0.0.1:8188")
    parser.add_argument("--output", type=Path, help="default: the YAML's output_dir, else ./outputs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = yaml.safe_load(args.config.read_text()) if args.config else {}
    out_dir = args.output or Path(settings.get("output_dir") or "outputs")
    results = run_batch(args.csv, args.task, settings, Client(args.server.rstrip("/")), out_dir)
    failed = sum(v.startswith("error:") for v in results.values())
    log.info("%d of %d rows done, %d failed", len(results) - failed, len(results), failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
