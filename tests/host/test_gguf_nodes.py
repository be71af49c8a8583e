"""GGUF DiTs through the loader nodes on the real ComfyUI: written by the converter, kept quantised,
dequantised per layer; partial loading, LoRA patches after dequantisation, K-quants, clear errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import gguf
import pytest
import torch

from helpers import tiny
from helpers.node_runner import run
from uniavgen_tools.dev.random_inputs import random_joint_sample
from uniavgen_tools.dev.tiny_models import tiny_checkpoint
from uniavgen_core.checkpoint import is_audio_key, load_audio_dit, load_video_dit, open_checkpoint
from uniavgen_core.convert import convert
from uniavgen_core.gguf_write import GGUFTensor, encode, write_gguf
from uniavgen_core.model import PassFlags, joint_forward
from uniavgen_core.model.ops import no_init_ops
from uniavgen_core.safetensors_io import read_tensor


VIDEO_NODE, AUDIO_NODE = "UniAVGenLoadVideoDiT", "UniAVGenLoadAudioDiT"
# the type error each file may add to one joint forward of the tiny model (relative L2, both outputs)
TYPE_ERROR = {"Q8_0": 0.01, "BF16": 0.005}


@pytest.fixture(scope="module")
def models_dir(pack, tmp_path_factory):
    """A diffusion_models folder: the tiny float checkpoint and its GGUF conversions (Q8_0, BF16)."""
    import folder_paths

    root = tmp_path_factory.mktemp("gguf_models") / "diffusion_models"
    source = root / "tiny_float"
    tiny.save_checkpoint(source, *tiny.models(seed=0))
    (source / "vocab.txt").write_text("\n".join(f"t{i}" for i in range(tiny.AUDIO.vocab_size)) + "\n")
    for qtype in TYPE_ERROR:
        convert(source, root / "gguf", gguf=qtype)
    folder_paths.add_model_folder_path("diffusion_models", str(root))
    return root


def _load(video: str, audio: str, weight_dtype: str = "default"):
    return (run(VIDEO_NODE, dit_name=video, weight_dtype=weight_dtype)[0],
            run(AUDIO_NODE, dit_name=audio, weight_dtype=weight_dtype)[0])


def _gguf(qtype: str) -> tuple[str, str]:
    return f"gguf/uniavgen_video_{qtype}.gguf", f"gguf/uniavgen_audio_{qtype}.gguf"


def _forward(video, audio, sample) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode():
        return joint_forward(video, audio, *sample, PassFlags())


def _rel(out, ref) -> list[float]:
    return [float((o.float() - r.float()).norm() / r.float().norm()) for o, r in zip(out, ref, strict=True)]


def _expanded(path, half: str, held: torch.dtype = torch.float32):
    """The file's weights dequantised once while loading, float tensors held in `held` as the loader
    node holds them, then all in fp32 (exact) on torch.nn layers computing in fp32."""
    loader = load_video_dit if half == "video" else load_audio_dit
    model = loader(path, operations=no_init_ops, dtype=held).float()
    model.compute_dtype = torch.float32
    return model


def test_loaders_list_gguf_files_in_diffusion_models_and_unet(models_dir, tmp_path):
    import folder_paths
    import nodes

    unet = tmp_path / "unet"
    unet.mkdir()
    shutil.copy(models_dir / "gguf" / "uniavgen_video_Q8_0.gguf", unet / "in_unet.gguf")
    folder_paths.add_model_folder_path("unet", str(unet))   # the legacy name ComfyUI-GGUF users keep
    assert any(p.endswith("unet") for p in folder_paths.get_folder_paths("diffusion_models"))
    for node in (VIDEO_NODE, AUDIO_NODE):
        options = nodes.NODE_CLASS_MAPPINGS[node].define_schema().inputs[0].options
        assert {*_gguf("Q8_0"), *_gguf("BF16"), "in_unet.gguf"} <= set(options)
    video = run(VIDEO_NODE, dit_name="in_unet.gguf", weight_dtype="default")[0]
    assert type(video.model).__name__ == "VideoDiT"


@pytest.mark.parametrize("qtype", list(TYPE_ERROR))
def test_gguf_dits_from_the_loaders_match_the_float_model_within_the_type_error(models_dir, qtype):
    float_models = _load("tiny_float/model.safetensors", "tiny_float/model.safetensors")
    patchers = _load(*_gguf(qtype))
    video, audio = (p.model for p in patchers)
    assert len(audio.vocabulary) == tiny.AUDIO.vocab_size   # from the GGUF metadata
    quantised = [m for m in video.modules() if getattr(m, "quant_type", None)]
    if qtype == "Q8_0":
        assert len(quantised) > 20 and all(m.weight.dtype == torch.uint8 for m in quantised)
        # the memory manager sees the blocks: the quantised layers take 34/128 of their fp32 bytes
        q_bytes = sum(m.weight.numel() for m in quantised)
        assert q_bytes == sum(np.prod(m.quant_shape) for m in quantised) * 34 // 32
    else:
        assert not quantised and {p.dtype for p in video.parameters()} <= {torch.bfloat16, torch.float32}
    for patcher, path in zip(patchers, _gguf(qtype), strict=True):
        table = open_checkpoint(models_dir / path).tensors
        in_file = sum(i.nbytes for k, i in table.items() if is_audio_key(k) == ("audio" in path))
        # Q8_0: blocks and F32 tensors held as stored; BF16: its few small F32 tensors become bf16
        assert patcher.model_size() == in_file if qtype == "Q8_0" else patcher.model_size() < in_file
    assert video.compute_dtype == audio.compute_dtype == torch.float32   # what ComfyUI picks on the CPU
    sample = tiny.sample("AVG")
    out = _forward(video, audio, sample)
    ref = _forward(float_models[0].model, float_models[1].model, sample)
    (held,) = {p.dtype for p in video.parameters() if p.is_floating_point()}
    exact = _forward(_expanded(models_dir / _gguf(qtype)[0], "video", held),
                     _expanded(models_dir / _gguf(qtype)[1], "audio", held), sample)
    # dequantising per call gives what dequantising once at load gives, to float rounding
    assert max(_rel(out, exact)) < 1e-5
    errors = _rel(out, ref)
    print(f"{qtype}: relative error of one joint forward vs float (video, audio) = {errors}")
    assert 0 < max(errors) <= TYPE_ERROR[qtype]


def test_partial_loading_streams_the_quantised_blocks(models_dir):
    cpu = torch.device("cpu")
    patchers = _load(*_gguf("Q8_0"))
    sample = tiny.sample("RAVG", seed=2)
    models = [p.model for p in patchers]
    try:
        for p in patchers:
            p.patch_model(device_to=cpu)
        full = _forward(*models, sample)
        for p in patchers:
            p.unpatch_model(device_to=cpu)
            p.patch_model(device_to=cpu, lowvram_model_memory=p.model_size() // 3)
            assert p.model.model_lowvram and p.loaded_size() < p.model_size() // 2
        streamed = [m for p in patchers for m in p.model.modules()
                    if getattr(m, "comfy_cast_weights", False) and getattr(m, "quant_type", None)]
        assert len(streamed) > 10
        partial = _forward(*models, sample)
    finally:
        for p in patchers:
            p.unpatch_model(device_to=cpu)
    assert torch.equal(partial[0], full[0]) and torch.equal(partial[1], full[1])


@pytest.mark.parametrize("lowvram", [False, True])
def test_lora_patches_apply_after_dequantisation(models_dir, lowvram):
    import comfy.lora

    cpu = torch.device("cpu")
    video_p, audio_p = _load(*_gguf("Q8_0"))
    key = "blocks.1.self_attn.q.weight"
    layer = video_p.model.get_submodule(key.rsplit(".", 1)[0])
    assert layer.quant_type == "Q8_0"
    g = torch.Generator().manual_seed(5)
    up, down = torch.randn(32, 4, generator=g) * 0.3, torch.randn(4, 32, generator=g) * 0.3
    # ComfyUI's own LoRA loading: lora_up/lora_down pairs become LoRAAdapter patches
    patches = comfy.lora.load_lora({"lora.q.lora_up.weight": up, "lora.q.lora_down.weight": down},
                                   {"lora.q": key}, log_missing=False)
    assert video_p.add_patches(patches, 1.0) == [key]
    sample = tiny.sample("AVG", seed=3)
    video_path = models_dir / _gguf("Q8_0")[0]
    expanded_v, expanded_a = _expanded(video_path, "video"), _expanded(models_dir / _gguf("Q8_0")[1], "audio")
    plain = _forward(expanded_v, expanded_a, sample)
    with torch.no_grad():
        expanded_v.get_submodule(key.rsplit(".", 1)[0]).weight += up @ down
    expected = _forward(expanded_v, expanded_a, sample)
    try:
        video_p.patch_model(device_to=cpu, lowvram_model_memory=video_p.model_size() // 3 if lowvram else 0)
        assert layer.weight.dtype == torch.uint8   # the blocks were not rewritten
        patched = _forward(video_p.model, audio_p.model, sample)
    finally:
        video_p.unpatch_model(device_to=cpu)
    after = _forward(video_p.model, audio_p.model, sample)
    assert max(_rel(patched, expected)) < 1e-5 and max(_rel(expected, plain)) > 1e-3
    assert max(_rel(after, plain)) < 1e-5   # unpatching removes the LoRA again


def _k_quant_blocks(qtype: str, rows: int, cols: int, seed: int) -> np.ndarray:
    """Random blocks in the layout the gguf package reads, with small float16 scales (sane weights)."""
    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[qtype]]
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(rows * cols // block, size), dtype=np.uint8)
    scales = {"Q2_K": (80, 82), "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,)}[qtype]
    for at in scales:
        values = (rng.random(blocks.shape[0]) * 2e-3 + 1e-4).astype(np.float16)
        blocks[:, at:at + 2] = values.view(np.uint8).reshape(-1, 2)
    return blocks.reshape(rows, -1)


def test_a_k_quant_gguf_with_both_halves_loads_and_runs(pack, tmp_path):
    """The tiny checkpoint's 256-wide layers in Q2_K..Q6_K, the rest F32, both halves in one file."""
    import folder_paths

    source = open_checkpoint(tiny_checkpoint())
    k_types = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
    plan, picked = [], {}
    for key, info in source.tensors.items():
        k_able = len(info.shape) == 2 and info.shape[-1] % 256 == 0 and key.endswith(".weight")
        qtype = k_types[len(picked) % len(k_types)] if k_able else "F32"
        if k_able:
            picked[key] = qtype
        plan.append(GGUFTensor(key, info.shape, qtype))
    assert set(picked.values()) == set(k_types)

    def data(t: GGUFTensor) -> np.ndarray:
        if t.qtype == "F32":
            with open(source.tensors[t.name].path, "rb") as f:
                return encode(read_tensor(f, source.tensors[t.name]), "F32")
        return _k_quant_blocks(t.qtype, t.shape[0], t.shape[1], seed=len(t.name))

    folder = tmp_path / "diffusion_models" / "kquant"
    folder.mkdir(parents=True)
    write_gguf(folder / "uniavgen_kquant.gguf", plan, data, {"config": json.dumps(source.config)})
    (folder / "vocab.txt").symlink_to(tiny_checkpoint() / "vocab.txt")
    folder_paths.add_model_folder_path("diffusion_models", str(tmp_path / "diffusion_models"))
    video_p, audio_p = _load("kquant/uniavgen_kquant.gguf", "kquant/uniavgen_kquant.gguf")
    held = {m.quant_type for p in (video_p, audio_p) for m in p.model.modules()
            if getattr(m, "quant_type", None)}
    assert held == set(k_types)
    sample = random_joint_sample(latent=(2, 4, 6), vocab=audio_p.model.config.vocab_size, speech_tokens=12,
                                 caption_tokens=7, caption_width=video_p.model.config.text_dim,
                                 timestep=500.0, seed=0)
    out = _forward(video_p.model, audio_p.model, sample)
    path = folder / "uniavgen_kquant.gguf"
    exact = _forward(_expanded(path, "video"), _expanded(path, "audio"), sample)
    assert all(torch.isfinite(o).all() for o in out) and max(_rel(out, exact)) < 1e-5


def test_damaged_gguf_files_are_refused_naming_the_node_and_the_file(models_dir):
    good = (models_dir / "gguf" / "uniavgen_video_Q8_0.gguf").read_bytes()
    bad = models_dir / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "truncated.gguf").write_bytes(good[: len(good) // 2])
    (bad / "renamed.gguf").write_bytes((models_dir / "tiny_float" / "model.safetensors").read_bytes())
    for name, cause in (("truncated.gguf", "truncated or damaged"),
                        ("renamed.gguf", "is a safetensors file")):
        with pytest.raises(ValueError) as err:
            run(VIDEO_NODE, dit_name=f"bad/{name}", weight_dtype="default")
        message = str(err.value)
        assert message.startswith(f"UniAVGen Load Video DiT: 'dit_name' 'bad/{name}' cannot be loaded")
        assert str(bad / name) in message and cause in message


@pytest.mark.parametrize("weight_dtype", ["bf16", "fp8_e4m3fn"])
def test_weight_dtype_applies_to_the_float_tensors_of_a_gguf(models_dir, weight_dtype):
    video_p, audio_p = _load(*_gguf("Q8_0"), weight_dtype=weight_dtype)
    floats = {"bf16": torch.bfloat16, "fp8_e4m3fn": torch.float8_e4m3fn}[weight_dtype]
    for model in (video_p.model, audio_p.model):
        kinds = {p.dtype for p in model.parameters()}
        assert kinds == {torch.uint8, floats}   # blocks stay blocks, float tensors follow the input
    out = _forward(video_p.model, audio_p.model, tiny.sample("AVG"))
    assert all(torch.isfinite(o).all() for o in out)


def test_native_lora_on_a_gguf_model_applies_after_dequantisation(models_dir):
    """LoraLoaderModelOnly's own path (comfy.sd.load_lora_for_models) on the native MODEL of GGUF DiTs."""
    import comfy.sd

    cpu = torch.device("cpu")
    video_p, audio_p = _load(*_gguf("Q8_0"))
    model = run("UniAVGenModel", video_dit=video_p, audio_dit=audio_p)[0]
    key = "blocks.1.self_attn.q.weight"
    layer = video_p.model.get_submodule(key.rsplit(".", 1)[0])
    g = torch.Generator().manual_seed(6)
    up, down = torch.randn(32, 4, generator=g) * 0.3, torch.randn(4, 32, generator=g) * 0.3
    lora = {"diffusion_model.blocks.1.self_attn.q.lora_up.weight": up,
            "diffusion_model.blocks.1.self_attn.q.lora_down.weight": down}
    patched_model, _ = comfy.sd.load_lora_for_models(model, None, lora, 1.0, 0)
    sample = tiny.sample("AVG", seed=4)
    expanded_v = _expanded(models_dir / _gguf("Q8_0")[0], "video")
    expanded_a = _expanded(models_dir / _gguf("Q8_0")[1], "audio")
    with torch.no_grad():
        expanded_v.get_submodule(key.rsplit(".", 1)[0]).weight += up @ down
    expected = _forward(expanded_v, expanded_a, sample)
    try:
        patched_model.patch_model(device_to=cpu)
        assert layer.weight.dtype == torch.uint8   # the blocks were not rewritten
        joint = patched_model.model.diffusion_model
        got = _forward(joint.video, joint.audio, sample)
    finally:
        patched_model.unpatch_model(device_to=cpu)
    assert max(_rel(got, expected)) < 1e-5
