"""What an API client sees: progress over /ws, /interrupt, and bad prompts answered clearly."""

from __future__ import annotations

import json
import uuid

import websocket

from uniavgen_tools.dev.tiny_workflows import SAMPLER_ID, tiny_prompt


class Socket:
    """A /ws client that queues its own prompts and reads the messages about them."""

    def __init__(self, server) -> None:
        self.server, self.client_id = server, uuid.uuid4().hex
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws?clientId={self.client_id}",
                                              timeout=120)

    def queue(self, prompt: dict) -> str:
        status, body = self.server.queue_prompt(prompt, client_id=self.client_id)
        assert status == 200, body
        return body["prompt_id"]

    def messages(self, prompt_id: str, on_message=None) -> list[dict]:
        """Messages until the prompt ends (success, error or interrupt)."""
        seen = []
        while True:
            raw = self.ws.recv()
            if not isinstance(raw, str):
                continue  # binary preview frames
            message = json.loads(raw)
            data = message.get("data", {})
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            seen.append(message)
            if on_message is not None:
                on_message(message)
            if message["type"] in ("execution_success", "execution_error", "execution_interrupted"):
                return seen

    def close(self) -> None:
        self.ws.close()


def sampler_progress(seen: list[dict]) -> list[dict]:
    return [m["data"] for m in seen if m["type"] == "progress" and m["data"].get("node") == SAMPLER_ID]


def test_ws_reports_sampler_progress_every_step(server):
    ws = Socket(server)
    try:
        prompt_id = ws.queue(tiny_prompt("uniavgen_avg", steps=4, seed=101))
        seen = ws.messages(prompt_id)
    finally:
        ws.close()
    assert seen[-1]["type"] == "execution_success", seen[-1]
    reported = [(p["value"], p["max"]) for p in sampler_progress(seen)]
    every_step = [(1, 4), (2, 4), (3, 4), (4, 4)]
    if server.throttles_progress:  # the host drops steps sent within 100 ms of the last, never the ends
        assert reported[0] == every_step[0] and reported[-1] == every_step[-1], reported
        assert set(reported) <= set(every_step) and reported == sorted(set(reported)), reported
    else:
        assert reported == every_step


def test_interrupt_during_sampling_then_the_next_prompt_succeeds(server):
    ws = Socket(server)

    def interrupt_on_first_step(message: dict) -> None:
        if message["type"] == "progress" and message["data"].get("node") == SAMPLER_ID:
            if message["data"]["value"] == 1:
                server.post_json("/interrupt", {})

    try:
        prompt_id = ws.queue(tiny_prompt("uniavgen_avg", steps=40, seed=102))
        seen = ws.messages(prompt_id, interrupt_on_first_step)
    finally:
        ws.close()
    assert seen[-1]["type"] == "execution_interrupted", seen[-1]
    assert seen[-1]["data"]["node_id"] == SAMPLER_ID
    assert max(p["value"] for p in sampler_progress(seen)) < 40
    entry = server.run_prompt(tiny_prompt("uniavgen_avg", seed=103), timeout=300)
    assert entry["status"]["status_str"] == "success"


def _error_of(server, prompt: dict) -> str:
    entry = server.run_prompt(prompt, timeout=300)
    assert entry["status"]["status_str"] == "error"
    errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert errors, entry["status"]
    return f"{errors[0]['node_type']}: {errors[0]['exception_message']}"


def test_condition_audio_longer_than_the_clip_fails_clearly(server):
    prompt = tiny_prompt("uniavgen_a2v")
    loader = next(n for n in prompt.values() if n["class_type"] == "LoadAudio")
    loader["inputs"]["audio"] = "uniavgen_speech.wav"  # 4.5 s for a 1.06 s tiny clip
    message = _error_of(server, prompt)
    assert "UniAVGen Sampler" in message and "condition" in message, message
    assert server.run_prompt(tiny_prompt("uniavgen_avg", seed=104))["status"]["status_str"] == "success"


def test_missing_reference_image_fails_clearly(server):
    prompt = tiny_prompt("uniavgen_avg")
    del prompt[SAMPLER_ID]["inputs"]["reference_image"]
    message = _error_of(server, prompt)
    assert "UniAVGen Sampler: 'reference_image' is not connected" in message, message


def test_bad_widget_value_is_refused_with_a_400(server):
    prompt = tiny_prompt("uniavgen_avg")
    prompt[SAMPLER_ID]["inputs"]["macfg_fraction"] = 1.5
    status, body = server.queue_prompt(prompt)
    assert status == 400, body
    errors = body["node_errors"][SAMPLER_ID]["errors"]
    assert any("macfg_fraction" in e["details"] or "macfg_fraction" in e["message"] for e in errors), errors
