"""A tiny umT5 text encoder built exactly like ComfyUI's `CLIPLoader` (type `wan`) builds umT5-XXL.

ComfyUI only recognises a full 24-layer umT5-XXL file, so this builds the same `comfy.sd.CLIP` by hand:
the same Wan text-encoder classes, a random state dict in the umT5 file format (fp16, with the
SentencePiece model inside it under `spiece_model`), and smaller layer/head/ff/vocab sizes passed
through ComfyUI's own `umt5xxl_model_config` override. The width stays 4096: the DiT's caption
projection takes 4096-wide rows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    import comfy.sd

UMT5_WIDTH = 4096
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2  # umT5's special ids

# A fixed corpus: the tokenizer trained on it is the same on every run (unigram, one thread, no shuffle).
CORPUS = (
    "a woman with long dark hair talks to the camera in a bright kitchen",
    "a man in a blue shirt speaks calmly while sitting at a wooden desk",
    "close-up portrait of a smiling person, soft light, shallow depth of field",
    "the speaker looks into the lens and explains something with small hand gestures",
    "an old man with a grey beard tells a story in a quiet library",
    "a young girl laughs and waves at the camera outdoors on a sunny day",
    "two friends chat on a park bench while leaves fall behind them",
    "一个女人在明亮的厨房里对着镜头说话",
    "一位老人在安静的图书馆里讲故事",
)


@dataclass(frozen=True)
class TinyUmt5Config:
    """Sizes of the tiny encoder; everything else follows `comfy/text_encoders/umt5_config_xxl.json`."""

    num_layers: int = 2
    num_heads: int = 4
    d_kv: int = 16       # head width
    d_ff: int = 64       # gated-GELU hidden width
    vocab_size: int = 160  # target size for the SentencePiece trainer (the model's table follows it)
    seed: int = 0


def train_spiece_model(vocab_size: int) -> bytes:
    """A SentencePiece unigram model (serialized proto) with umT5's pad/eos/unk ids, trained in memory."""
    import sentencepiece

    out = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 4), model_writer=out, model_type="unigram",
        vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=1.0,
        pad_id=PAD_ID, eos_id=EOS_ID, unk_id=UNK_ID, bos_id=-1,
        normalization_rule_name="nmt_nfkc", remove_extra_whitespaces=True,
        num_threads=1, shuffle_input_sentence=False, minloglevel=2,
    )
    return out.getvalue()


def spiece_vocab_size(spiece_model: bytes) -> int:
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_proto=spiece_model).get_piece_size()


def umt5_state_dict(cfg: TinyUmt5Config, vocab_size: int) -> dict[str, torch.Tensor]:
    """Random weights under the key names of ComfyUI's umT5-XXL files, rounded to fp16 like them.

    Scales follow T5's initialisation, so attention is neither flat nor saturated. fp16 values are
    exact in float32, which lets a float32 reference reproduce ComfyUI's output closely.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    inner = cfg.num_heads * cfg.d_kv

    def normal(shape: tuple[int, ...], std: float, mean: float = 0.0) -> torch.Tensor:
        return (torch.randn(shape, generator=gen) * std + mean).to(torch.float16)

    sd = {"shared.weight": normal((vocab_size, UMT5_WIDTH), 1.0)}
    for i in range(cfg.num_layers):
        attn, ff = f"encoder.block.{i}.layer.0.", f"encoder.block.{i}.layer.1."
        sd[attn + "SelfAttention.q.weight"] = normal((inner, UMT5_WIDTH), (UMT5_WIDTH * cfg.d_kv) ** -0.5)
        sd[attn + "SelfAttention.k.weight"] = normal((inner, UMT5_WIDTH), UMT5_WIDTH ** -0.5)
        sd[attn + "SelfAttention.v.weight"] = normal((inner, UMT5_WIDTH), UMT5_WIDTH ** -0.5)
        sd[attn + "SelfAttention.o.weight"] = normal((UMT5_WIDTH, inner), inner ** -0.5)
        # umT5 (unlike T5) has its own relative-position bias in every layer.
        sd[attn + "SelfAttention.relative_attention_bias.weight"] = normal((32, cfg.num_heads), 1.0)
        sd[attn + "layer_norm.weight"] = normal((UMT5_WIDTH,), 0.1, mean=1.0)
        sd[ff + "DenseReluDense.wi_0.weight"] = normal((cfg.d_ff, UMT5_WIDTH), UMT5_WIDTH ** -0.5)
        sd[ff + "DenseReluDense.wi_1.weight"] = normal((cfg.d_ff, UMT5_WIDTH), UMT5_WIDTH ** -0.5)
        sd[ff + "DenseReluDense.wo.weight"] = normal((UMT5_WIDTH, cfg.d_ff), cfg.d_ff ** -0.5)
        sd[ff + "layer_norm.weight"] = normal((UMT5_WIDTH,), 0.1, mean=1.0)
    sd["encoder.final_layer_norm.weight"] = normal((UMT5_WIDTH,), 0.1, mean=1.0)
    return sd


class _ClipTarget:
    """What `comfy.sd.load_text_encoder_state_dicts` passes to `comfy.sd.CLIP` (its EmptyClass)."""

    def __init__(self, clip: type, tokenizer: type) -> None:
        self.params: dict = {}
        self.clip = clip
        self.tokenizer = tokenizer


def make_tiny_umt5_clip(cfg: TinyUmt5Config = TinyUmt5Config()) -> comfy.sd.CLIP:
    """A native CLIP object: what CLIPLoader(type=wan) returns for a (tiny) umT5 file."""
    import comfy.sd
    import comfy.text_encoders.sd3_clip
    import comfy.text_encoders.wan
    import comfy.utils
    import folder_paths

    spiece_model = train_spiece_model(cfg.vocab_size)
    sd = umt5_state_dict(cfg, spiece_vocab_size(spiece_model))
    sizes = {"num_layers": cfg.num_layers, "num_heads": cfg.num_heads, "d_kv": cfg.d_kv,
             "d_ff": cfg.d_ff, "vocab_size": sd["shared.weight"].shape[0]}
    target = _ClipTarget(comfy.text_encoders.wan.te(**comfy.text_encoders.sd3_clip.t5_xxl_detect(sd)),
                         comfy.text_encoders.wan.WanT5Tokenizer)
    clip = comfy.sd.CLIP(target, embedding_directory=folder_paths.get_folder_paths("embeddings"),
                         tokenizer_data={"spiece_model": spiece_model},
                         parameters=comfy.utils.calculate_parameters(sd),
                         model_options={"umt5xxl_model_config": sizes})
    missing, unexpected = clip.load_sd(sd)
    if missing or unexpected:
        raise RuntimeError(f"tiny umT5 weights do not fit ComfyUI's umT5 classes: missing {missing}, "
                           f"unexpected {unexpected}")
    return clip
