"""Tiny random DiTs: every task runs, batching is exact, and the pluggable parts are really used."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import tiny
from uniavgen_core.model import JointInputs, PassFlags, joint_forward, sdpa_attention
from uniavgen_core.model.attention import takes_key_bias
from uniavgen_core.model.interaction import A2VBlock, V2ABlock

TASKS = ["AVG", "RAVG", "A2V", "A2V_PARTIAL", "V2A"]


@pytest.fixture(scope="module")
def models():
    return tiny.models()


def _run(models, task="AVG", flags: PassFlags | None = None, **kw):
    video, audio, t, inputs = tiny.sample(task, **kw)
    with torch.no_grad():
        return joint_forward(*models, video, audio, t, inputs, flags or PassFlags())


@pytest.mark.parametrize("task", TASKS)
def test_forward_shapes(models, task):
    out_v, out_a = _run(models, task)
    assert out_v.shape == (1, tiny.VIDEO.out_dim, tiny.LATENT_FRAMES + 1, tiny.HEIGHT, tiny.WIDTH)
    assert out_a.shape == (1, tiny.MEL, tiny.AUDIO.mel_dim)
    assert out_v.dtype == out_a.dtype == torch.float32
    assert torch.isfinite(out_v).all() and torch.isfinite(out_a).all()


# (video changes, audio changes) when zero_con removes the interaction: a branch only changes
# when the other one writes into it, i.e. when it has frames / mel tokens that are not conditions.
INTERACTION_EFFECT = {"AVG": (True, True), "RAVG": (True, True), "A2V": (True, False),
                      "A2V_PARTIAL": (True, True), "V2A": (False, True)}


@pytest.mark.parametrize("task", TASKS)
def test_flags_change_what_they_should(models, task):
    plain, off = _run(models, task), _run(models, task, PassFlags(zero_con=True))
    changed = tuple(not torch.equal(a, b) for a, b in zip(plain, off, strict=True))
    assert changed == INTERACTION_EFFECT[task]
    skipped = _run(models, task, PassFlags(skip_layer=1))
    assert not torch.equal(plain[0], skipped[0]) and not torch.equal(plain[1], skipped[1])


def test_batch_of_three_equals_singles(models):
    samples = [tiny.sample("RAVG", text_len=n, seed=s) for s, n in ((0, 9), (1, 14), (2, 5))]
    flags = [PassFlags(), PassFlags(zero_con=True, skip_layer=2), PassFlags(no_v2a=True, skip_layer=3)]
    batch = JointInputs.cat([s[3] for s in samples])
    assert batch.text_ids.shape == (3, 14) and batch.text_lens.tolist() == [9, 14, 5]
    with torch.no_grad():
        video, audio = (torch.cat([s[i] for s in samples]) for i in (0, 1))
        out_v, out_a = joint_forward(*models, video, audio, torch.tensor([700.0, 700.0, 300.0]), batch, flags)
        for i, (video, audio, _, inputs) in enumerate(samples):
            t = torch.tensor([300.0 if i == 2 else 700.0])
            ref_v, ref_a = joint_forward(*models, video, audio, t, inputs, flags[i])
            assert (out_v[i:i + 1] - ref_v).abs().max() <= 1e-5
            assert (out_a[i:i + 1] - ref_a).abs().max() <= 1e-5


def test_set_attention_is_used(models):
    calls = {"video": 0, "audio": 0}

    def counting(branch):
        def attn(q, k, v, k_lens=None):
            calls[branch] += 1
            return sdpa_attention(q, k, v, k_lens)
        return attn

    ref = _run(models)
    models[0].set_attention(counting("video"))
    models[1].set_attention(counting("audio"))
    try:
        out = _run(models)
    finally:
        models[0].set_attention(None)
        models[1].set_attention(None)
    layers, fused = tiny.VIDEO.num_layers, len(tiny.VIDEO.interaction_layers)
    # V2A computes its own small softmax (interaction.V2ABlock.fuse), A2V uses the function
    assert calls == {"video": 2 * layers + fused, "audio": 2 * layers}
    # the default attends to the caption's distinct rows with count weights, a custom function to
    # all padded rows: the same softmax, rounded differently
    for got, want in zip(out, ref, strict=True):
        assert (got - want).abs().max() <= 1e-5 * want.abs().max()


@pytest.mark.parametrize("with_lens", [False, True])
def test_key_bias_equals_attending_to_every_copy(with_lens):
    """A key with bias log(n) stands for n identical keys (the caption's padding rows)."""
    q, k, v = (torch.randn(2, 5, 2, 8, dtype=torch.float64) for _ in range(3))
    counts = torch.tensor([1, 1, 3, 1, 4])
    index = torch.repeat_interleave(torch.arange(5), counts)
    lens = torch.tensor([4, 5]) if with_lens else None
    full_lens = None if lens is None else counts.cumsum(0)[lens - 1]
    want = sdpa_attention(q, k[:, index], v[:, index], full_lens)
    got = sdpa_attention(q, k, v, lens, key_bias=counts.double().log())
    assert torch.allclose(got, want, atol=1e-12)
    assert takes_key_bias(sdpa_attention) and not takes_key_bias(lambda q, k, v, k_lens=None: q)


def test_attention_key_lengths_mask_keys():
    q, k, v = (torch.randn(2, 3, 2, 8) for _ in range(3))
    out = sdpa_attention(q, k, v, torch.tensor([2, 3]))
    assert torch.allclose(out[0], sdpa_attention(q[:1], k[:1, :2], v[:1, :2])[0], atol=1e-6)
    assert torch.allclose(out[1], sdpa_attention(q[1:], k[1:], v[1:])[0], atol=1e-6)


def _recording_ops(log: list):
    def wrap(base):
        class Op(base):
            def __init__(self, *a, **kw):
                log.append(base.__name__)
                super().__init__(*a, **kw)
        Op.__name__ = base.__name__
        return Op
    names = ("Linear", "Conv1d", "Conv3d", "LayerNorm", "RMSNorm", "Embedding")
    return SimpleNamespace(**{n: wrap(getattr(nn, n)) for n in names})


def test_every_layer_comes_from_operations():
    log: list[str] = []
    ops = _recording_ops(log)
    video, audio = tiny.models(operations=ops)
    injected = tuple(vars(ops).values())
    layers = [m for model in (video, audio) for m in model.modules()
              if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv3d, nn.LayerNorm, nn.RMSNorm, nn.Embedding))]
    assert layers and all(isinstance(m, injected) for m in layers)
    assert len(log) == len(layers)


class _CastLinear(nn.Linear):
    """Like comfy.ops.manual_cast: weights stored in one dtype, cast to the input's at call time."""

    def forward(self, x):
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.weight.to(x.dtype), bias)


class _CastConv3d(nn.Conv3d):
    def forward(self, x):
        return self._conv_forward(x, self.weight.to(x.dtype), self.bias.to(x.dtype))


class _CastConv1d(nn.Conv1d):
    def forward(self, x):
        return self._conv_forward(x, self.weight.to(x.dtype), self.bias.to(x.dtype))


class _CastLayerNorm(nn.LayerNorm):
    def forward(self, x):
        w = None if self.weight is None else self.weight.to(x.dtype)
        b = None if self.bias is None else self.bias.to(x.dtype)
        return F.layer_norm(x, self.normalized_shape, w, b, self.eps)


class _CastRMSNorm(nn.RMSNorm):
    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight.to(x.dtype), self.eps)


class _CastEmbedding(nn.Embedding):
    def forward(self, x):
        return F.embedding(x, self.weight)


CAST_OPS = SimpleNamespace(Linear=_CastLinear, Conv1d=_CastConv1d, Conv3d=_CastConv3d,
                           LayerNorm=_CastLayerNorm, RMSNorm=_CastRMSNorm, Embedding=_CastEmbedding)


def test_bf16_weights_with_fp32_compute(models):
    """Bare parameters (modulation, GRN, ...) are cast at use, as comfy's manual_cast needs."""
    video, audio = tiny.models(operations=CAST_OPS)
    video.load_state_dict(models[0].state_dict())
    audio.load_state_dict(models[1].state_dict())
    ref = _run((video, audio), "RAVG")
    video.to(torch.bfloat16)
    audio.to(torch.bfloat16)
    video.compute_dtype = audio.compute_dtype = torch.float32
    out = _run((video, audio), "RAVG")
    for a, b in zip(out, ref, strict=True):
        assert a.dtype == torch.float32 and torch.isfinite(a).all()
        assert (a - b).abs().max() < 0.1 * b.abs().max()


def test_bf16_compute_runs_close_to_fp32(models):
    video, audio = tiny.models(dtype=torch.bfloat16)
    video.load_state_dict(models[0].state_dict())
    audio.load_state_dict(models[1].state_dict())
    assert video.compute_dtype == torch.bfloat16
    ref = _run(models, "AVG")
    out = _run((video, audio), "AVG")
    for a, b in zip(out, ref, strict=True):
        assert (a - b).abs().max() < 0.1 * b.abs().max()


def _forbid(monkeypatch, cls, name):
    def fail(*a, **kw):
        raise AssertionError(f"{cls.__name__}.{name} should have been skipped")
    monkeypatch.setattr(cls, name, fail)


@pytest.mark.parametrize(("task", "flags", "skipped"), [
    ("AVG", PassFlags(zero_con=True), ["face_mask", "a2v", "v2a"]),
    ("AVG", PassFlags(no_a2v=True, no_v2a=True), ["face_mask", "a2v", "v2a"]),
    ("AVG", PassFlags(no_a2v=True), ["a2v"]),
    ("AVG", PassFlags(no_v2a=True), ["v2a"]),
    ("V2A", PassFlags(), ["a2v"]),    # no frame left to update
    ("A2V", PassFlags(), ["v2a"]),    # no mel frame left to update
])
def test_unused_cross_modal_work_is_skipped(models, monkeypatch, task, flags, skipped):
    targets = {"face_mask": (A2VBlock, "face_mask"), "a2v": (A2VBlock, "fuse"), "v2a": (V2ABlock, "fuse")}
    for name in skipped:
        _forbid(monkeypatch, *targets[name])
    _run(models, task, flags)


def test_skipped_layer_is_not_computed(models, monkeypatch):
    calls = []
    for branch in (models[0].blocks[1], models[1].audio_blocks[1]):
        monkeypatch.setattr(branch, "forward", lambda *a, **kw: calls.append(1))
    _run(models, flags=PassFlags(skip_layer=1))
    assert not calls


def test_no_host_sync_and_tables_built_once(models, monkeypatch):
    """The only host read is of the caller's text_lens (a host tensor), never of device data."""
    samples = [tiny.sample("RAVG", text_len=n, seed=s) for s, n in ((0, 9), (1, 12))]
    video, audio, t = (torch.cat([s[i] for s in samples]) for i in range(3))
    inputs = JointInputs.cat([s[3] for s in samples])

    def run():
        with torch.no_grad():
            joint_forward(*models, video, audio, t, inputs, [PassFlags(), PassFlags(zero_con=True)])
    run()
    built = []
    import uniavgen_core.model.interaction as interaction
    for name in ("window_table", "interp_table"):
        original = getattr(interaction, name)
        monkeypatch.setattr(interaction, name, lambda *a, _f=original: built.append(1) or _f(*a))

    for name in ("item", "tolist"):
        original = getattr(torch.Tensor, name)

        def guarded(self, *a, _f=original, **kw):
            assert self is inputs.text_lens, "host read of a tensor other than the caller's text_lens"
            return _f(self, *a, **kw)
        monkeypatch.setattr(torch.Tensor, name, guarded)
    rope_tables = len(models[0].rope._tables) + len(models[1].rope._tables)
    run()
    assert not built
    assert len(models[0].rope._tables) + len(models[1].rope._tables) == rope_tables


def test_input_errors_name_the_problem(models):
    video, audio, t, inputs = tiny.sample("A2V")
    inputs.audio_cond = tiny.MEL + 1
    with pytest.raises(ValueError, match=r"audio_cond 41 must lie in 0\.\.40"):
        joint_forward(*models, video, audio, t, inputs, PassFlags())
    video, audio, t, inputs = tiny.sample()
    with pytest.raises(ValueError, match="got 2 PassFlags for a batch of 1"):
        joint_forward(*models, video, audio, t, inputs, [PassFlags(), PassFlags()])
    with pytest.raises(ValueError, match="video latents must be"):
        joint_forward(*models, video[:, :3], audio, t, inputs, PassFlags())
    inputs.text_lens = torch.tensor([inputs.text_ids.shape[1] + 1])
    with pytest.raises(ValueError, match=r"text_lens \[10\] must lie in 1\.\.9"):
        joint_forward(*models, video, audio, t, inputs, PassFlags())
    with pytest.raises(ValueError, match="differ in audio_cond"):
        JointInputs.cat([tiny.sample()[3], tiny.sample("A2V")[3]])
