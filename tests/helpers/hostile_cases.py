"""Cases of the second bad-input campaign (issue 19), by defect class; none repeats round one.

1 unbounded sizes, 2 NaN/inf, 3 paths out of the model folder, 4 malformed model files,
5 unspeakable text, 6 combo values, 7 Save Video prefix, 8 messages in the user's terms.
"""

from __future__ import annotations

from . import hostile_models as hm
from . import tiny_prompts as tp
from .bad_cases import CHECKED, RUNTIME, Case
from uniavgen_tools.dev.stand_ins import VAE_NODE
from uniavgen_tools.dev.tiny_models import VOCODER_NAME

VDIT, ADIT, VOC = "UniAVGen Load Video DiT", "UniAVGen Load Audio DiT", "UniAVGen Load Vocoder"
SAMPLER, SPEECH, REF = "UniAVGen Sampler", "UniAVGen Speech Text", "UniAVGen Reference Image"
COND_VIDEO, TO_MEL, SAVE = "UniAVGen Condition Video", "UniAVGen Audio To Mel", "UniAVGen Save Video"
LONG, DECODE = "UniAVGen Long Form", "UniAVGen Vocoder Decode"
CONTAINED = "only use files inside its own folder"


def _node(class_type: str, **inputs) -> dict:
    return {"class_type": class_type, "inputs": inputs}


def _mel(audio: str, use_as: str = "reference_voice", vocoder: str = VOCODER_NAME) -> dict:
    return {
        "wav": _node("LoadAudio", audio=audio),
        "mel": _node("UniAVGenAudioToMel", audio=["wav", 0], use_as=use_as),
        "voc": _node("UniAVGenLoadVocoder", vocoder_name=vocoder),
        "dec": _node("UniAVGenVocoderDecode", vocoder=["voc", 0], mel=["mel", 0]),
        "out": _node("PreviewAudio", audio=["dec", 0]),
    }


def _speech(text: str, language: str = "en") -> dict:
    return {
        "speech": _node("UniAVGenSpeechText", text=text, language=language, reference_text=""),
        "prev": _node("PreviewAny", source=["speech", 1]),
    }


def _save(prefix) -> dict:
    return {
        "img": _node("EmptyImage", width=64, height=64, batch_size=2, color=0),
        "mux": _node("CreateVideo", images=["img", 0], fps=16.0),
        "save": _node("UniAVGenSaveVideo", video=["mux", 0], filename_prefix=prefix, crf=23),
    }


def _linked(prompt: dict, node: str, name: str, primitive: str, value) -> dict:
    prompt["prim"] = _node(primitive, value=value)
    prompt[node]["inputs"][name] = ["prim", 0]
    return prompt


def _cond_video(width: int, height: int, fps=16.0) -> dict:
    return {
        "vae": _node(VAE_NODE),
        "img": _node("EmptyImage", width=width, height=height, batch_size=21, color=0),
        "cond": _node(
            "UniAVGenConditionVideo", images=["img", 0], vae=["vae", 0], fps=fps, length=17, short_side=64
        ),
        "out": _node("PreviewImage", images=["cond", 2]),
    }


def _long_form(text: str, language: str = "en", seed: int = 7) -> dict:
    prompt = tp.avg()
    prompt["lf"] = _node(
        "UniAVGenLongForm",
        video_dit=["vdit", 0],
        audio_dit=["adit", 0],
        vocoder=["voc", 0],
        vae=["vae", 0],
        positive=["pos", 0],
        negative=["neg", 0],
        reference_image=["ref", 0],
        text=text,
        language=language,
        window_seconds=1.0,
        length=17,
        seed=seed,
        steps=1,
        shift=5.0,
        video_cfg=3.0,
        audio_cfg=2.0,
        macfg_fraction=0.5,
        slg_layer=1,
        batched_cfg=True,
    )
    for name in ("sampler", "decode", "audio", "mux", "save", "speech"):
        del prompt[name]
    prompt["plan"] = _node("PreviewAny", source=["lf", 2])
    return prompt


def sizes() -> list[Case]:
    return [
        Case(
            "r2_reference_image_75_to_1",
            tp.avg(image="wide.png"),
            RUNTIME,
            (REF, "'image' is 3000x40 pixels", "aspect ratio of 75.0:1", "at most 4:1", "Crop the image"),
        ),
        Case(
            "r2_reference_image_25_to_1_tall",
            tp.avg(image="tall.png"),
            RUNTIME,
            (REF, "'image' is 40x1000 pixels", "25.0:1", "Crop the image"),
        ),
        Case(
            "r2_reference_image_just_past_the_ratio",
            tp.avg(image="strip.png"),
            RUNTIME,
            (REF, "'image' is 33x200 pixels", "6.1:1", "Crop the image"),
        ),
        Case(
            "r2_long_side_over_4096",
            tp.edit(tp.avg(image="three_to_one.png"), "ref", short_side=2048),
            RUNTIME,
            (
                REF,
                "'image'",
                "'short_side' 2048",
                "6144x2048",
                "at most 4096 px",
                "Lower 'short_side' to 1344",
            ),
        ),
        Case(
            "r2_condition_video_20_to_1",
            _cond_video(640, 32),
            RUNTIME,
            (COND_VIDEO, "'images' is 640x32 pixels", "20.0:1", "Crop the image"),
        ),
        Case(
            "r2_reference_voice_15_s",
            _mel("long_voice.wav"),
            RUNTIME,
            (
                TO_MEL,
                "'audio' (24000 Hz, 1 channels, 360000 samples)",
                "lasts 15.00 s",
                "a reference voice may last at most 12.00 s",
                "Trim it to 12 s",
            ),
        ),
        Case(
            "r2_audio_rate_2000_hz",
            _mel("slow_rate.wav"),
            RUNTIME,
            (TO_MEL, "'audio'", "sample rate of 2000 Hz", "Re-export the audio at 24000"),
        ),
        Case(
            "r2_audio_20_channels",
            _mel("many_channels.wav", "condition_audio"),
            RUNTIME,
            (TO_MEL, "'audio'", "has 20 channels", "1..16 channels", "Connect a mono or stereo recording"),
        ),
        Case(
            "r2_speech_text_1500_chars",
            _speech("Hello there. " * 116),
            CHECKED,
            (SPEECH, "'text' has 1507 characters", "at most 1000", "UniAVGen Long Form"),
        ),
        Case(
            "r2_long_form_too_many_windows",
            _long_form("Hello there, my good friend. " * 200),
            RUNTIME,
            (LONG, "'text' needs", "windows of about 5 s", "at most 48", "Split the text over several runs"),
        ),
        Case(
            "r2_linked_speech_text_too_long",
            _linked(tp.avg(), "speech", "text", "PrimitiveStringMultiline", "word " * 400),
            RUNTIME,
            (SPEECH, "'text' has 1999 characters", "Shorten it"),
        ),
    ]


def non_finite() -> list[Case]:
    avg = tp.avg()
    return [
        Case(
            "r2_near_silent_audio",
            _mel("near_silent.wav"),
            RUNTIME,
            (TO_MEL, "'audio'", "is near-silent", "-80 dBFS", "Connect an audible recording"),
        ),
        Case(
            "r2_subnormal_audio",
            _mel("subnormal.wav", "condition_audio"),
            RUNTIME,
            (TO_MEL, "'audio'", "silent", "recording of speech"),
        ),
        Case(
            "r2_inf_audio",
            _mel("inf.wav"),
            RUNTIME,
            (TO_MEL, "'audio'", "holds 10 NaN/inf samples", "connect a recording of speech"),
        ),
        Case(
            "r2_nan_video_dit_weights",
            tp.edit(tp.edit(avg, "vdit", dit_name=hm.NAN_VIDEO), "adit", dit_name=hm.NAN_VIDEO),
            RUNTIME,
            (
                SAMPLER,
                "became NaN/inf while sampling",
                "weight tensors of the video DiT hold NaN/inf",
                "blocks.0.self_attn.q.weight",
                "re-download it",
            ),
        ),
        Case(
            "r2_nan_audio_dit_weights",
            tp.edit(tp.edit(avg, "vdit", dit_name=hm.NAN_AUDIO), "adit", dit_name=hm.NAN_AUDIO),
            RUNTIME,
            (SAMPLER, "became NaN/inf while sampling", "weight tensors of the audio DiT hold NaN/inf",
             "re-download it"),
        ),
        Case(
            "r2_nan_vocoder_weights",
            _mel("voice.wav", vocoder=hm.VOCODER_NAN),
            RUNTIME,
            (
                DECODE,
                "decoded audio holds",
                "NaN/inf samples",
                "vocoder's weights hold NaN/inf",
                "re-download the vocoder",
            ),
        ),
    ]


def containment() -> list[Case]:
    avg = tp.avg()
    return [
        Case(
            f"r2_index_{name}",
            tp.edit(avg, loader, dit_name=path),
            RUNTIME,
            (title, "'dit_name'", path, why, CONTAINED, "It was not opened"),
        )
        for name, loader, title, path, why in (
            ("dot_dot_to_another_model", "vdit", VDIT, hm.ESCAPE_DOTDOT, "climbs out with '..'"),
            ("absolute_path", "adit", ADIT, hm.ESCAPE_ABSOLUTE, "is an absolute path"),
            ("symlink_out", "vdit", VDIT, hm.ESCAPE_SYMLINK, "leads out of the folder"),
            ("symlinked_subfolder_out", "adit", ADIT, hm.ESCAPE_SUBFOLDER, "leads out of the folder"),
            ("etc_passwd", "vdit", VDIT, hm.ESCAPE_PASSWD, "climbs out with '..'"),
            ("windows_dot_dot", "adit", ADIT, hm.ESCAPE_BACKSLASH, "climbs out with '..'"),
        )
    ]


def model_files() -> list[Case]:
    avg = tp.avg()
    return [
        Case(
            "r2_index_not_text",
            tp.edit(avg, "vdit", dit_name=hm.BINARY_INDEX),
            RUNTIME,
            (VDIT, "'dit_name'", "is not text (not UTF-8)", "re-download the index json"),
        ),
        Case(
            "r2_index_broken_json",
            tp.edit(avg, "adit", dit_name=hm.BROKEN_JSON_INDEX),
            RUNTIME,
            (ADIT, "'dit_name'", "is not valid JSON", "line 1", "re-download the index json"),
        ),
        Case(
            "r2_index_is_a_list",
            tp.edit(avg, "vdit", dit_name=hm.LIST_INDEX),
            RUNTIME,
            (VDIT, "'dit_name'", "has no 'weight_map' object", "re-download the index json"),
        ),
        Case(
            "r2_config_json_is_a_list",
            tp.edit(avg, "vdit", dit_name=hm.LIST_CONFIG),
            RUNTIME,
            (VDIT, "'dit_name'", "config.json holds a JSON list", "re-download config.json"),
        ),
        Case(
            "r2_vocabulary_not_text",
            tp.edit(avg, "adit", dit_name=hm.BINARY_VOCAB),
            RUNTIME,
            (ADIT, "'dit_name'", "vocab.txt is not UTF-8 text", "copy vocab.txt from the official"),
        ),
        Case(
            "r2_vocoder_config_broken_json",
            _mel("voice.wav", vocoder=hm.VOCODER_BAD_JSON),
            RUNTIME,
            (
                VOC,
                "'vocoder_name'",
                hm.VOCODER_BAD_JSON,
                "config.json in",
                "is not valid JSON",
                "re-download the released code2wav_bigvgan_model",
            ),
        ),
        Case(
            "r2_vocoder_weights_damaged",
            _mel("voice.wav", vocoder=hm.VOCODER_BAD_WEIGHTS),
            RUNTIME,
            (VOC, "'vocoder_name'", "model.safetensors is not a readable safetensors file", "re-download"),
        ),
        Case(
            "r2_plain_wan_ti2v_5b",
            tp.edit(avg, "vdit", dit_name=hm.WAN_TI2V),
            RUNTIME,
            (VDIT, "'dit_name'", "a plain Wan 2.2 TI2V 5B checkpoint", "Use the UniAVGen release"),
        ),
        Case(
            "r2_plain_wan_to_audio_loader",
            tp.edit(avg, "adit", dit_name=hm.WAN_TI2V),
            RUNTIME,
            (ADIT, "'dit_name'", "a plain Wan 2.2 TI2V 5B checkpoint", "ComfyUI's own loaders"),
        ),
        Case(
            "r2_image_model",
            tp.edit(avg, "vdit", dit_name=hm.FLUX),
            RUNTIME,
            (VDIT, "'dit_name'", "a Flux or HunyuanVideo-style diffusion model", "Use the UniAVGen release"),
        ),
    ]


def speech() -> list[Case]:
    fix = "Type the words in letters"
    return [
        Case(
            "r2_emoji_only",
            _speech("😀🎉 👍"),
            CHECKED,
            (SPEECH, "'text' has nothing the model can say", "GRINNING FACE", fix),
        ),
        Case(
            "r2_chinese_with_en",
            _speech("你好，很高兴认识你"),
            CHECKED,
            (SPEECH, "'text' has nothing the model can say", "written in Chinese", "Set 'language' to 'zh'"),
        ),
        Case(
            "r2_invisible_characters",
            _speech("\u200b\u200d\ue000"),
            CHECKED,
            (SPEECH, "'text' has nothing the model can say", "U+E000", fix),
        ),
        Case(
            "r2_symbols_only",
            _speech("★★★ ♥ ☂"),
            CHECKED,
            (SPEECH, "'text' has nothing the model can say", "BLACK STAR", fix),
        ),
        Case(
            "r2_linked_emoji_text",
            _linked(tp.avg(), "speech", "text", "PrimitiveStringMultiline", "🙂🙂🙂"),
            RUNTIME,
            (SPEECH, "'text' has nothing the model can say", "SLIGHTLY SMILING FACE", fix),
        ),
        Case(
            "r2_long_form_emoji_text",
            _long_form("🙂 🙂. 🎉!"),
            RUNTIME,
            (LONG, "'text' has nothing the model can say", "checkpoint's vocabulary", "Type words"),
        ),
    ]


def combos() -> list[Case]:
    avg = tp.avg()
    return [
        Case(
            "r2_use_as_unknown",
            _mel("voice.wav", use_as="voice_clone"),
            CHECKED,
            (TO_MEL, "'use_as' 'voice_clone' is not one of", "reference_voice", "condition_audio"),
            frozenset({"use_as"}),
        ),
        Case(
            "r2_use_as_a_number",
            _mel("voice.wav", use_as=3),
            CHECKED,
            (TO_MEL, "'use_as' 3 is not one of", "Pick reference_voice"),
        ),
        Case(
            "r2_vocoder_name_unknown",
            _mel("voice.wav", vocoder="nothere_vocoder"),
            CHECKED,
            (
                VOC,
                "'vocoder_name' 'nothere_vocoder' is not one of",
                "Put the released code2wav_bigvgan_model",
            ),
            frozenset({"vocoder_name"}),
        ),
        Case(
            "r2_vocoder_name_climbs_out",
            _mel("voice.wav", vocoder="../../etc"),
            CHECKED,
            (VOC, "'vocoder_name' '../../etc' is not one of", "refresh the node list"),
        ),
        Case(
            "r2_long_form_language_unknown",
            _long_form("Hello.", language="fr"),
            CHECKED,
            (LONG, "'language' 'fr' is not one of", "Choose one of ['en', 'zh']"),
            frozenset({"language"}),
        ),
        Case(
            "r2_weight_dtype_a_number",
            tp.edit(avg, "vdit", weight_dtype=8),
            CHECKED,
            (VDIT, "'weight_dtype' 8 is not one of"),
        ),
        Case(
            "r2_dit_name_climbs_out",
            tp.edit(avg, "adit", dit_name="../../../etc/passwd"),
            CHECKED,
            (
                ADIT,
                "'dit_name' '../../../etc/passwd' is not in models/diffusion_models",
                "Put the UniAVGen checkpoint there",
            ),
        ),
    ]


def save_prefix() -> list[Case]:
    only = frozenset({"filename_prefix"})
    return [
        Case(
            "r2_prefix_nul_byte",
            _save("clip\x00evil"),
            CHECKED,
            (SAVE, "'filename_prefix' 'clip\\x00evil'", "control character", "remove them"),
            only,
        ),
        Case(
            "r2_prefix_empty",
            _save(""),
            CHECKED,
            (SAVE, "'filename_prefix' ''", "is empty", "UniAVGen/clip"),
            only,
        ),
        Case(
            "r2_prefix_blank",
            _save("   "),
            CHECKED,
            (SAVE, "'filename_prefix'", "is empty", "UniAVGen/clip"),
            only,
        ),
        Case(
            "r2_prefix_hidden_file",
            _save(".clip"),
            CHECKED,
            (SAVE, "'filename_prefix' '.clip'", "starting with '.'", "use e.g. UniAVGen/clip"),
            only,
        ),
        Case(
            "r2_prefix_too_long",
            _save("x" * 300),
            CHECKED,
            (SAVE, "'filename_prefix'", "(300 chars)", "has a name of 300 bytes", "keep each part under 200"),
            only,
        ),
        Case(
            "r2_prefix_absolute",
            _save("/tmp/clip"),
            CHECKED,
            (SAVE, "'filename_prefix' '/tmp/clip'", "absolute path", "relative name"),
            only,
        ),
        Case(
            "r2_prefix_newline",
            _save("UniAVGen/a\nb"),
            CHECKED,
            (SAVE, "'filename_prefix'", "control character", "'\\n'"),
            only,
        ),
        Case(
            "r2_linked_prefix_nul_byte",
            _linked(_save("x"), "save", "filename_prefix", "PrimitiveString", "a\x00b"),
            RUNTIME,
            (SAVE, "'filename_prefix' 'a\\x00b'", "control character", "remove them"),
        ),
    ]


def user_terms() -> list[Case]:
    avg = tp.avg()
    return [
        Case(
            "r2_linked_negative_step_cache",
            _linked(tp.avg(), "sampler", "step_cache", "PrimitiveFloat", -0.5),
            RUNTIME,
            (SAMPLER, "'step_cache' must be a finite number >= 0", "-0.5"),
        ),
        Case(
            "r2_linked_negative_fps",
            _linked(_cond_video(96, 64), "cond", "fps", "PrimitiveFloat", -16.0),
            RUNTIME,
            (COND_VIDEO, "'fps' is -16.0", "frame rate", "Connect GetVideoComponents' fps output"),
        ),
        Case(
            "r2_linked_zero_fps",
            _linked(_cond_video(96, 64), "cond", "fps", "PrimitiveFloat", 0.0),
            RUNTIME,
            (COND_VIDEO, "'fps' is 0.0", "Connect GetVideoComponents' fps output"),
        ),
        Case(
            "r2_linked_length_1",
            _linked(tp.avg(), "sampler", "length", "PrimitiveInt", 1),
            RUNTIME,
            (SAMPLER, "'length' is 1", "at least 5"),
        ),
        Case(
            "r2_linked_negative_seed",
            _linked(tp.avg(), "sampler", "seed", "PrimitiveInt", -3),
            RUNTIME,
            (SAMPLER, "seed", "-3", "2**64"),
        ),
        Case(
            "r2_condition_video_and_reference_of_other_sizes",
            _v2a_with_other_reference(),
            RUNTIME,
            (
                SAMPLER,
                "'condition_video' latent size",
                "does not match the reference latent",
                "encode both at the same resolution",
            ),
        ),
        Case(
            "r2_steps_above_max",
            tp.edit(avg, "sampler", steps=5000),
            CHECKED,
            (SAMPLER, "'steps' is 5000", "use 1..1000"),
        ),
    ]


def _v2a_with_other_reference() -> dict:
    prompt = tp.v2a()
    prompt["img"] = _node("LoadImage", image="ref.png")
    prompt["ref"] = _node("UniAVGenReferenceImage", image=["img", 0], vae=["vae", 0], short_side=96)
    prompt["sampler"]["inputs"]["reference_image"] = ["ref", 0]
    return prompt


def hostile_cases() -> list[Case]:
    return (
        sizes()
        + non_finite()
        + containment()
        + model_files()
        + speech()
        + combos()
        + save_prefix()
        + user_terms()
    )


CLASSES = {
    "sizes": sizes,
    "non_finite": non_finite,
    "containment": containment,
    "model_files": model_files,
    "speech": speech,
    "combos": combos,
    "save_prefix": save_prefix,
    "user_terms": user_terms,
}
