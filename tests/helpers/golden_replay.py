"""Golden sampler runs, driven by manifest.json alone: task inputs, settings and noise of a run, a
forward that replays the recorded model calls (checking what the sampler passes), and a recorder
that logs the per-sample flags of any forward."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor

from uniavgen_core.model.joint import JointInputs, PassFlags
from uniavgen_core.sampler import Noise, SamplerSettings
from uniavgen_core.tasks import Task, TaskInputs


def sampler_run_names(golden: Path) -> list[str]:
    """Names of the manifest's sampler runs (empty when the golden folder is absent)."""
    manifest = golden / "manifest.json"
    return sorted(json.loads(manifest.read_text())["sampler"]) if manifest.is_file() else []


def flags_from_log(flags: dict) -> PassFlags:
    """The official call kwargs as PassFlags: `slg` is passed only when truthy and skips only when > 0."""
    slg = flags.get("slg", -1)
    return PassFlags(zero_con=bool(flags.get("zero_con", False)), no_a2v=bool(flags.get("no_a2v", False)),
                     no_v2a=bool(flags.get("no_v2a", False)), skip_layer=slg if slg and slg > 0 else -1)


@dataclass
class GoldenRun:
    name: str
    entry: dict                  # manifest["sampler"][name]
    tensors: dict[str, Tensor]   # the run's file
    inputs: dict[str, Tensor]    # inputs.safetensors

    @classmethod
    def load(cls, golden: Path, name: str) -> GoldenRun:
        manifest = json.loads((golden / "manifest.json").read_text())
        entry = manifest["sampler"][name]
        return cls(name, entry, load_file(golden / entry["file"]),
                   load_file(golden / manifest["inputs"]["file"]))

    @property
    def kwargs(self) -> dict:
        return self.entry["generate_kwargs_tensor_names"]

    @property
    def call_log(self) -> list[dict]:
        return self.entry["call_log"]

    def resolve(self, ref: str) -> Tensor | None:
        """'inputs:x' -> tensor, '[inputs:x]' -> tensor (list of one), '[None]' -> None."""
        ref = ref.removeprefix("[").removesuffix("]")
        if ref == "None":
            return None
        source, _, key = ref.partition(":")
        assert source == "inputs", f"unexpected tensor reference {ref!r}"
        return self.inputs[key]

    def text(self, negative: bool) -> tuple[Tensor, int, Tensor]:
        """(ids [L], length, t5 [L_t5, 4096]) of the cond or null pass."""
        prefix = "negative_" if negative else ""
        ids = self.resolve(self.kwargs[f"{prefix}text_embedding"])[0]
        lens = self.resolve(self.kwargs["neg_text_lens" if negative else "text_lens"])
        return ids, int(lens[0]), self.resolve(self.kwargs[f"{prefix}text_embedding_video"])[0]

    def mel(self, key: str) -> Tensor | None:
        mel = self.resolve(self.kwargs[key])
        return mel if mel is None or mel.ndim == 2 else mel[0]

    def task_inputs(self) -> TaskInputs:
        kw = self.kwargs
        ids, length, t5 = self.text(negative=False)
        neg_ids, neg_length, neg_t5 = self.text(negative=True)
        same_cond = kw["cond_video_embedding"] == kw["ref_image_embedding"]
        return TaskInputs(
            task=Task(kw["task"]), speech_ids=ids, speech_len=length, neg_speech_ids=neg_ids,
            neg_speech_len=neg_length, t5_context=t5, t5_negative=neg_t5,
            ref_latent=self.resolve(kw["ref_image_embedding"]),
            cond_latent=None if same_cond else self.resolve(kw["cond_video_embedding"]),
            ref_mel=self.mel("ref_audio_embedding"), cond_mel=self.mel("cond_audio_embedding"),
            latent_frames=kw["num_tokens_video"], mel_frames=kw["num_tokens_audio"],
        )

    @property
    def macfg_fraction(self) -> float:
        """The official macfg_prop as the pack's fraction: the official signature's default 1e4 means
        every step (int(prop * steps) >= steps), which the pack writes as 1.0."""
        return min(float(self.entry["params"]["macfg_prop"]), 1.0)

    def settings(self, *, batched_cfg: bool = False) -> SamplerSettings:
        p = self.entry["params"]
        return SamplerSettings(steps=p["sampling_steps"], shift=p["shift"], video_cfg=p["video_guide_scale"],
                               audio_cfg=p["audio_guide_scale"], macfg_fraction=self.macfg_fraction,
                               slg_layer=p["slg"], seed=p["seed"], batched_cfg=batched_cfg)

    def noise(self) -> Noise:
        return Noise(self.tensors["noise_video"], self.tensors["noise_audio"])

    def expected_flags(self) -> list[PassFlags]:
        return [flags_from_log(call["flags"]) for call in self.call_log]


@dataclass
class RecordingForward:
    """Wraps a forward and logs, per call, its batch size and the per-sample flags."""
    inner: object = None
    batch_sizes: list[int] = field(default_factory=list)
    flags: list[PassFlags] = field(default_factory=list)   # one entry per sample, in call order

    def record(self, video: Tensor, flags) -> list[PassFlags]:
        per_sample = [flags] * video.shape[0] if isinstance(flags, PassFlags) else list(flags)
        assert len(per_sample) == video.shape[0], "one PassFlags per batch sample"
        self.batch_sizes.append(video.shape[0])
        self.flags += per_sample
        return per_sample

    def __call__(self, video_dit, audio_dit, video, audio, t, inputs: JointInputs, flags):
        self.record(video, flags)
        return self.inner(video_dit, audio_dit, video, audio, t, inputs, flags)


class ReplayForward(RecordingForward):
    """Checks each sample's inputs against golden call i and returns golden outputs of call i."""

    def __init__(self, run: GoldenRun, atol: float = 1e-5):
        super().__init__()
        self.run, self.atol = run, atol

    def __call__(self, video_dit, audio_dit, video, audio, t, inputs: JointInputs, flags):
        per_sample = self.record(video, flags)
        outs_v, outs_a = [], []
        for b, sample_flags in enumerate(per_sample):
            i = len(self.flags) - len(per_sample) + b
            assert i < len(self.run.call_log), f"{self.run.name}: more model calls than the golden {i}"
            self._check(i, b, video, audio, t, inputs, sample_flags)
            outs_v.append(self.run.tensors[f"call{i:02d}.out_video"][None])
            outs_a.append(self.run.tensors[f"call{i:02d}.out_audio"])
        return torch.cat(outs_v), torch.cat(outs_a)

    def _close(self, what: str, got: Tensor, want: Tensor, i: int) -> None:
        assert got.shape == want.shape, f"call {i} {what}: shape {list(got.shape)} != {list(want.shape)}"
        err = (got.float() - want.float()).abs().max().item() if got.numel() else 0.0
        assert err <= self.atol, f"call {i} {what}: max abs error {err:.3g} > {self.atol}"

    def _check(self, i: int, b: int, video, audio, t, inputs: JointInputs, flags: PassFlags) -> None:
        log, run = self.run.call_log[i], self.run
        assert flags == flags_from_log(log["flags"]), f"call {i}: flags {flags} != golden {log['flags']}"
        assert (inputs.video_cond, inputs.audio_cond) == (log["video_cond"], log["audio_cond"]), \
            f"call {i}: video_cond/audio_cond {inputs.video_cond}/{inputs.audio_cond}"
        assert abs(float(t[b]) - log["t"]) <= 1e-4, f"call {i}: t {float(t[b])} != {log['t']}"
        self._close("video latent", video[b], run.tensors[f"call{i:02d}.in_video"][0], i)
        self._close("audio latent", audio[b], run.tensors[f"call{i:02d}.in_audio"], i)
        ids, length, t5 = run.text(negative=log["context"] == "null")
        row = inputs.text_ids[b]
        assert torch.equal(row[:ids.numel()], ids) and bool((row[ids.numel():] == -1).all()), \
            f"call {i}: text ids differ from the golden {log['context']} ids"
        assert int(inputs.text_lens[b]) == length, f"call {i}: text length {int(inputs.text_lens[b])}"
        self._close("t5 context", inputs.t5_context[b], t5, i)
        self._close("ref latent", inputs.ref_latent[b], run.resolve(run.kwargs["ref_image_embedding"])[0], i)
        self._close("cond latent", inputs.cond_latent[b],
                    run.resolve(run.kwargs["cond_video_embedding"])[0], i)
        for name, key in (("ref_mel", "ref_audio_embedding"), ("cond_mel", "cond_audio_embedding")):
            want, got = run.mel(key), getattr(inputs, name)
            assert (got is None) == (want is None), f"call {i}: {name} presence differs from the golden"
            if want is not None:
                self._close(name, got[b], want, i)
