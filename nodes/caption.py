"""Native CONDITIONING (CLIPTextEncode + umT5 via CLIPLoader type `wan`) -> the DiT's caption context.

What ComfyUI 0.3.75's Wan text encoder hands over, and why trimming trailing zero rows is exact:
- tokens: SentencePiece ids of the prompt + EOS (1), then pad (0) up to a *minimum* of 512; no
  truncation, so a longer prompt gives more than 512 rows;
- the encoder runs with the attention mask and then multiplies the pad rows by 0, so every pad row is
  exactly zero while every real row (final RMS-norm output) is not;
- the extra dict has `pooled_output: None` and, for Wan, no `attention_mask` (used if present).
The official path (umT5 on 512 padded ids with the mask, output cut to the mask length) gives the
same rows. Differences that remain are in the text, not here: ComfyUI reads `(word:1.2)` weights and
`embedding:` names, and does not apply the official ftfy/HTML-unescape cleaning.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

UMT5_WIDTH = 4096
TEXT_LEN = 512  # rows the official text path keeps at most (511 tokens + EOS)

_FIX = ("load the umT5-XXL text encoder (e.g. umt5_xxl_fp8_e4m3fn_scaled.safetensors) with a "
        "CLIPLoader whose type is 'wan', and encode the caption with CLIPTextEncode")
_KNOWN_WIDTHS = {768: "CLIP-L", 1024: "CLIP-H", 1280: "CLIP-G", 2048: "SDXL CLIP-L + CLIP-G"}


def caption_context(conditioning: list, *, input_name: str = "caption") -> torch.Tensor:  # -> [L, 4096]
    """The umT5 encoder output of one caption, trimmed to its tokens (incl. EOS, no padding).

    L can be 0 (a zeroed-out conditioning, e.g. ConditioningZeroOut): the DiT zero-pads the context
    to 512 rows, so an all-zero conditioning and an empty context are the same input to it.
    """
    rows, extra = _single_entry(conditioning, input_name)
    if "attention_mask" in extra:
        keep = extra["attention_mask"].reshape(-1).to(torch.bool)
        if keep.numel() != rows.shape[0]:
            raise ValueError(f"UniAVGen: the {input_name} conditioning has {rows.shape[0]} rows but an "
                             f"attention mask of {keep.numel()}; {_FIX}.")
        context = rows[keep.to(rows.device)]
    else:
        nonzero = rows.ne(0).any(dim=-1).nonzero()
        length = int(nonzero[-1]) + 1 if nonzero.numel() else 0
        context = rows[:length]
    if context.shape[0] > TEXT_LEN:
        log.warning("UniAVGen: the %s is %d umT5 tokens; the official model reads at most %d "
                    "(it truncates the text before encoding), so only the first %d rows are used and "
                    "they differ slightly from the official ones. Shorten the caption for exact "
                    "official behaviour.", input_name, context.shape[0], TEXT_LEN, TEXT_LEN)
        context = context[:TEXT_LEN]
    return context


def _single_entry(conditioning: list, input_name: str) -> tuple[torch.Tensor, dict]:
    """Validates the CONDITIONING structure; returns (rows [N, 4096], extra dict)."""
    if not isinstance(conditioning, (list, tuple)) or not conditioning:
        raise ValueError(f"UniAVGen: the {input_name} input is not a CONDITIONING (got "
                         f"{type(conditioning).__name__}); {_FIX}.")
    if len(conditioning) != 1:
        raise ValueError(f"UniAVGen: the {input_name} conditioning holds {len(conditioning)} entries "
                         "(from ConditioningCombine, timestep ranges or scheduled hooks); UniAVGen takes "
                         "one caption: write it into a single CLIPTextEncode.")
    entry = conditioning[0]
    if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and torch.is_tensor(entry[0])
            and isinstance(entry[1], dict)):
        raise ValueError(f"UniAVGen: the {input_name} conditioning entry is not [tensor, dict]; {_FIX}.")
    cond, extra = entry
    if cond.ndim != 3 or cond.shape[-1] != UMT5_WIDTH:
        width = cond.shape[-1] if cond.ndim else None
        source = f" (looks like {_KNOWN_WIDTHS[width]})" if width in _KNOWN_WIDTHS else ""
        raise ValueError(f"UniAVGen: the {input_name} conditioning has shape {tuple(cond.shape)}{source}; "
                         f"UniAVGen needs umT5-XXL rows [1, tokens, {UMT5_WIDTH}]: {_FIX}.")
    if cond.shape[0] != 1:
        raise ValueError(f"UniAVGen: the {input_name} conditioning has a batch of {cond.shape[0]}; "
                         "UniAVGen encodes one caption per input: use one CLIPTextEncode per caption.")
    if extra.get("pooled_output") is not None:
        raise ValueError(f"UniAVGen: the {input_name} conditioning carries a pooled CLIP vector, so it "
                         "comes from a CLIP-family or SD3/Flux text encoder, not from umT5; " + _FIX + ".")
    return cond[0], extra
