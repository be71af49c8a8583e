"""The batch client (python -m uniavgen_tools.batch) on three real ComfyUI servers (tiny models): spread,
failures, resume, uploads."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from uniavgen_tools.dev.batch_farm import (CLI_ENV, SAVE_NODE, TINY_CLI, all_runs, kill, revive, start_farm,
                                successful_runs)
from helpers.paths import REPO_ROOT
from uniavgen_tools.dev.tiny_workflows import FRAMES, HEIGHT, SHORT_SPEECH, WIDTH, make_tiny, tiny_prompt

from helpers.clips import check_mp4

from uniavgen_tools.batch.manifest import MANIFEST_NAME
from uniavgen_tools.batch.rows import COLUMNS
from uniavgen_tools.batch.scheduler import Batch, Options
from uniavgen_tools.batch.twins import Settings

SETTINGS = {"num_steps": 2, "seed": 7}
SAMPLES = REPO_ROOT / "example_inputs"


@pytest.fixture(scope="module")
def farm(comfy_root, tmp_path_factory):
    servers = start_farm(comfy_root, [tmp_path_factory.mktemp(f"farm{i}") for i in range(3)])
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def servers(farm):
    revive(farm)  # a test that killed one leaves it dead
    return farm


@pytest.fixture
def datas(tmp_path) -> Path:
    folder = tmp_path / "datas"
    folder.mkdir()
    for source in SAMPLES.iterdir():
        if source.suffix != ".csv":
            shutil.copyfile(source, folder / source.name)
    return folder


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in COLUMNS} for row in rows)
    return path


def avg_rows(n: int, prefix: str = "clip") -> list[dict]:
    return [{"data_id": f"{prefix}{i:02d}", "ref_image_path": "datas/uniavgen_face.png", "lang": "en",
             "speech_content": f"Hello number {i}.", "prompt": "A man talks."} for i in range(n)]


def run(csv_path: Path, task: int, out: Path, servers, **kwargs) -> dict:
    options = Options(servers=[s.base_url for s in servers], reconnect_delay=0.5,
                      down_timeout=kwargs.pop("down_timeout", 120))
    batch = Batch(csv_path, task, Settings(SETTINGS), out, options, prompt_hook=make_tiny,
                  show_progress=False, **kwargs)
    return asyncio.run(batch.run())


def batch_id(out: Path) -> str:
    return json.loads((out / MANIFEST_NAME).read_text().splitlines()[0])["batch_id"]


def test_shipped_sample_csvs_run_end_to_end(servers, datas, tmp_path):
    """Every task's sample CSV as shipped, the four batches at once on the three servers.

    Their files are read from --inputs-dir, where the speech is cut to the tiny 1 s clip.
    """
    shutil.copyfile(servers[0].layout.root / "input" / SHORT_SPEECH, datas / "uniavgen_speech.wav")

    async def all_tasks():
        batches = []
        for task in range(4):
            urls = [s.base_url for s in servers]
            options = Options(servers=urls[task % 3:] + urls[:task % 3])  # each batch starts elsewhere
            batches.append(Batch(SAMPLES / f"batch_task{task}.csv", task, Settings(SETTINGS),
                                 tmp_path / f"t{task}", options, inputs_dir=datas, prompt_hook=make_tiny,
                                 show_progress=False))
        return await asyncio.gather(*(b.run() for b in batches))

    summaries = asyncio.run(all_tasks())
    for task, summary in enumerate(summaries):
        assert summary["failed"] == 0, (task, summary["failures"])
        assert summary["done"] == summary["rows"] >= 1
        for result in summary["results"].values():
            check_mp4(Path(result["file"]), FRAMES, WIDTH, HEIGHT)


def test_twelve_rows_three_servers_exactly_once_bad_rows_once_user_files_kept(servers, datas, tmp_path):
    """12 good rows spread over all servers, each run once (their histories say so); a row with a
    missing file and a row whose image the server cannot read each fail once; a user's file named
    like an uploaded input stays as it was; the face is uploaded once per server."""
    (datas / "broken.png").write_bytes(b"not an image")
    rows = avg_rows(12)
    rows.insert(5, {**rows[0], "data_id": "missing", "ref_image_path": "datas/nowhere.png"})
    rows.insert(9, {**rows[0], "data_id": "unreadable", "ref_image_path": "datas/broken.png"})
    user_files = []
    for server in servers:
        user_file = server.layout.root / "input" / "uniavgen_face.png"
        user_file.write_bytes(b"the user's own face.png")
        user_files.append((user_file, user_file.stat().st_mtime_ns))
    out = tmp_path / "out"
    try:
        summary = run(write_csv(tmp_path / "rows.csv", rows), 0, out, servers)
        kept = [user_file.read_bytes() == b"the user's own face.png" and user_file.stat().st_mtime_ns == mtime
                for user_file, mtime in user_files]
    finally:  # the other tests' prompts read the example face from there
        for user_file, _ in user_files:
            shutil.copyfile(SAMPLES / "uniavgen_face.png", user_file)

    assert all(kept)
    assert summary["done"] == 12 and summary["failed"] == 2, summary["failures"]
    assert "nowhere.png" in summary["failures"]["missing"]
    assert "UniAVGenSampler" not in summary["failures"]["unreadable"]  # failed at the image load
    assert not summary["retried"]  # row-level failures are not retried
    runs = successful_runs(servers, batch_id(out))
    assert sorted(runs) == [r["data_id"] for r in avg_rows(12)]
    assert all(len(where) == 1 for where in runs.values()), runs
    assert {where[0] for where in runs.values()} == {s.base_url for s in servers}  # all servers used
    attempts = all_runs(servers, batch_id(out))
    assert attempts["unreadable"] == 1 and "missing" not in attempts
    for row in avg_rows(12):
        assert (out / f"{row['data_id']}.mp4").is_file()
    check_mp4(out / "clip00.mp4", FRAMES, WIDTH, HEIGHT)
    assert not list(out.glob("*.part"))
    for server in servers:
        uploads = list((server.layout.root / "input" / "uniavgen_batch" / batch_id(out)).iterdir())
        assert len([u for u in uploads if u.name.endswith("uniavgen_face.png")]) == 1, uploads


def test_a_server_killed_mid_row_hands_the_row_to_another(servers, datas, tmp_path):
    victim = servers[1]
    killed: list[str] = []

    def on_event(url: str, kind: str, data_id: str, data: dict) -> None:
        if url == victim.base_url and kind == "progress" and not killed:
            killed.append(data_id)
            kill(victim)

    out = tmp_path / "out"
    summary = run(write_csv(tmp_path / "rows.csv", avg_rows(4)), 0, out, servers, on_event=on_event)

    assert killed, "the victim never ran a step"
    assert summary["done"] == 4 and summary["failed"] == 0, summary["failures"]
    retried = summary["retried"][killed[0]]
    assert retried[0]["server"] == victim.base_url and victim.base_url in retried[0]["reason"]
    assert summary["results"][killed[0]]["server"] != victim.base_url
    runs = successful_runs(servers, batch_id(out))  # the victim's history died with it
    assert sorted(runs) == [r["data_id"] for r in avg_rows(4)] and all(len(w) == 1 for w in runs.values())
    assert sorted(p.name for p in out.glob("*.mp4")) == [f"{r['data_id']}.mp4" for r in avg_rows(4)]


@pytest.mark.parametrize("retries", [1, 0])
def test_a_row_interrupted_on_its_server_is_retried_within_bounds(servers, datas, tmp_path, retries):
    """Someone presses Cancel on server A while our row runs there: a server-side failure, so the
    row goes to another server, as many times as --retries allows."""
    a = servers[0]
    hit: list[str] = []

    def on_event(url: str, kind: str, data_id: str, data: dict) -> None:
        if url == a.base_url and kind == "progress" and not hit:
            hit.append(data_id)
            a.post_json("/interrupt", {})

    out = tmp_path / "out"
    options = Options(servers=[s.base_url for s in servers], retries=retries)
    summary = asyncio.run(Batch(write_csv(tmp_path / "rows.csv", avg_rows(3)), 0, Settings(SETTINGS), out,
                                options, prompt_hook=make_tiny, on_event=on_event, show_progress=False).run())

    assert hit
    (attempt,) = summary["retried"][hit[0]]
    assert attempt == {"server": a.base_url, "reason": "interrupted on the server"}
    if retries:
        assert summary["done"] == 3 and summary["results"][hit[0]]["server"] != a.base_url
    else:
        assert summary["done"] == 2 and summary["failures"][hit[0]].startswith("gave up after 1 attempts")
    assert summary["servers"][a.base_url]["failures"] == 1


def test_a_server_that_comes_back_is_used_again(servers, datas, tmp_path):
    """B is down at the start; once A is busy with someone else's long prompts, B starts again and
    takes the rows left (the long prompts are then removed again)."""
    a, b = servers[0], servers[1]
    kill(b)
    busy: list[str] = []
    restart = threading.Thread(target=revive, args=([b],))

    def on_event(url: str, kind: str, data_id: str, data: dict) -> None:
        if url == a.base_url and kind == "execution_start" and not busy:
            for i in range(6):
                _, body = a.queue_prompt(tiny_prompt("uniavgen_avg", steps=150, prefix=f"someone_else/{i}"))
                busy.append(body["prompt_id"])
            restart.start()
        elif url == b.base_url and kind == "execution_start" and busy:
            a.post_json("/queue", {"delete": busy})
            for prompt_id in busy:
                a.post_json("/interrupt", {"prompt_id": prompt_id})

    try:
        summary = run(write_csv(tmp_path / "rows.csv", avg_rows(4)), 0, tmp_path / "out", [a, b],
                      on_event=on_event)
    finally:
        a.post_json("/queue", {"delete": busy})
        for prompt_id in busy:
            a.post_json("/interrupt", {"prompt_id": prompt_id})
        if restart.is_alive():
            restart.join()
    assert summary["done"] == 4, summary["failures"]
    assert summary["servers"][b.base_url]["rows"] >= 1, summary["servers"]


def test_client_killed_mid_batch_then_rerun_does_only_what_is_left(servers, datas, tmp_path):
    csv_path = write_csv(tmp_path / "rows.csv", avg_rows(6))
    out = tmp_path / "out"
    cmd = [*TINY_CLI, str(csv_path), "--task", "0", "--output", str(out), "--quiet"]
    cmd += [arg for s in servers for arg in ("--server", s.base_url)]
    env = {**os.environ, **CLI_ENV}
    client = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    manifest = out / MANIFEST_NAME
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and client.poll() is None:
        done = [line for line in (manifest.read_text().splitlines() if manifest.exists() else [])
                if '"event": "done"' in line]
        if len(done) >= 2:
            break
        time.sleep(0.2)
    assert client.poll() is None, client.communicate()
    client.kill()  # SIGKILL: no clean-up of any kind
    client.wait()
    finished = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.mp4")}
    assert len(finished) >= 2

    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["already_done"] == len(finished) and summary["done"] == 6 - len(finished)
    for name, (data, mtime) in finished.items():
        assert (out / name).read_bytes() == data and (out / name).stat().st_mtime_ns == mtime
    assert sorted(p.name for p in out.glob("*.mp4")) == [f"{r['data_id']}.mp4" for r in avg_rows(6)]
    # prompts still queued or running when the client died were picked up, not run again
    runs = successful_runs(servers, batch_id(out))
    assert all(len(where) == 1 for where in runs.values()), runs


def test_no_server_is_one_line_and_exit_1(tmp_path):
    csv_path = write_csv(tmp_path / "rows.csv", avg_rows(1))
    (tmp_path / "datas").mkdir()
    shutil.copyfile(SAMPLES / "uniavgen_face.png", tmp_path / "datas" / "uniavgen_face.png")
    url = "http://127.0.0.1:9"
    # the README's command, from another folder
    result = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "uniavgen.sh"), "batch", str(csv_path),
                             "--server", url, "--output", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={**os.environ, "UNIAVGEN_PY": sys.executable})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0] and "Traceback" not in result.stderr, result.stderr



def _prefix_of(item: dict) -> str:
    return item.get(SAVE_NODE, {}).get("inputs", {}).get("filename_prefix", "")


def _ours(server, prefix: str) -> tuple[list[str], list[str]]:
    """(running, pending) prompt ids in a server's queue whose output name starts with prefix."""
    queue = server.get_json("/queue")
    return tuple([i[1] for i in queue[key] if _prefix_of(i[2]).startswith(prefix)]
                 for key in ("queue_running", "queue_pending"))


def _ended(server, prefix: str, timeout: float = 300) -> list[dict]:
    """History entries of prompts with this output prefix, once none of them is queued any more."""
    deadline = time.monotonic() + timeout
    while _ours(server, prefix) != ([], []) and time.monotonic() < deadline:
        time.sleep(0.5)
    return [e for e in server.get_json("/history?max_items=10000").values()
            if _prefix_of(e["prompt"][2]).startswith(prefix)]


def test_ctrl_c_removes_and_interrupts_only_this_batch(servers, datas, tmp_path):
    """Ctrl-C while A runs someone else's prompt with ours waiting behind it, and B runs ours with
    someone else's waiting behind: none of ours is left queued or running, one was interrupted, and
    both other prompts finish."""
    a, b = servers[0], servers[1]
    status, body = a.queue_prompt(tiny_prompt("uniavgen_avg", steps=40, prefix="someone_else/on_a"))
    assert status == 200, body
    out = tmp_path / "out"
    cmd = [*TINY_CLI, str(write_csv(tmp_path / "rows.csv", avg_rows(4))), "--task", "0", "--output", str(out),
           "--quiet", "--per-server", "2", "--server", a.base_url, "--server", b.base_url]
    client = subprocess.Popen(cmd, env={**os.environ, **CLI_ENV}, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline, prefix = time.monotonic() + 300, None
    while time.monotonic() < deadline:
        assert client.poll() is None, client.communicate()
        if prefix is None and (out / MANIFEST_NAME).exists():
            prefix = f"uniavgen_batch/{batch_id(out)}/"
        if prefix and _ours(a, prefix)[1] and _ours(b, prefix)[0]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the batch never had a prompt waiting on A and one running on B")
    status, body = b.queue_prompt(tiny_prompt("uniavgen_avg", prefix="someone_else/on_b"))
    assert status == 200, body
    client.send_signal(signal.SIGINT)
    _, stderr = client.communicate(timeout=120)

    assert client.returncode == 130, stderr
    assert "run the same command again" in stderr
    assert _ours(a, prefix) == ([], []) and _ours(b, prefix) == ([], [])
    ended = _ended(a, prefix) + _ended(b, prefix)
    interrupted = [e for e in ended if any(m[0] == "execution_interrupted" for m in e["status"]["messages"])]
    assert interrupted, [e["status"] for e in ended]
    for server, name in ((a, "someone_else/on_a"), (b, "someone_else/on_b")):
        (other,) = _ended(server, name)
        assert other["status"]["status_str"] == "success", (name, other["status"], server.log()[-3000:])


def test_converted_fp8_and_single_files_and_a_server_without_them(servers, datas, tmp_path):
    """The converter's fp8 video file and single audio file on one server: named with --video-dit /
    --audio-dit, the row runs there; the server without them sits out with the reason."""
    from uniavgen_core.convert import convert

    from uniavgen_tools.dev.tiny_models import tiny_checkpoint

    has, lacks = servers[2], servers[0]
    folder = has.layout.models / "diffusion_models" / "converted"
    if not (folder / "uniavgen_video_fp8_e4m3fn.safetensors").is_file():
        convert(tiny_checkpoint(), folder, dtype="fp32", video_fp8=True,
                vocab=tiny_checkpoint() / "vocab.txt")
    models = {"video_dit": "converted/uniavgen_video_fp8_e4m3fn.safetensors",
              "audio_dit": "converted/uniavgen_audio_fp32.safetensors"}
    out = tmp_path / "out"
    options = Options(servers=[lacks.base_url, has.base_url])
    csv_path = write_csv(tmp_path / "rows.csv", avg_rows(1))
    summary = asyncio.run(Batch(csv_path, 0, Settings(SETTINGS, models), out, options, prompt_hook=make_tiny,
                                show_progress=False).run())

    assert summary["done"] == 1, summary["failures"]
    assert summary["results"]["clip00"]["server"] == has.base_url
    assert "--video-dit 'converted/uniavgen_video_fp8_e4m3fn.safetensors' is not on this server" in \
        summary["servers"][lacks.base_url]["unusable"]
    check_mp4(out / "clip00.mp4", FRAMES, WIDTH, HEIGHT)
    (ran,) = [e for e in has.get_json("/history?max_items=10000").values()
              if _prefix_of(e["prompt"][2]) == f"uniavgen_batch/{batch_id(out)}/clip00"]
    assert ran["prompt"][2]["7"]["inputs"]["dit_name"] == models["video_dit"]
    assert ran["prompt"][2]["8"]["inputs"]["dit_name"] == models["audio_dit"]


def test_long_rows_run_through_the_long_form_twin(servers, datas, tmp_path):
    """--long: the shipped A2V row's 4.5 s speech is four tiny (17-frame) windows; the mp4 lasts
    exactly as long as the speech."""
    options = Options(servers=[servers[0].base_url], reconnect_delay=0.5, down_timeout=120, long=True)
    batch = Batch(SAMPLES / "batch_task2.csv", 2, Settings(SETTINGS), tmp_path / "long", options,
                  inputs_dir=datas, prompt_hook=make_tiny, show_progress=False)
    summary = asyncio.run(batch.run())
    assert summary["failed"] == 0 and summary["done"] == summary["rows"] == 1, summary["failures"]
    (result,) = summary["results"].values()
    check_mp4(Path(result["file"]), int(4.5 * 16), WIDTH, HEIGHT)
