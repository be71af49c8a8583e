"""Imports the official UniAVGen code from a folder the user fills, to time it beside ours on the CPU.

Nothing of the official code is in this repository. The folder holds three files of
MCG-NJU/Sora2-mini @ 6d9a41b, unchanged (checked by sha256 before anything is imported):

    git --git-dir MIRROR show 6d9a41b:wan/modules/model.py     > DIR/wan/modules/model.py
    git --git-dir MIRROR show 6d9a41b:wan/modules/attention.py > DIR/wan/modules/attention.py
    git --git-dir MIRROR show 6d9a41b:wan/infer.py             > DIR/wan/infer.py

(MIRROR: a clone of github.com/MCG-NJU/Sora2-mini; with a work tree, copy the files instead.)
They are imported the way the golden data was made (the golden manifest's patches P1-P3):
  P1  `wan` and `wan.modules` are empty packages whose __path__ points into DIR, so the packages'
      __init__ files (T5, VAE, CUDA lookups at import) never run;
  P2  `flash_attention` in the model module is replaced by `sdpa_flash_attention` below (float32
      SDPA, each sample's keys cut to k_lens, as flash-attn's varlen call does), since flash-attn
      needs CUDA and bfloat16;
  P3  `torch_gc` in infer.py is a no-op (torch.cuda.ipc_collect raises on a CPU build).
The two `diffusers` names model.py imports (`ModelMixin`, `ConfigMixin`, `register_to_config`)
get stand-ins while it is imported: `WanModel` is then a plain `nn.Module`. `einops`, which model.py
uses, must be installed (`pip install einops`). infer.py's tqdm progress bar is silenced.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uniavgen_core.config import OFFICIAL_INTERACTION_LAYERS, AudioDiTConfig, VideoDiTConfig
from uniavgen_core.model import PassFlags
from uniavgen_core.sampler import SamplerSettings
from uniavgen_core.tasks import Task, TaskInputs

log = logging.getLogger(__name__)

OFFICIAL_REPO = "MCG-NJU/Sora2-mini"
OFFICIAL_COMMIT = "6d9a41b"
# sha256 of the files at that commit (the golden manifest's reference.source_sha256)
SOURCE_SHA256 = {
    "wan/modules/model.py": "1270abb776cd8f2a300dbf46e0aff5050092ab40839100ad78d37d7f4854ee2a",
    "wan/modules/attention.py": "23fe7c6f6e4065242d95e5e188cb2d1a16bd283f05dca7e7e878977158fcfdbc",
    "wan/infer.py": "1bc1807f8cddc38b1e0f62a247cc13874d96147fefa93393791d500857bc439b",
}
# Module name of each file once imported (model.py imports `.attention` relatively).
MODULE_NAMES = {"wan/modules/attention.py": "wan.modules.attention",
                "wan/modules/model.py": "wan.modules.model", "wan/infer.py": "wan.infer"}
OFFICIAL_VOCAB = 2545    # model.py hard-codes TextEmbedding(text_num_embeds=2545, text_dim=512)


class OfficialSourceError(RuntimeError):
    """The folder does not hold the official files this benchmark was written against."""


def extract_commands(mirror: str = "MIRROR", folder: str = "DIR") -> list[str]:
    """The git lines that fill `folder` from a clone at `mirror` (for messages and --help)."""
    return [f"mkdir -p {folder}/wan/modules"] + [
        f"git --git-dir {mirror} show {OFFICIAL_COMMIT}:{name} > {folder}/{name}" for name in SOURCE_SHA256]


def check_sources(folder: Path) -> None:
    """Refuses a folder whose three files are missing or differ from the official commit's."""
    problems = []
    for name, expected in SOURCE_SHA256.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif (got := hashlib.sha256(path.read_bytes()).hexdigest()) != expected:
            problems.append(f"{name} has sha256 {got[:12]}..., not {expected[:12]}... (a changed file)")
    if problems:
        how = "\n  ".join(extract_commands(folder=str(folder)))
        raise OfficialSourceError(f"{folder} does not hold {OFFICIAL_REPO} @ {OFFICIAL_COMMIT} unchanged: "
                                  f"{'; '.join(problems)}. Extract the files from a clone:\n  {how}")


def sdpa_flash_attention(q: Tensor, k: Tensor, v: Tensor, q_lens: Tensor | None = None,
                         k_lens: Tensor | None = None, dropout_p: float = 0.0,
                         softmax_scale: float | None = None, q_scale: float | None = None,
                         causal: bool = False, window_size=(-1, -1),
                         deterministic: bool = False, dtype: torch.dtype = torch.bfloat16,
                         version: int | None = None) -> Tensor:
    """flash_attention's signature and result in float32 SDPA (patch P2). q [b, Lq, n, c], k/v [b, Lk, n, c].

    Sample i attends to its first k_lens[i] keys, as flash_attn_varlen_func with cu_seqlens_k does;
    the model never passes q_lens, dropout, causal masks or windows, so those are refused."""
    if q_lens is not None or dropout_p or causal or tuple(window_size) != (-1, -1) or q_scale is not None:
        raise NotImplementedError("the SDPA stand-in covers the model's calls only (k_lens, softmax_scale)")
    out_dtype, scale = q.dtype, softmax_scale or 1.0 / math.sqrt(q.shape[-1])
    q, k, v = (x.float().transpose(1, 2) for x in (q, k, v))   # b n L c
    lens = [k.shape[2]] * k.shape[0] if k_lens is None else [int(n) for n in k_lens]
    if all(n == k.shape[2] for n in lens):   # one call, as the varlen kernel makes one
        out = F.scaled_dot_product_attention(q, k, v, scale=scale)
    else:
        out = torch.cat([F.scaled_dot_product_attention(q[i:i + 1], k[i:i + 1, :, :n], v[i:i + 1, :, :n],
                                                         scale=scale) for i, n in enumerate(lens)])
    return out.transpose(1, 2).to(out_dtype)


def _diffusers_stand_ins() -> dict[str, types.ModuleType]:
    """Just the names model.py imports from diffusers: WanModel becomes a plain nn.Module."""
    config_utils = types.ModuleType("diffusers.configuration_utils")
    config_utils.ConfigMixin = type("ConfigMixin", (), {})
    config_utils.register_to_config = lambda init: init
    modeling_utils = types.ModuleType("diffusers.models.modeling_utils")
    modeling_utils.ModelMixin = nn.Module
    packages = {name: types.ModuleType(name) for name in ("diffusers", "diffusers.models")}
    return {**packages, config_utils.__name__: config_utils, modeling_utils.__name__: modeling_utils}


def _package(name: str, path: Path) -> types.ModuleType:
    """An empty package whose submodules are found in `path` (its __init__.py is not run: P1)."""
    module = types.ModuleType(name)
    module.__path__ = [str(path)]
    return module


def _silent_tqdm(iterable, **_):
    return iterable


def load_official(folder: str | Path) -> tuple[types.ModuleType, types.ModuleType]:
    """(wan.modules.model, wan.infer) imported from `folder` with the patches P1-P3.

    The `wan` and `diffusers` entries are in sys.modules only while the files are imported."""
    folder = Path(folder).resolve()
    check_sources(folder)
    if importlib.util.find_spec("einops") is None:
        raise OfficialSourceError("the official model.py imports einops: pip install einops")
    temporary = {"wan": _package("wan", folder / "wan"),
                 "wan.modules": _package("wan.modules", folder / "wan" / "modules"), **_diffusers_stand_ins()}
    saved = {name: sys.modules.get(name) for name in [*temporary, *MODULE_NAMES.values()]}
    sys.modules.update(temporary)
    try:
        loaded = {}
        for file, name in MODULE_NAMES.items():
            spec = importlib.util.spec_from_file_location(name, folder / file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            loaded[file] = module
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    model, infer = loaded["wan/modules/model.py"], loaded["wan/infer.py"]
    model.flash_attention = sdpa_flash_attention   # P2
    infer.torch_gc = lambda: None                   # P3
    infer.tqdm = _silent_tqdm
    log.info("official code imported from %s (%s @ %s)", folder, OFFICIAL_REPO, OFFICIAL_COMMIT)
    return model, infer


def official_kwargs(video: VideoDiTConfig, audio: AudioDiTConfig) -> dict:
    """WanModel's constructor arguments for our two configs; refuses what WanModel cannot express."""
    fixed = {"interaction layers": (video.interaction_layers == audio.interaction_layers
                                    == OFFICIAL_INTERACTION_LAYERS),
             f"vocab_size {OFFICIAL_VOCAB}": audio.vocab_size == OFFICIAL_VOCAB,
             "text width 512": audio.text_width == 512,
             "equal layer counts": video.num_layers == audio.num_layers,
             "equal frequency widths": video.freq_dim == audio.freq_dim}
    if not all(fixed.values()):
        differ = [k for k, ok in fixed.items() if not ok]
        raise ValueError(f"WanModel hard-codes {differ}; these configs differ")
    return dict(model_type="ti2v", patch_size=video.patch_size, text_len=video.text_len, in_dim=video.in_dim,
                in_audio_dim=audio.mel_dim, dim=video.dim, ffn_dim=video.ffn_dim, audio_dim=audio.dim,
                audio_ffn_dim=audio.ffn_dim, freq_dim=video.freq_dim, text_dim=video.text_dim,
                out_dim=video.out_dim, out_dim_audio=audio.mel_dim, num_heads=video.num_heads,
                audio_num_heads=audio.num_heads, num_layers=video.num_layers, eps=video.eps)


def build_official(model_module: types.ModuleType, video: VideoDiTConfig, audio: AudioDiTConfig,
                   state: dict[str, Tensor]) -> nn.Module:
    """WanModel of our configs with `state` (official key names) loaded strictly, in eval mode."""
    model = model_module.WanModel(**official_kwargs(video, audio))
    model.load_state_dict(state, strict=True)
    return model.float().eval().requires_grad_(False)


def checkpoint_state(path: Path) -> dict[str, Tensor]:
    """Every tensor of one safetensors file, or of all the shards in a folder."""
    from safetensors.torch import load_file

    files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"no .safetensors file in {path}")
    return {k: v for f in files for k, v in load_file(str(f)).items()}


def context_list(inputs: TaskInputs, *, negative: bool = False) -> tuple[list, Tensor]:
    """(context_list, seq_len) of WanModel.forward for one pass of `inputs`, as generate() builds them."""
    joint = inputs.joint_inputs(negative=negative)
    return [joint.text_ids, [inputs.ref_mel], [inputs.cond_mel], inputs.ref_latent, inputs.condition_latent,
            joint.t5_context], joint.text_lens


def official_forward(model: nn.Module, video: Tensor, audio: Tensor, t: Tensor, inputs: TaskInputs,
                     flags: PassFlags, *, negative: bool = False) -> tuple[Tensor, Tensor]:
    """One WanModel call on a batch of one, shaped as joint_forward returns: [1,48,F+1,H,W], [1,T_a,80]."""
    context, seq_len = context_list(inputs, negative=negative)
    out_v, out_a = model(video, [audio[0]], t=t, context_list=context, seq_len=seq_len,
                         video_cond=inputs.video_cond, audio_cond=inputs.audio_cond, zero_con=flags.zero_con,
                         no_a2v=flags.no_a2v, no_v2a=flags.no_v2a, slg=flags.skip_layer)
    return out_v[0][None], out_a[0]


def generate_kwargs(inputs: TaskInputs, settings: SamplerSettings) -> dict:
    """UniAVGenPipeline.generate's arguments for the run our sampler makes of `inputs` with `settings`."""
    if inputs.task not in (Task.AVG, Task.RAVG, Task.A2V, Task.V2A):
        raise ValueError(f"task {inputs.task.name} is not in the release (ids 0-3)")
    (text, *_, caption), text_lens = context_list(inputs)
    (neg_text, *_, neg_caption), neg_lens = context_list(inputs, negative=True)
    _, _, _, height, width = inputs.video_shape
    patch = 16   # generate() divides the pixel size by the VAE's 16
    return dict(text_embedding_video=caption, negative_text_embedding_video=neg_caption,
                ref_image_embedding=inputs.ref_latent, cond_video_embedding=inputs.condition_latent,
                text_embedding=text, negative_text_embedding=neg_text, ref_audio_embedding=[inputs.ref_mel],
                cond_audio_embedding=[inputs.cond_mel], num_tokens_audio=inputs.mel_frames,
                num_tokens_video=inputs.latent_frames, height=height * patch, width=width * patch,
                text_lens=text_lens, neg_text_lens=neg_lens, shift=settings.shift,
                sampling_steps=settings.steps, video_guide_scale=settings.video_cfg,
                audio_guide_scale=settings.audio_cfg, seed=settings.seed, video_cond=inputs.video_cond,
                audio_cond=inputs.audio_cond, macfg_prop=settings.macfg_fraction, slg=settings.slg_layer,
                task=int(inputs.task))


def forward_rel_err(official: nn.Module, video_dit, audio_dit, inputs: TaskInputs, settings: SamplerSettings,
                    *, timestep: float = 937.5, seed: int = 0) -> float:
    """Largest relative error (max |official - ours| / max |official|, video and audio) of one forward
    of each pass the sampler makes: conditional, null with MA-CFG + SLG, null with SLG only."""
    from uniavgen_core.model import joint_forward

    g = torch.Generator().manual_seed(seed)
    video, audio = torch.randn(inputs.video_shape, generator=g), torch.randn(inputs.audio_shape, generator=g)
    t = torch.tensor([timestep])
    spec, worst = inputs.spec, 0.0
    passes = [(spec.cond_flags, False),
              (spec.null_pass_flags(zero_con=True, skip_layer=settings.skip_layer), True),
              (spec.null_pass_flags(zero_con=False, skip_layer=settings.skip_layer), True)]
    with torch.inference_mode():
        for flags, negative in passes:
            theirs = official_forward(official, video, audio, t, inputs, flags, negative=negative)
            joint = inputs.joint_inputs(negative=negative)
            ours = joint_forward(video_dit, audio_dit, video, audio, t, joint, flags)
            for a, b in zip(ours, theirs, strict=True):
                worst = max(worst, float((a - b).abs().max() / b.abs().max()))
    return worst
