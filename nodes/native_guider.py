"""The UniAVGen guider (a `comfy.samplers.CFGGuider`), the official sigmas, and one sampling run.

Per step the guider runs the conditional and the null pass (one batch of 2, or one after the other),
guides video and audio with their own scales, and tells the model the null pass's flags: MA-CFG drops
the audio-video interaction for the first int(fraction * steps) steps, SLG skips one layer. The step
index is sigma's position in the sigmas being sampled. Everything else is ComfyUI's own sampling:
noise, sampler, model patches, wrappers, progress and previews.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import comfy.model_management as mm
import comfy.model_patcher
import comfy.nested_tensor
import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview
import torch

from ..uniavgen_core.geometry import MEL_BINS
from ..uniavgen_core.sampler import NonFiniteError, non_finite_cause, shifted_timesteps
from ..uniavgen_core.tasks import TaskInputs
from .compat import latent_members
from ..uniavgen_core.model.caption_cache import CaptionCache
from .native_model import CAPTION_CACHE_KEY, INPUTS_KEY, NEGATIVE_KEY, PASS_KEY, UniAVGenNativeModel
from .memory import evict_others

NODE = "UniAVGen Guider"


class Nested(comfy.nested_tensor.NestedTensor):
    """A NestedTensor that also answers .cpu() (SamplerCustomAdvanced calls it on the denoised x0)."""

    def _copy(self):
        return Nested(self.tensors)

    def cpu(self):
        return self.to("cpu")


def official_sigmas(steps: int, shift: float) -> torch.Tensor:
    """The official shifted schedule as sigmas: t'/1000 for t' in linspace(1000, 1, steps) + [0]."""
    return shifted_timesteps(steps, shift) / 1000


def task_conditioning(inputs: TaskInputs) -> tuple[list, list, dict]:
    """positive / negative CONDITIONING and the empty nested LATENT of one task (CPU tensors)."""
    inputs = _on_cpu(inputs)
    positive = [[inputs.t5_context[None], {INPUTS_KEY: inputs, NEGATIVE_KEY: False}]]
    negative = [[inputs.t5_negative[None], {INPUTS_KEY: inputs, NEGATIVE_KEY: True}]]
    latent = {"samples": Nested([torch.zeros(inputs.video_shape), torch.zeros(inputs.audio_shape)])}
    return positive, negative, latent


def _on_cpu(inputs: TaskInputs) -> TaskInputs:
    from dataclasses import fields, replace

    moved = {f.name: getattr(inputs, f.name).cpu() for f in fields(inputs)
             if torch.is_tensor(getattr(inputs, f.name))}
    return replace(inputs, **moved)


@dataclass(frozen=True)
class GuiderSettings:
    video_cfg: float = 3.0
    audio_cfg: float = 2.0
    macfg_fraction: float = 0.5
    slg_layer: int = 11
    batched_cfg: bool = True
    cache_threshold: float = 0.0   # step cache (0 = off), as the core sampler's


class UniAVGenGuider(comfy.samplers.CFGGuider):
    def __init__(self, model_patcher, settings: GuiderSettings, node: str = NODE):
        super().__init__(model_patcher)
        self.node = node   # the node named in errors (the Sampler and Long Form nodes sample through this)
        if not isinstance(model_patcher.model, UniAVGenNativeModel):
            raise ValueError(f"{NODE}: 'model' is a {type(model_patcher.model).__name__}, not UniAVGen. "
                             "Connect the MODEL output of the UniAVGen Model node.")
        self.settings = settings
        self.cfg = settings.video_cfg

    def set_conds(self, positive, negative):
        for name, cond, negative_flag in (("positive", positive, False), ("negative", negative, True)):
            if not cond or any(not isinstance(c, (list, tuple)) or len(c) != 2
                               or INPUTS_KEY not in c[1] for c in cond):
                raise ValueError(f"{NODE}: '{name}' is not a UniAVGen conditioning. Connect the "
                                 f"'{name}' output of UniAVGen Conditioning.")
            if any(bool(c[1].get(NEGATIVE_KEY)) != negative_flag for c in cond):
                raise ValueError(f"{NODE}: '{name}' got the {'positive' if negative_flag else 'negative'} "
                                 "output of UniAVGen Conditioning; connect positive to positive and "
                                 "negative to negative.")
        self.inner_set_conds({"positive": positive, "negative": negative})

    # -- sampling --

    def sample(self, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None,
               disable_pbar=False, seed=None):
        if not getattr(latent_image, "is_nested", False) or len(latent_image.unbind()) != 2:
            raise ValueError(f"{NODE}: the LATENT is not the nested video + audio latent. Sample the "
                             "'latent' output of UniAVGen Conditioning (or UniAVGen Join Latent).")
        if denoise_mask is not None:
            raise ValueError(f"{NODE}: the LATENT has a noise mask; UniAVGen conditions with its "
                             "reference and condition inputs instead. Remove the mask node.")
        inputs: TaskInputs = self.original_conds["positive"][0][INPUTS_KEY]
        self._shapes = [t.shape for t in latent_image.unbind()]
        self._sigmas = [float(s) for s in sigmas]
        self._cache = None
        # caption keys / values reused across steps, unless hooks may change the weights mid-run
        self._caption = None if getattr(self.model_patcher, "hook_patches", None) else CaptionCache()
        try:
            out = super().sample(noise, latent_image, sampler, sigmas, denoise_mask=None,
                                 callback=self._wrap(callback, inputs), disable_pbar=disable_pbar, seed=seed)
        finally:
            self._caption = None   # the run's caption tensors go with the run
        self._check_finite(out, inputs)
        return Nested(write_back(inputs, *out.unbind()))

    def _check_finite(self, out, inputs: TaskInputs) -> None:
        """One check per run (one host sync): NaN/inf latents stop here with their cause named."""
        if all(bool(torch.isfinite(t).all()) for t in out.unbind()):
            return
        joint = self.model_patcher.model.diffusion_model
        raise NonFiniteError(f"{self.node}: the latents became NaN/inf while sampling: "
                             f"{non_finite_cause(joint.video, joint.audio, inputs)}")

    def _wrap(self, callback, inputs: TaskInputs):
        if callback is None:
            return None

        def wrapped(step, x0, x, total_steps):
            shapes = self._shapes
            x0 = Nested(write_back(inputs, *latent_members(x0, shapes)))
            x = Nested(latent_members(x, shapes))
            callback(step, x0, x, total_steps)
            mm.throw_exception_if_processing_interrupted()   # Stop works between steps too

        return wrapped

    def inner_sample(self, *args, **kwargs):
        # the umT5 encoder and the VAE are not needed while the DiTs sample (see evict_others)
        evict_others([self.model_patcher, *self.loaded_models])
        return super().inner_sample(*args, **kwargs)

    def step_index(self, sigma: float) -> int:
        """Index of the step interval holding sigma (exact for the sigmas' own values)."""
        below = [s for s in self._sigmas[:-1] if s >= sigma * (1 - 1e-6) - 1e-9]
        return max(len(below) - 1, 0)

    def predict_noise(self, x, timestep, model_options=None, seed=None):
        model_options = model_options or {}
        s = self.settings
        steps = len(self._sigmas) - 1
        sigma = float(timestep.reshape(-1)[0])
        i = self.step_index(sigma)
        macfg_steps = int(s.macfg_fraction * steps)
        n_video = math.prod(self._shapes[0][1:])
        if self._reuse(x, i, steps, macfg_steps, n_video):
            return x - self._cache[0] * timestep.reshape(-1, 1, 1)

        options = comfy.model_patcher.create_model_options_clone(model_options)
        transformer = options.setdefault("transformer_options", {})
        transformer[PASS_KEY] = {"zero_con": i < macfg_steps,
                                 "skip_layer": s.slg_layer if s.slg_layer > 0 else -1}
        transformer[CAPTION_CACHE_KEY] = self._caption
        model, positive, negative = self.inner_model, self.conds.get("positive"), self.conds.get("negative")
        if s.batched_cfg:
            out = comfy.samplers.calc_cond_batch(model, [positive, negative], x, timestep, options)
        else:
            out = [comfy.samplers.calc_cond_batch(model, [c], x, timestep, options)[0]
                   for c in (positive, negative)]
        for fn in options.get("sampler_pre_cfg_function", []):
            out = fn({"conds": [positive, negative], "conds_out": out, "cond_scale": s.video_cfg,
                      "timestep": timestep, "input": x, "sigma": timestep, "model": model,
                      "model_options": options})
        guided = self._guide(x, out[0], out[1], timestep, options, n_video)
        if s.cache_threshold > 0:
            self._cache = ((x - guided) / timestep.reshape(-1, 1, 1), x)
        return guided

    def _guide(self, x, cond, uncond, timestep, options, n_video):
        s = self.settings
        hooks = "sampler_cfg_function" in options or options.get("sampler_post_cfg_function")
        if not hooks:
            v = uncond[..., :n_video] + s.video_cfg * (cond[..., :n_video] - uncond[..., :n_video])
            a = uncond[..., n_video:] + s.audio_cfg * (cond[..., n_video:] - uncond[..., n_video:])
            return torch.cat([v, a], dim=-1)
        # ComfyUI's CFG hooks see each modality as its own channel-first tensor
        parts = []
        for member, scale in ((0, s.video_cfg), (1, s.audio_cfg)):
            xs, cs, us = (self._member(t, member) for t in (x, cond, uncond))
            parts.append(self._packed_member(comfy.samplers.cfg_function(
                self.inner_model, cs, us, scale, xs, timestep, model_options=options,
                cond=self.conds.get("positive"), uncond=self.conds.get("negative")), member))
        return torch.cat(parts, dim=-1)

    def _member(self, packed: torch.Tensor, member: int) -> torch.Tensor:
        """Video [B, 48, F, H, W] or audio as [B, 80, T] (channels first) out of a packed tensor."""
        video, audio = comfy.utils.unpack_latents(packed, self._shapes)
        return video if member == 0 else audio.transpose(1, 2)

    @staticmethod
    def _packed_member(t: torch.Tensor, member: int) -> torch.Tensor:
        if member == 1:
            t = t.transpose(1, 2)
        return t.reshape(t.shape[0], 1, -1)

    def _reuse(self, x, i: int, steps: int, macfg_steps: int, n_video: int) -> bool:
        """Step cache as in the core sampler: skip the model while the latents moved less than the
        threshold (relative L1, video + audio) since it last ran; never on the last step or the step
        where MA-CFG ends."""
        if self._cache is None or i in (steps - 1, macfg_steps):
            return False
        seen = self._cache[1]
        change = 0.0
        for part in (slice(0, n_video), slice(n_video, None)):
            a, b = x[..., part], seen[..., part]
            change += float((a - b).abs().mean() / b.abs().mean().clamp_min(1e-12))
        return change < self.settings.cache_threshold


def write_back(inputs: TaskInputs, video: torch.Tensor, audio: torch.Tensor) -> list[torch.Tensor]:
    """Decode-ready members: condition latents over the first video_cond frames, condition mel over
    the first audio_cond mel frames (as the official decode)."""
    cond = inputs.condition_latent.to(video)
    cond = cond.expand(video.shape[0], *cond.shape[1:])
    video = torch.cat([cond, video[:, :, cond.shape[2]:]], dim=2)
    if inputs.cond_mel is not None:
        mel = inputs.cond_mel.to(audio)[None].expand(audio.shape[0], -1, MEL_BINS)
        audio = torch.cat([mel, audio[:, mel.shape[1]:]], dim=1)
    return [video, audio]


def sample_task(model, inputs: TaskInputs, settings: GuiderSettings, *, seed: int, steps: int,
                shift: float, callback=None, node: str = NODE) -> tuple[torch.Tensor, torch.Tensor]:
    """One run on the native path exactly as RandomNoise + KSamplerSelect(euler) + UniAVGen
    Scheduler + UniAVGen Guider + SamplerCustomAdvanced do it. Returns decode-ready (video, mel)
    in model space, batch 1. `callback` defaults to ComfyUI's progress + preview callback."""
    positive, negative, latent = task_conditioning(inputs)
    guider = UniAVGenGuider(model, settings, node)
    guider.set_conds(positive, negative)
    samples = latent["samples"]
    noise = comfy.sample.prepare_noise(samples, seed)
    sigmas = official_sigmas(steps, shift)
    if callback is None:
        callback = latent_preview.prepare_callback(model, steps)
    out = guider.sample(noise, samples, comfy.samplers.sampler_object("euler"), sigmas,
                        callback=callback, disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
    video, audio = out.to(mm.intermediate_device()).unbind()
    return video, audio
