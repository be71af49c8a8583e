"""The golden checkpoint (official sharded layout) loads strictly, whole or as two single-file halves."""

from __future__ import annotations

import json
import shutil

import torch
from safetensors.torch import load_file, save_file

from helpers.golden_cases import collect_forward_cases, forward_case, manifest, max_abs, run
from uniavgen_core.checkpoint import is_audio_key, load_audio_dit, load_uniavgen, load_video_dit
from uniavgen_core.config import infer_audio_config, infer_video_config
from uniavgen_core.safetensors_io import read_header


def _checkpoint(golden):
    spec = manifest(golden)["checkpoint"]
    return golden / spec["dir"], spec


def test_golden_checkpoint_loads_strictly(golden):
    folder, spec = _checkpoint(golden)
    video = load_video_dit(folder / spec["index"])
    audio = load_audio_dit(folder)
    keys = set(video.state_dict()) | set(audio.state_dict())
    index = json.loads((folder / spec["index"]).read_text())["weight_map"]
    assert keys == set(index) and not set(video.state_dict()) & set(audio.state_dict())
    assert not any(is_audio_key(k) for k in video.state_dict())
    tiny = manifest(golden)["tiny_config"]
    assert (video.config.dim, video.config.num_heads, video.config.ffn_dim) == (
        tiny["dim"], tiny["num_heads"], tiny["ffn_dim"])
    assert (audio.config.dim, audio.config.num_heads, audio.config.ffn_dim) == (
        tiny["audio_dim"], tiny["audio_num_heads"], tiny["audio_ffn_dim"])
    assert video.config.num_layers == audio.config.num_layers == tiny["num_layers"]
    assert str(next(video.parameters()).dtype).removeprefix("torch.") == spec["dtype"]
    assert not next(video.parameters()).requires_grad


def test_loaded_tensors_equal_the_shards(golden, golden_models):
    folder, spec = _checkpoint(golden)
    state = {}
    for name in spec["files"]:
        state.update(load_file(str(folder / name)))
    ours = {**golden_models[0].state_dict(), **golden_models[1].state_dict()}
    assert set(ours) == set(state)
    assert all(torch.equal(ours[k], state[k]) for k in state)


def test_single_file_halves_equal_the_sharded_load(golden, golden_models, tmp_path):
    folder, _ = _checkpoint(golden)
    video, audio = golden_models
    save_file({k: v.contiguous() for k, v in video.state_dict().items()}, str(tmp_path / "video.safetensors"))
    save_file({k: v.contiguous() for k, v in audio.state_dict().items()}, str(tmp_path / "audio.safetensors"))
    shutil.copy(folder / "config.json", tmp_path / "config.json")   # the tiny head counts
    video2 = load_video_dit(tmp_path / "video.safetensors")
    audio2 = load_audio_dit(tmp_path / "audio.safetensors")
    assert video2.config == video.config and audio2.config == audio.config
    for a, b in ((video, video2), (audio, audio2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert set(sa) == set(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)
    task, case = collect_forward_cases()[0]
    g = forward_case(golden, task, case)
    for x, y in zip(run((video, audio), g), run((video2, audio2), g), strict=True):
        assert max_abs(x, y) == 0.0


def test_head_count_from_file_metadata(golden, golden_models, tmp_path):
    """Without config.json a single file can carry the official config in its metadata."""
    folder, _ = _checkpoint(golden)
    video = golden_models[0]
    path = tmp_path / "video.safetensors"
    save_file({k: v.contiguous() for k, v in video.state_dict().items()}, str(path),
              metadata={"config": (folder / "config.json").read_text()})
    assert load_video_dit(path).config == video.config


def test_config_inference_on_the_golden_shapes(golden):
    folder, spec = _checkpoint(golden)
    shapes = {}
    for name in spec["files"]:
        shapes.update({k: v.shape for k, v in read_header(folder / name)[0].items()})
    tiny = manifest(golden)["tiny_config"]
    vc = infer_video_config({k: v for k, v in shapes.items() if not is_audio_key(k)}, tiny["num_heads"])
    ac = infer_audio_config({k: v for k, v in shapes.items() if is_audio_key(k)}, tiny["audio_num_heads"])
    assert (vc.dim, vc.ffn_dim, vc.in_dim, vc.out_dim, vc.text_dim, vc.freq_dim, vc.patch_size) == (
        tiny["dim"], tiny["ffn_dim"], tiny["in_dim"], tiny["out_dim"], tiny["text_dim"], tiny["freq_dim"],
        tuple(tiny["patch_size"]))
    assert (ac.dim, ac.ffn_dim, ac.mel_dim) == (
        tiny["audio_dim"], tiny["audio_ffn_dim"], tiny["in_audio_dim"])


def test_load_uniavgen_in_bf16(golden):
    folder, _ = _checkpoint(golden)
    video, audio = load_uniavgen(folder, dtype=torch.bfloat16)
    assert {p.dtype for m in (video, audio) for p in m.parameters()} == {torch.bfloat16}
    assert video.compute_dtype == audio.compute_dtype == torch.bfloat16
    task, case = collect_forward_cases()[0]
    out_v, out_a = run((video, audio), forward_case(golden, task, case))
    assert out_v.dtype == out_a.dtype == torch.float32
    assert torch.isfinite(out_v).all() and torch.isfinite(out_a).all()
