"""UniAVGen as a native ComfyUI MODEL: a `comfy.model_base.BaseModel` inside a ModelPatcher.

The LATENT is nested (`comfy.nested_tensor.NestedTensor([video, audio])`): video [B, 48, F, H, W]
normalised Wan 2.2 latents first, then the normalised log-mel [B, T_a, 80], so native `RandomNoise`
draws the official noise order. ComfyUI 0.3.75 packs the members into one [B, 1, N] tensor for the
sampler (`CFGGuider.sample`) and unpacks them before the diffusion model (`BaseModel._apply_model`,
"latent_shapes", which this model's `extra_conds` supplies). Model sampling is flow matching
(CONST, timestep = 1000 * sigma), so native euler is the official update x + (sigma' - sigma) * v.

The nested LATENT lives in the DiT's own space (normalised latents and mel): its members cannot be
told apart once packed, so `process_latent_in/out` are identities here and the split / join nodes
convert the video member to and from the Wan 2.2 VAE space.

State-dict keys are the official UniAVGen ones under `diffusion_model.` (video DiT `blocks.*`,
`a2v_blocks.*`, ...; audio DiT `audio_blocks.*`, `v2a_blocks.*`, ...), so Wan 2.2 TI2V-5B LoRAs in
ComfyUI's key formats address the video DiT as they would a native Wan model.
"""

from __future__ import annotations

import logging

import comfy.conds
import comfy.latent_formats
import comfy.model_base
import comfy.model_management as mm
import comfy.supported_models_base
import torch

from ..uniavgen_core.activation_memory import activation_bytes
from ..uniavgen_core.model.joint import JointInputs, joint_forward
from ..uniavgen_core.model.quant_ops import holds_quantised
from ..uniavgen_core.tasks import TASK_SPECS, Task, TaskInputs
from .attention import install_attention
from .memory import new_patcher

log = logging.getLogger(__name__)

NODE = "UniAVGen Model"
DEFAULT_SHIFT = 5.0          # the official schedule's shift (ModelSamplingSD3 can change it)
INPUTS_KEY = "uniavgen_inputs"        # TaskInputs of the run, on both CONDITIONING entries
NEGATIVE_KEY = "uniavgen_negative"    # True on the negative (null-pass) CONDITIONING
PASS_KEY = "uniavgen_pass"            # transformer_options: the guider's per-step null-pass flags
CAPTION_CACHE_KEY = "uniavgen_caption_cache"   # transformer_options: the guider's per-run CaptionCache


class UniAVGenLatentFormat(comfy.latent_formats.LatentFormat):
    """The nested LATENT is already in model space: process_in/out are identities. Previews use the
    Wan 2.2 latent-to-RGB factors on the video member."""

    latent_channels = 48
    latent_dimensions = 3
    latent_rgb_factors = comfy.latent_formats.Wan22.latent_rgb_factors
    latent_rgb_factors_bias = comfy.latent_formats.Wan22.latent_rgb_factors_bias
    taesd_decoder_name = None   # the video TAE previewers cannot take the nested latent

    @staticmethod
    def latent_rgb_factors_reshape(x0):
        if getattr(x0, "is_nested", False):
            return x0.tensors[0]
        if x0.ndim == 5:   # newer ComfyUI previews the first (video) member itself
            return x0
        # a packed [B, 1, N] tensor (a guider other than UniAVGen's): nothing to show
        return x0.new_zeros(1, 48, 1, 1, 1)

    def process_in(self, latent):
        return latent

    def process_out(self, latent):
        return latent


class UniAVGenModelConfig(comfy.supported_models_base.BASE):
    unet_config = {"disable_unet_model_creation": True}
    unet_extra_config = {}
    latent_format = UniAVGenLatentFormat
    sampling_settings = {"shift": DEFAULT_SHIFT, "multiplier": 1000}
    memory_usage_factor = 1.0
    supported_inference_dtypes = [torch.bfloat16, torch.float16, torch.float32]

    def __init__(self, manual_cast_dtype: torch.dtype | None):
        super().__init__({"disable_unet_model_creation": True})
        self.manual_cast_dtype = manual_cast_dtype


class JointDiT(torch.nn.Module):
    """Both DiTs as one module whose state dict has the official UniAVGen key names.

    The children (and direct parameters) of the video and audio DiT are registered here under their
    own names, shared, not copied; the two DiT objects still run the joint forward.
    """

    def __init__(self, video: torch.nn.Module, audio: torch.nn.Module) -> None:
        super().__init__()
        for owner in (video, audio):
            for name, child in owner.named_children():
                self._claim(name)
                self.add_module(name, child)
            for name, param in owner._parameters.items():
                self._claim(name)
                self.register_parameter(name, param)
            for name, buf in owner._buffers.items():
                self._claim(name)
                self.register_buffer(name, buf)
        object.__setattr__(self, "halves", (video, audio))

    def _claim(self, name: str) -> None:
        if hasattr(self, name):
            raise ValueError(f"{NODE}: the video and audio DiT both have a part named {name!r}; "
                             "they are not a UniAVGen pair")

    @property
    def video(self):
        return self.halves[0]

    @property
    def audio(self):
        return self.halves[1]

    @property
    def dtype(self) -> torch.dtype:
        return self.video.patch_embedding.weight.dtype

    def _sync_parameters(self) -> None:
        # ModelPatcher replaces patched parameters on this module (set_attr_param); direct
        # parameters of a DiT (audio_padding) must follow. Children are shared objects already.
        for half in self.halves:
            for name in half._parameters:
                half._parameters[name] = self._parameters[name]

    def forward(self, x, timesteps, context=None, control=None, transformer_options=None, **kwargs):
        transformer_options = transformer_options or {}
        if not isinstance(x, (list, tuple)) or len(x) != 2:
            raise ValueError(f"{NODE}: the LATENT is not the nested video + audio latent (got "
                             f"{getattr(x, 'shape', type(x).__name__)}). Start sampling from the "
                             "'latent' output of UniAVGen Conditioning.")
        if type(transformer_options.get("easycache")).__name__ == "EasyCacheHolder":
            raise ValueError(f"{NODE}: EasyCache cannot skip steps of the joint video + audio model "
                             "(its cache holds one tensor per step). Remove the EasyCache node; use "
                             "LazyCache or the 'step_cache' of UniAVGen Guider instead.")
        video, audio = x
        self._sync_parameters()
        install_attention(self.video, self.audio, video.device)
        inputs = _joint_inputs(kwargs, transformer_options.get(CAPTION_CACHE_KEY))
        flags = _pass_flags(kwargs, transformer_options, video.shape[0], self.video.config.num_layers)
        out_v, out_a = joint_forward(self.video, self.audio, video, audio, timesteps, inputs, flags)
        return [out_v[:, :, 1:], out_a]   # [:, :, 1:] drops the reference frame


def _joint_inputs(kw: dict, caption_cache=None) -> JointInputs:
    cond_mel = kw.get("uv_cond_mel")
    return JointInputs(
        # a batch's conditionings, in order: the key of its entries in the run's caption cache
        caption_cache=caption_cache, caption_key=tuple(kw.get("uv_source", ())),
        text_ids=kw["uv_text_ids"], text_lens=kw["uv_text_lens"],
        t5_context=list(kw["uv_t5"].unbind(0)),
        ref_latent=kw["uv_ref_latent"], cond_latent=kw["uv_cond_latent"],
        ref_mel=kw.get("uv_ref_mel"), cond_mel=cond_mel,
        video_cond=kw["uv_cond_latent"].shape[2],
        audio_cond=0 if cond_mel is None else cond_mel.shape[1])


def _pass_flags(kw: dict, transformer_options: dict, batch: int, num_layers: int):
    """Per-sample flags: the task's conditional flags, or its null-pass flags with the guider's
    MA-CFG / SLG settings of this step (none: no MA-CFG, no SLG, e.g. under a plain CFGGuider)."""
    spec = TASK_SPECS[Task(kw["uv_task"])]
    step = transformer_options.get(PASS_KEY, {})
    skip = step.get("skip_layer", -1)
    null = spec.null_pass_flags(zero_con=step.get("zero_con", False),
                                skip_layer=skip if 0 < skip < num_layers else -1)
    negative = kw["uv_negative"]
    if len(negative) != batch:
        raise ValueError(f"{NODE}: conditioning for {len(negative)} samples but a batch of {batch}")
    return [null if n else spec.cond_flags for n in negative]


class _TextIds(comfy.conds.CONDRegular):
    """Speech ids [1, L]: positive and negative texts differ in length; batches right-pad with -1."""

    def can_concat(self, other):
        return self.cond.shape[0] == other.cond.shape[0] and self.cond.device == other.cond.device

    def concat(self, others):
        rows = [self.cond] + [o.cond for o in others]
        width = max(r.shape[1] for r in rows)
        return torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[1]), value=-1) for r in rows])


class _Caption(comfy.conds.CONDRegular):
    """umT5 caption [1, L, 4096] at its true length: batches zero-pad to the longest, which is what
    the model's own padding to text_len adds, so the model projects only the distinct rows
    (padded_rows.py) and the batch copies L rows instead of 512."""

    def can_concat(self, other):
        return self.cond.shape[2:] == other.cond.shape[2:] and self.cond.device == other.cond.device

    def concat(self, others):
        rows = [self.cond] + [o.cond for o in others]
        width = max(r.shape[1] for r in rows)
        return torch.cat([torch.nn.functional.pad(r, (0, 0, 0, width - r.shape[1])) for r in rows])


class _PerSample(comfy.conds.CONDRegular):
    """A Python value per sample (no tensor: no host sync, nothing data-dependent under torch.compile);
    batches concatenate the lists."""

    def __init__(self, cond: list):
        self.cond = list(cond)

    def process_cond(self, batch_size, **kwargs):
        return self._copy_with(self.cond * max(batch_size // len(self.cond), 1))

    def can_concat(self, other):
        return True

    def concat(self, others):
        return self.cond + [v for o in others for v in o.cond]

    def size(self):
        return [len(self.cond)]


class _Tokens(comfy.conds.CONDConstant):
    """(video tokens, audio tokens, tokens per frame) of one sample; its size() feeds memory_required."""

    def size(self):
        return [1, *self.cond]


def token_counts(inputs: TaskInputs, patch: tuple[int, int, int] = (1, 2, 2)) -> tuple[int, int, int]:
    """Tokens of one forward: video (F + 1 frames incl. the reference) x h x w, audio T_r + T_a,
    and the video tokens of one latent frame (kept in the conditioning's shape; the estimate no longer
    needs it since V2A builds no per-frame context)."""
    _, _, _, h, w = inputs.video_shape
    frame = (h // patch[1]) * (w // patch[2])
    video = (inputs.latent_frames + 1) // patch[0] * frame
    audio = (0 if inputs.ref_mel is None else inputs.ref_mel.shape[0]) + inputs.mel_frames
    return video, audio, frame


class UniAVGenNativeModel(comfy.model_base.BaseModel):
    def __init__(self, video, audio, *, compute_dtype: torch.dtype, device=None):
        weights = video.patch_embedding.weight.dtype
        config = UniAVGenModelConfig(None if weights == compute_dtype else compute_dtype)
        super().__init__(config, comfy.model_base.ModelType.FLOW, device=device)
        self.diffusion_model = JointDiT(video, audio)
        # The activation dtype is decided once, by the loaders (memory.compute_dtype_for, what ComfyUI
        # picks for a diffusion model on the device); the sampler's latents enter in the video DiT's.
        self.compute_dtype = compute_dtype

    # the nested LATENT is in model space (see the module docstring)
    def process_latent_in(self, latent):
        return latent

    def process_latent_out(self, latent):
        return latent

    def extra_conds(self, **kwargs):
        inputs: TaskInputs | None = kwargs.get(INPUTS_KEY)
        if inputs is None:
            raise ValueError(f"{NODE}: the CONDITIONING carries no UniAVGen inputs. Connect the "
                             "'positive' and 'negative' outputs of UniAVGen Conditioning (a plain "
                             "CLIPTextEncode is not enough).")
        shapes = kwargs.get("latent_shapes")
        want = [tuple(inputs.video_shape), tuple(inputs.audio_shape)]
        if shapes is None or [tuple(s[1:]) for s in shapes] != [s[1:] for s in want]:
            got = None if shapes is None else [list(s) for s in shapes]
            raise ValueError(f"{NODE}: the LATENT has shapes {got} but the conditioning is for "
                             f"{[list(s) for s in want]}. Sample the 'latent' output of the same "
                             "UniAVGen Conditioning node.")
        negative = bool(kwargs.get(NEGATIVE_KEY, False))
        joint = inputs.joint_inputs(negative=negative)
        cfg = self.diffusion_model.video.config
        out = {
            "latent_shapes": comfy.conds.CONDConstant(shapes),
            "uv_text_ids": _TextIds(joint.text_ids),
            "uv_text_lens": comfy.conds.CONDRegular(joint.text_lens),
            "uv_t5": _Caption(joint.t5_context[0].float().cpu()[None]),
            "uv_ref_latent": comfy.conds.CONDRegular(joint.ref_latent),
            "uv_cond_latent": comfy.conds.CONDRegular(joint.cond_latent),
            "uv_task": comfy.conds.CONDConstant(int(inputs.task)),
            "uv_negative": _PerSample([negative]),
            # which conditioning a batch row is (for the caption cache; the object lives all run)
            "uv_source": _PerSample([(id(inputs), negative)]),
            "uv_tokens": _Tokens(token_counts(inputs, cfg.patch_size)),
        }
        if joint.ref_mel is not None:
            out["uv_ref_mel"] = comfy.conds.CONDRegular(joint.ref_mel)
        if joint.cond_mel is not None:
            out["uv_cond_mel"] = comfy.conds.CONDRegular(joint.cond_mel)
        return out

    def extra_conds_shapes(self, **kwargs):
        inputs = kwargs.get(INPUTS_KEY)
        if inputs is None:
            return {}
        return {"uv_tokens": [1, *token_counts(inputs, self.diffusion_model.video.config.patch_size)]}

    def memory_required(self, input_shape, cond_shapes=None):
        """Activation bytes of one joint forward for input_shape[0] samples, from the token counts."""
        cond_shapes = cond_shapes or {}
        tokens = cond_shapes.get("uv_tokens") or []
        if not tokens:
            return super().memory_required(input_shape, cond_shapes)
        video_tokens = max(t[1] for t in tokens)
        audio_tokens = max(t[2] for t in tokens)
        return activation_bytes(self.diffusion_model.video.config, self.diffusion_model.audio.config,
                                video_tokens, audio_tokens, input_shape[0],
                                mm.dtype_size(self.manual_cast_dtype or self.get_dtype()))


def native_model(video_dit, audio_dit):
    """The one MODEL (ModelPatcher) of a video / audio DiT pair, made once and kept on the video DiT:
    several patchers of the same weights would fight over where the weights live."""
    video, audio = video_dit.model, audio_dit.model
    made = video.__dict__.setdefault("_uniavgen_native", [])   # a cycle through the DiT: GC frees it
    for patcher in made:
        if patcher.model.diffusion_model.audio is audio:
            return patcher
    compute = getattr(video, "compute_dtype", torch.float32)
    if getattr(audio, "compute_dtype", compute) != compute:
        log.info("%s: the audio DiT computes in %s, the video DiT in %s (each branch keeps its own)",
                 NODE, audio.compute_dtype, compute)
    # GGUF halves keep their blocks: LoRA patches then apply after dequantisation (gguf_ops.py)
    quantised = any(holds_quantised(m) for half in (video, audio) for m in half.modules())
    patcher = new_patcher(UniAVGenNativeModel(video, audio, compute_dtype=compute),
                          video_dit.load_device, video_dit.offload_device, quantised=quantised)
    made[:] = [patcher]   # the last pairing only: older ones would keep their audio DiT alive
    return patcher
