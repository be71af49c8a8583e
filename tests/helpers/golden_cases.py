"""Golden forward cases, built from manifest.json alone (no tensor or case names hard-coded)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from safetensors.torch import load_file

from helpers.paths import golden_dir
from uniavgen_core.model import JointInputs, PassFlags, joint_forward


@cache
def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


@cache
def tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def collect_forward_cases() -> list[tuple[str, str]]:
    """(task, case) pairs for parametrisation; empty when the golden folder is absent."""
    folder = golden_dir()
    if not (folder / "manifest.json").is_file():
        return []
    return [(task, case) for task, spec in manifest(folder)["forward"].items() for case in spec["cases"]]


def forward_tolerance(folder: Path) -> float:
    """The manifest's suggested forward tolerance: max(1e-4, 50x the forward noise floor)."""
    return max(1e-4, 50 * manifest(folder)["noise_floor"]["forward_worst"]["max_abs"])


@dataclass
class GoldenCase:
    video: torch.Tensor
    audio: torch.Tensor
    t: torch.Tensor
    inputs: JointInputs
    flags: PassFlags
    out_video: torch.Tensor   # [1, 48, F+1, H, W]
    out_audio: torch.Tensor   # [1, T_a, 80]


def _resolve(folder: Path, ref: str):
    """'inputs:name' -> tensor, '[inputs:name]' -> the tensor (one-sample list), '[None]' -> None."""
    if ref == "[None]":
        return None
    name = ref.strip("[]")
    source, key = name.split(":")
    return tensors(folder / manifest(folder)[source]["file"])[key]


def flags_of(spec: dict) -> PassFlags:
    f = spec["flags"]
    return PassFlags(zero_con=bool(f.get("zero_con", False)), no_a2v=bool(f.get("no_a2v", False)),
                     no_v2a=bool(f.get("no_v2a", False)), skip_layer=int(f.get("slg", -1)))


def forward_case(folder: Path, task: str, case: str) -> GoldenCase:
    spec = manifest(folder)["forward"][task]
    c = spec["cases"][case]
    args, ctx = c["args"], c["args"]["context_list"]
    audio = _resolve(folder, args["audio"])          # one sample [T, 80] (passed as a list upstream)
    cond_mel = _resolve(folder, ctx[2])              # list of one [T_c, 80] upstream
    t5 = _resolve(folder, ctx[5])
    inputs = JointInputs(
        text_ids=_resolve(folder, ctx[0]), text_lens=_resolve(folder, args["seq_len"]),
        t5_context=list(t5), ref_latent=_resolve(folder, ctx[3]), cond_latent=_resolve(folder, ctx[4]),
        ref_mel=_resolve(folder, ctx[1]), cond_mel=None if cond_mel is None else cond_mel[None],
        video_cond=int(c["video_cond"]), audio_cond=int(c["audio_cond"]),
    )
    out = tensors(folder / spec["file"])
    return GoldenCase(
        video=_resolve(folder, args["video"]), audio=audio[None], t=_resolve(folder, args["t"]),
        inputs=inputs, flags=flags_of(c),
        out_video=out[f"{case}.out_video"][None], out_audio=out[f"{case}.out_audio"],
    )


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (tuple(a.shape), tuple(b.shape))
    return (a.double() - b.double()).abs().max().item()


@torch.no_grad()
def run(models, case: GoldenCase, flags: PassFlags | None = None):
    video_dit, audio_dit = models
    return joint_forward(video_dit, audio_dit, case.video, case.audio, case.t, case.inputs,
                         case.flags if flags is None else flags)
