"""A long-running server stays healthy: interruptions, 30 prompts in a row, determinism, two clients.

RSS figures go to test_output/server_health.json (the numbers in the report).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time

import numpy as np
import pytest
import torch

from helpers import tiny_prompts as tp
from helpers.clips import as_yuv420
from helpers.server_watch import WsClient, rss_bytes, run_ok, saved_files

RSS_TOLERANCE = 0.05
INTERRUPT_STEPS = 3
INTERRUPT_FRAMES = 81
QUEUE_LENGTH = 30
FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def figures(test_output):
    yield FIGURES
    (test_output / "server_health.json").write_text(json.dumps(FIGURES, indent=2))


@pytest.fixture(scope="module")
def warm(rel_server):
    """Models loaded and every node run once, so RSS is measured at its working level."""
    run_ok(rel_server, tp.avg(seed=1, steps=INTERRUPT_STEPS, prefix="warm"))
    run_ok(rel_server, tp.avg(seed=2, steps=INTERRUPT_STEPS, prefix="warm"))
    return rel_server


def _mib(n: int) -> float:
    return round(n / 2**20, 1)


def _for_prompt(prompt_id: str, kind: str, **fields):
    def match(message: dict) -> bool:
        data = message.get("data", {})
        return (message.get("type") == kind and data.get("prompt_id") == prompt_id
                and all(data.get(k) == v for k, v in fields.items()))
    return match


def _slow_prompt(seed: int) -> dict:
    """Steps long enough (81 frames at short side 128) that /interrupt lands inside the next one."""
    prompt = tp.edit(tp.avg(seed=seed, steps=INTERRUPT_STEPS), "sampler", length=INTERRUPT_FRAMES)
    return tp.edit(prompt, "ref", short_side=128)


@pytest.mark.parametrize("at_step", [1, 2, INTERRUPT_STEPS], ids=["first", "middle", "last"])
def test_interrupt_then_next_prompt_runs_and_memory_returns(warm, at_step: int):
    server = warm
    before = rss_bytes(server)
    ws = WsClient(server)
    try:
        status, body = server.queue_prompt(_slow_prompt(100 + at_step), ws.client_id)
        assert status == 200, body
        prompt_id = body["prompt_id"]
        if at_step == 1:  # as soon as the sampler starts: step 1 is the first that can stop
            ws.wait_for(_for_prompt(prompt_id, "executing", node="sampler"))
        else:             # right after step at_step - 1 reported progress
            ws.wait_for(_for_prompt(prompt_id, "progress", node="sampler", value=at_step - 1))
        assert server.post_json("/interrupt", {})[0] == 200
        entry = server.wait_history(prompt_id, timeout=120)
        interrupted = ws.wait_for(_for_prompt(prompt_id, "execution_interrupted"), timeout=30)
        progress = [m for m in ws.of_type("progress")
                    if m["data"].get("prompt_id") == prompt_id and m["data"].get("node") == "sampler"]
        steps_done = [m["data"]["value"] for m in progress]
        last = progress[-1] if progress else interrupted
        stopped_after_s = interrupted["received_s"] - last["received_s"]
    finally:
        ws.close()
    assert entry["status"]["status_str"] == "error"
    assert interrupted["data"]["node_id"] == "sampler", interrupted
    assert max(steps_done, default=0) == at_step - 1, steps_done  # stopped in step at_step
    entry = run_ok(server, tp.avg(seed=200 + at_step, steps=INTERRUPT_STEPS, prefix="after_interrupt"))
    after = rss_bytes(server)
    FIGURES[f"interrupt_at_step_{at_step}"] = {"rss_before_mib": _mib(before),
                                              "rss_after_next_mib": _mib(after),
                                              "steps_done": max(steps_done, default=0),
                                              "s_last_progress_to_interrupted": round(stopped_after_s, 3)}
    assert abs(after - before) <= RSS_TOLERANCE * before, (_mib(before), _mib(after))


def test_thirty_prompts_in_a_row(warm):
    server = warm
    rss, files, times = [], [], []
    for i in range(QUEUE_LENGTH):
        start = time.monotonic()
        entry = run_ok(server, tp.avg(seed=1000 + i, prefix="queue/run"))
        times.append(time.monotonic() - start)
        files += saved_files(server, entry)
        rss.append(rss_bytes(server))
    FIGURES["queue"] = {"rss_after_3_mib": _mib(rss[2]), "rss_after_30_mib": _mib(rss[-1]),
                        "rss_max_mib": _mib(max(rss)), "prompt_s_median": round(float(np.median(times)), 3)}
    assert len(files) == QUEUE_LENGTH and len(set(files)) == QUEUE_LENGTH, files
    digests = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}  # all still there, none overwritten
    assert len(digests) == QUEUE_LENGTH
    assert abs(rss[-1] - rss[2]) <= RSS_TOLERANCE * rss[2], [_mib(r) for r in rss]


def _decode(path) -> tuple[np.ndarray, np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with av.open(str(path)) as container:
        audio = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=-1)
        rate = container.streams.audio[0].codec_context.sample_rate
    return frames, audio, rate


def _pngs(server, entry) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.open(p)) for p in saved_files(server, entry, node="png")])


def _clip(server, seed: int, name: str) -> dict:
    prompt = tp.avg(seed=seed, prefix=f"determinism_{name}")
    prompt["png"] = {"class_type": "SaveImage", "inputs": {"images": ["decode", 0],
                                                          "filename_prefix": f"determinism_{name}"}}
    entry = run_ok(server, prompt)
    frames, audio, rate = _decode(saved_files(server, entry)[0])
    return {"frames": frames, "audio": audio, "rate": rate, "png": _pngs(server, entry)}


def test_same_prompt_and_seed_give_identical_clips(warm):
    """Seed 4242, then 4243 (ComfyUI keeps one result per node, so 4242 runs again), then 4242.

    The clip is 96x64 from the tiny model: content on which ComfyUI's own Save Video (libx264 with its
    AVX-512 routines) gives different mp4 frames run to run on this machine; UniAVGen Save Video
    must not.
    """
    server = warm
    a, other, b = (_clip(server, seed, name) for seed, name in ((4242, "a"), (4243, "other"), (4242, "b")))
    assert a["frames"].shape == (17, 64, 96, 3) and a["png"].shape == (17, 64, 96, 3)
    assert a["audio"].size > 0 and np.abs(a["audio"]).max() > 0 and a["rate"] == b["rate"]
    assert np.array_equal(a["frames"], b["frames"])    # mp4 video frames decoded by PyAV
    assert np.array_equal(a["audio"], b["audio"])      # mp4 audio samples (AAC decoded by PyAV)
    assert np.array_equal(a["png"], b["png"])          # the frames before encoding, saved losslessly
    assert not np.array_equal(a["frames"], other["frames"])  # the seed matters: the check can fail
    # Against the PNG frames after 4:2:0 subsampling alone (the tiny model's frames are colour noise).
    subsampled = as_yuv420(torch.from_numpy(a["png"]).float() / 255)
    codec_error = float(np.abs(a["frames"].astype(int) - subsampled).mean())
    FIGURES["determinism"] = {"mp4_frames_identical": True, "mp4_audio_identical": True,
                              "png_identical": True, "mp4_vs_png_mean_abs": round(codec_error, 2)}
    assert codec_error < 12, codec_error  # the mp4 shows the generated frames, not other ones


def test_two_clients_queueing_at_once_get_their_own_results(warm):
    server = warm
    clients = {name: WsClient(server) for name in ("alice", "bob")}
    barrier, results = threading.Barrier(2), {}

    def submit(name: str, seed: int) -> None:
        barrier.wait()
        prompt = tp.avg(seed=seed, prefix=f"client_{name}")
        status, body = server.queue_prompt(prompt, clients[name].client_id)
        results[name] = (status, body)

    threads = [threading.Thread(target=submit, args=(name, 300 + i)) for i, name in enumerate(clients)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        ids = {name: body["prompt_id"] for name, (status, body) in results.items() if status == 200}
        assert len(ids) == 2, results
        outputs = {}
        for name, prompt_id in ids.items():
            entry = server.wait_history(prompt_id, timeout=300)
            assert entry["status"]["status_str"] == "success", entry["status"]
            (outputs[name],) = saved_files(server, entry)
            clients[name].wait_for(_for_prompt(prompt_id, "executed", node="save"))
    finally:
        for client in clients.values():
            client.close()
    for name, client in clients.items():
        assert outputs[name].name.startswith(f"client_{name}")
        seen = {m["data"].get("prompt_id") for m in client.messages if isinstance(m.get("data"), dict)}
        assert ids[name] in seen and not seen & (set(ids.values()) - {ids[name]}), (name, seen)
    assert outputs["alice"].read_bytes() != outputs["bob"].read_bytes()
