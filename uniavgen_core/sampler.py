"""Flow-matching Euler sampler: shifted timesteps, per-modality CFG, MA-CFG, skip-layer guidance.

Follows the structure of UniAVGen `wan/infer.py` (`UniAVGenPipeline.generate`) in MCG-NJU/Sora2-mini,
Apache-2.0.
Shapes: video latents [1, 48, F, H, W] (normalised), audio [1, T_a, 80] (normalised log-mel);
model predictions are velocities (noise - x0), video ones with the reference frame first [.., F+1, ..].
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from .geometry import MEL_MEAN, MEL_STD
from .model.caption_cache import CaptionCache
from .model.joint import JointInputs, PassFlags, joint_forward
from .settings import SettingProblem, setting_problems
from .tasks import TaskInputs

log = logging.getLogger(__name__)

StepCallback = Callable[[int, int, Tensor, Tensor], None]
Forward = Callable[..., tuple[Tensor, Tensor]]


class SamplerError(ValueError):
    """Bad sampler settings or noise; the message names the value and the fix."""

    def __init__(self, message: str, problems: Sequence[SettingProblem] = ()):
        super().__init__(message)
        self.problems = tuple(problems)   # the broken setting rules, when settings were the cause


class NonFiniteError(SamplerError):
    """Sampling produced NaN/inf; the message names the cause found."""


# TaskInputs fields under the names of the sampler inputs that carry them
_CONDITIONING = {"t5_context": "positive", "t5_negative": "negative", "ref_latent": "reference_image",
                 "cond_latent": "condition_video", "ref_mel": "reference_voice",
                 "cond_mel": "condition_audio"}


def _bad_tensors(named: Iterable[tuple[str, Tensor]], limit: int = 3) -> tuple[int, list[str]]:
    count, names = 0, []
    for name, tensor in named:
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            count += 1
            if len(names) < limit:
                names.append(name)
    return count, names


def non_finite_cause(video_dit, audio_dit, inputs: TaskInputs) -> str:
    """Why sampling went non-finite: weights, conditioning inputs, or neither (overflow)."""
    for label, model in (("video DiT", video_dit), ("audio DiT", audio_dit)):
        params = model.named_parameters() if isinstance(model, torch.nn.Module) else ()
        count, names = _bad_tensors(params)
        if count:
            return (f"{count} weight tensors of the {label} hold NaN/inf (e.g. {', '.join(names)}); "
                    "the checkpoint is damaged: re-download it")
    fields = [(name, getattr(inputs, f)) for f, name in _CONDITIONING.items()]
    count, names = _bad_tensors((f, t) for f, t in fields if isinstance(t, Tensor))
    if count:
        return f"the conditioning holds NaN/inf ({', '.join(names)}); check the nodes that made it"
    return ("weights and inputs are finite, so the computation overflowed: use weight_dtype 'default' "
            "(fp8 and fp16 overflow more easily) or lower the guidance scales")


@dataclass(frozen=True)
class SamplerSettings:
    """Sampling parameters; the defaults are the official inference.yaml values."""
    steps: int = 50
    shift: float = 5.0            # timestep shift s: t' = s*u / (1 + (s-1)*u)
    video_cfg: float = 3.0        # guidance scale of the video prediction
    audio_cfg: float = 2.0        # guidance scale of the audio prediction
    macfg_fraction: float = 0.5   # MA-CFG: the null pass drops all interaction for int(fraction*steps) steps
    slg_layer: int = 11           # skip-layer guidance: layer skipped in the null pass; -1 or 0 disables
    seed: int = 2025
    batched_cfg: bool = False     # run cond + null as one batch-2 forward (same results, more memory)
    # Step caching (not in the release; 0 = off): reuse the last guided velocities while the latents
    # have moved less than this relative L1 distance since those were computed.
    cache_threshold: float = 0.0

    def __post_init__(self) -> None:
        # the rules live in settings.py, shared with the nodes
        problems = setting_problems(steps=self.steps, shift=self.shift, video_cfg=self.video_cfg,
                                    audio_cfg=self.audio_cfg, macfg_fraction=self.macfg_fraction,
                                    slg_layer=self.slg_layer, cache_threshold=self.cache_threshold,
                                    seed=self.seed)
        if problems:
            raise SamplerError("; ".join(map(str, problems)), problems)

    @property
    def macfg_steps(self) -> int:
        """Leading steps whose null pass sets zero_con (official `int(macfg_prop * steps)`)."""
        return int(self.macfg_fraction * self.steps)

    @property
    def skip_layer(self) -> int:
        return self.slg_layer if self.slg_layer > 0 else -1


class Noise(NamedTuple):
    video: Tensor   # [1, 48, F, H, W]
    audio: Tensor   # [1, T_a, 80]


@dataclass(frozen=True, eq=False)   # tensor fields: compare by identity
class SampleResult:
    video: Tensor          # [1, 48, F, H, W] final normalised latents (generate()'s return)
    audio: Tensor          # [1, T_a, 80] final normalised mel
    decode_video: Tensor   # video with the condition latents written over the first video_cond frames
    decode_audio: Tensor   # audio with the condition mel written over the first audio_cond frames

    def vocoder_mel(self) -> Tensor:
        """Natural-log mel the vocoder takes: [1, 80, T_a]."""
        return (self.decode_audio * MEL_STD + MEL_MEAN).permute(0, 2, 1)


def make_noise(seed: int, video_shape: tuple[int, ...], audio_shape: tuple[int, ...]) -> Noise:
    """Initial noise in the official order: video randn, then audio randn, from one generator.

    Drawn on the CPU in float32 so a seed gives the same noise on every device. The official run
    draws bf16 noise on CUDA, which no CPU run can reproduce; for the same seed this matches the
    official code run on CPU in float32 (the golden data).
    """
    generator = torch.Generator(device="cpu").manual_seed(seed)
    video = torch.randn(video_shape, generator=generator, dtype=torch.float32)
    audio = torch.randn(audio_shape, generator=generator, dtype=torch.float32)
    return Noise(video, audio)


def shifted_timesteps(steps: int, shift: float) -> Tensor:
    """[steps + 1] float32: linspace(1000, 1, steps) with 0 appended, each shifted by
    t' = 1000 * (s*u / (1 + (s-1)*u)), u = t/1000 (50 steps, shift 5: 1000, 995.855, ..., 4.980, 0)."""
    base = np.append(np.linspace(1000, 1, steps, dtype=np.float32), np.float32(0))
    u = torch.from_numpy(base) / 1000
    return 1000 * (shift * u / (1 + (shift - 1) * u))


def guide(cond: Tensor, uncond: Tensor, scale: float) -> Tensor:
    """Classifier-free guidance u + s*(c - u)."""
    return uncond + scale * (cond - uncond)


@torch.no_grad()
def sample(video_dit, audio_dit, inputs: TaskInputs, settings: SamplerSettings, *,
           noise: Noise | None = None, callback: StepCallback | None = None,
           forward: Forward = joint_forward) -> SampleResult:
    """Sample one clip. Latents live on the device of `inputs.ref_latent`, in float32.

    `forward(video_dit, audio_dit, video, audio, t, inputs: JointInputs, flags)` is the model call
    (injectable for tests and wrappers). `callback(step, total, video, audio)` runs after each Euler
    step with the new latents (step counts from 1; treat them as read-only); raising from it stops
    sampling, and since all state is local nothing is left behind.
    """
    device = inputs.ref_latent.device
    if noise is None:
        noise = make_noise(settings.seed, inputs.video_shape, inputs.audio_shape)
    video, audio = _checked_noise(noise, inputs)
    video = video.to(device=device, dtype=torch.float32)
    audio = audio.to(device=device, dtype=torch.float32)
    timesteps = shifted_timesteps(settings.steps, settings.shift).to(device)
    spec = inputs.spec
    # one caption cache for the run: its keys and values are computed on the first step only
    caption = CaptionCache()
    passes = tuple(replace(joint, caption_cache=caption, caption_key=i)
                   for i, joint in enumerate((inputs.joint_inputs(), inputs.joint_inputs(negative=True))))
    batch = (replace(JointInputs.cat(passes), caption_cache=caption, caption_key="batch")
             if settings.batched_cfg else None)
    log.info("UniAVGen %s: %d steps, shift %g, cfg video %g / audio %g, MA-CFG %d steps, SLG layer %d, "
             "%s CFG", inputs.task.name, settings.steps, settings.shift, settings.video_cfg,
             settings.audio_cfg, settings.macfg_steps, settings.skip_layer,
             "batched" if batch is not None else "sequential")

    cache: tuple[Tensor, Tensor, Tensor, Tensor] | None = None   # velocities and the latents they saw
    for i in range(settings.steps):
        if _reuse(cache, video, audio, i, settings):
            vel_v, vel_a = cache[0], cache[1]
        else:
            flags = (spec.cond_flags, spec.null_pass_flags(zero_con=i < settings.macfg_steps,
                                                           skip_layer=settings.skip_layer))
            t = timesteps[i:i + 1]
            if batch is not None:
                out_v, out_a = forward(video_dit, audio_dit, torch.cat([video, video]),
                                       torch.cat([audio, audio]), t.repeat(2), batch, list(flags))
                (cond_v, null_v), (cond_a, null_a) = out_v.float().chunk(2), out_a.float().chunk(2)
            else:
                cond_v, cond_a = _call(forward, video_dit, audio_dit, video, audio, t, passes[0], flags[0])
                null_v, null_a = _call(forward, video_dit, audio_dit, video, audio, t, passes[1], flags[1])
            # [:, :, 1:] drops the reference frame
            vel_v = guide(cond_v, null_v, settings.video_cfg)[:, :, 1:]
            vel_a = guide(cond_a, null_a, settings.audio_cfg)
            if settings.cache_threshold > 0:
                cache = (vel_v, vel_a, video, audio)
        dt = (timesteps[i] - timesteps[i + 1]) / 1000
        # Euler from sigma 1 to 0 on the velocity noise - x0
        video = video - vel_v * dt
        audio = audio - vel_a * dt
        # one sync per step; stopping here beats black frames or a failure in the mp4 encoder
        if not (torch.isfinite(video).all() and torch.isfinite(audio).all()):
            raise NonFiniteError(f"the latents became NaN/inf at step {i + 1} of {settings.steps}: "
                                 f"{non_finite_cause(video_dit, audio_dit, inputs)}")
        if callback is not None:
            callback(i + 1, settings.steps, video, audio)

    decode_video, decode_audio = inputs.write_back(video, audio)
    return SampleResult(video, audio, decode_video, decode_audio)


def _reuse(cache: tuple[Tensor, ...] | None, video: Tensor, audio: Tensor, i: int,
           settings: SamplerSettings) -> bool:
    """Step caching: skip the model while the latents stay close to those it last saw. The first
    and last steps and the step where MA-CFG ends always run the model."""
    if cache is None or i in (settings.steps - 1, settings.macfg_steps):
        return False
    change = sum(float((x - seen).abs().mean() / seen.abs().mean().clamp_min(1e-12))
                 for x, seen in ((video, cache[2]), (audio, cache[3])))
    return change < settings.cache_threshold


def _call(forward: Forward, video_dit, audio_dit, video: Tensor, audio: Tensor, t: Tensor,
          joint: JointInputs, flags: PassFlags) -> tuple[Tensor, Tensor]:
    out_v, out_a = forward(video_dit, audio_dit, video, audio, t, joint, flags)
    return out_v.float(), out_a.float()


def _checked_noise(noise: Noise | tuple[Tensor, Tensor], inputs: TaskInputs) -> Noise:
    video, audio = noise
    for name, tensor, shape in (("video", video, inputs.video_shape), ("audio", audio, inputs.audio_shape)):
        if tuple(tensor.shape) != tuple(shape):
            raise SamplerError(f"{name} noise has shape {list(tensor.shape)}, expected {list(shape)} "
                               "(from the task's latent size and window); pass noise=None to draw it "
                               "from the seed")
    return Noise(video, audio)
