"""Proof: ComfyUI's native caption path (CLIPLoader type wan -> CLIPTextEncode -> caption_context) gives
the official UniAVGen caption context (umT5 on whitespace-cleaned text, 512 padded ids + EOS, attention
mask, output cut to the mask length), here with the same tiny random umT5 weights on both sides.

The official side is independent of ComfyUI: the `sentencepiece` library on the tokenizer model and
transformers' UMT5EncoderModel, configured from the weight shapes and loaded with the weights.
"""

from __future__ import annotations

import html
import importlib
import logging
import re

import pytest
import torch

from uniavgen_tools.dev.stand_ins import TEXT_ENCODER_NODE

TEXT_LEN, PAD_ID, EOS_ID = 512, 0, 1
COMFY_PREFIX = "umt5xxl.transformer."  # where ComfyUI's Wan CLIP keeps the umT5 file's keys
TOLERANCE = 1e-5

CAPTIONS = {
    "plain": "a woman with long dark hair talks to the camera in a bright kitchen",
    "negative": "",  # the official negative prompt: EOS only
    "whitespace": "  A man   speaks\n\tcalmly at a wooden desk.  ",
    "chinese": "一个男人在图书馆里对着镜头讲故事",
    "long": " ".join(["close-up portrait of a smiling person, soft light, shallow depth of field;",
                      "the speaker looks into the lens and explains something with small hand gestures,",
                      "an old man with a grey beard tells a story in a quiet library."] * 4),  # 480 tokens
}


def clean_whitespace(text: str) -> str:
    """The official `clean='whitespace'`; its ftfy.fix_text step is the identity on these captions."""
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


def official_ids(spiece_model: bytes, text: str) -> tuple[torch.Tensor, torch.Tensor]:
    """ids [1, 512] and mask [1, 512]: SentencePiece ids, truncated to 511, + EOS, padded with 0."""
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_proto=spiece_model)
    ids = sp.encode(clean_whitespace(text))[:TEXT_LEN - 1] + [EOS_ID]
    mask = [1] * len(ids) + [0] * (TEXT_LEN - len(ids))
    return torch.tensor([ids + [PAD_ID] * (TEXT_LEN - len(ids))]), torch.tensor([mask])


def umt5_file_state_dict(clip) -> dict[str, torch.Tensor]:
    sd = clip.cond_stage_model.state_dict()
    return {k[len(COMFY_PREFIX):]: v for k, v in sd.items() if k.startswith(COMFY_PREFIX)}


def to_transformers(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """umT5 file / ComfyUI keys -> UMT5EncoderModel keys: the same names, plus the tied input table."""
    out = {k: v.float() for k, v in sd.items()}
    out["encoder.embed_tokens.weight"] = out["shared.weight"]
    return out


def official_encoder(sd: dict[str, torch.Tensor]):
    from transformers import UMT5Config, UMT5EncoderModel

    num_layers = sum(1 for k in sd if k.endswith("layer.0.SelfAttention.q.weight"))
    num_heads = sd["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"].shape[1]
    config = UMT5Config(
        vocab_size=sd["shared.weight"].shape[0], d_model=sd["shared.weight"].shape[1],
        d_kv=sd["encoder.block.0.layer.0.SelfAttention.q.weight"].shape[0] // num_heads,
        d_ff=sd["encoder.block.0.layer.1.DenseReluDense.wi_0.weight"].shape[0],
        num_layers=num_layers, num_heads=num_heads, feed_forward_proj="gated-gelu", dropout_rate=0.0,
    )
    model = UMT5EncoderModel(config).eval()
    model.load_state_dict(to_transformers(sd), strict=True)
    return model


@pytest.fixture(scope="module")
def tiny_clip(stand_ins):
    import nodes

    return nodes.NODE_CLASS_MAPPINGS[TEXT_ENCODER_NODE].execute().result[0]


@pytest.fixture(scope="module")
def spiece_model(tiny_clip) -> bytes:
    return tiny_clip.tokenizer.state_dict()["spiece_model"].numpy().tobytes()


@pytest.fixture(scope="module")
def reference(tiny_clip):
    return official_encoder(umt5_file_state_dict(tiny_clip))


@pytest.fixture(scope="module")
def caption_context(pack):
    return importlib.import_module(pack.__name__ + ".nodes.caption").caption_context


def native_context(clip, text: str, caption_context) -> torch.Tensor:
    import nodes

    return caption_context(nodes.CLIPTextEncode().encode(clip, text)[0])


@pytest.mark.parametrize("name", CAPTIONS)
def test_native_tokens_are_official_ids(tiny_clip, spiece_model, name):
    ids, mask = official_ids(spiece_model, CAPTIONS[name])
    batches = tiny_clip.tokenize(CAPTIONS[name])["umt5xxl"]
    assert len(batches) == 1
    assert [t for t, _ in batches[0]] == ids[0].tolist()
    assert all(w == 1.0 for _, w in batches[0])
    if name == "negative":
        assert mask.sum() == 1 and ids[0, 0] == EOS_ID
    if name == "long":
        assert 400 < mask.sum() < TEXT_LEN


@pytest.mark.parametrize("name", CAPTIONS)
def test_native_context_equals_official(tiny_clip, spiece_model, reference, caption_context, name):
    ids, mask = official_ids(spiece_model, CAPTIONS[name])
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask).last_hidden_state[0, :int(mask.sum())]
    got = native_context(tiny_clip, CAPTIONS[name], caption_context)
    assert got.shape == expected.shape == (int(mask.sum()), 4096)
    err = (got - expected).abs().max().item()
    assert err <= TOLERANCE, f"{name}: max-abs {err:.3g} (output scale {expected.abs().max():.3g})"


def test_longer_than_official_is_cut_to_512_rows(tiny_clip, caption_context, caplog):
    text = " ".join([CAPTIONS["plain"]] * 40)  # > 511 tokens: ComfyUI encodes all of them
    with caplog.at_level(logging.WARNING):
        got = native_context(tiny_clip, text, caption_context)
    assert got.shape == (TEXT_LEN, 4096)
    assert any("official model reads at most 512" in r.getMessage() for r in caplog.records)
