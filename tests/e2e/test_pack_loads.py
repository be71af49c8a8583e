"""The pack loads in a real ComfyUI server, its nodes are served, and a prompt runs."""

from __future__ import annotations

import re

from uniavgen_tools.dev.stand_ins import TEST_PACK_MODULE

PACK_MODULE = "custom_nodes.ComfyUI-UniAVGen"


def test_nodes_listed_with_pack_module(server):
    info = server.get_json("/object_info")
    # UniAVGenTest* are the test-only stand-ins (tests/host_pack): never from the product's module.
    stand_ins = {name: spec for name, spec in info.items() if name.startswith("UniAVGenTest")}
    assert all(spec["python_module"] == TEST_PACK_MODULE for spec in stand_ins.values()), stand_ins
    ours = {name: spec for name, spec in info.items()
            if name.startswith("UniAVGen") and name not in stand_ins}
    assert "UniAVGenInfo" in ours, sorted(info)[:20]
    for name, spec in ours.items():
        assert spec["python_module"] == PACK_MODULE, (name, spec["python_module"])


def test_server_log_clean(server):
    log = server.log()
    assert "IMPORT FAILED" not in log
    pack_tracebacks = [m for m in re.finditer(r"Traceback \(most recent call last\)", log)]
    assert not pack_tracebacks, log[-4000:]


def test_prompt_runs_to_success(server):
    entry = server.run_prompt({"1": {"class_type": "UniAVGenInfo", "inputs": {}}}, timeout=120)
    assert entry["status"]["status_str"] == "success", entry["status"]
    text = entry["outputs"]["1"]["text"][0]
    assert text.startswith("UniAVGen pack ") and "device cpu" in text, text
