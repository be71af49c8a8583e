"""The example graphs, one per task, with the official defaults and download links on every loader."""

from __future__ import annotations

from collections.abc import Callable

from .workflow_graph import Node

HF = "https://huggingface.co"
UMT5 = "umt5_xxl_fp8_e4m3fn_scaled.safetensors"
VAE = "wan2.2_vae.safetensors"
DIT = "UniAVGen/diffusion_pytorch_model.safetensors.index.json"
VOCODER = "UniAVGen/code2wav_bigvgan_model"
FACE, VOICE, SPEECH, CLIP = ("uniavgen_face.png", "uniavgen_voice.wav", "uniavgen_speech.wav",
                             "uniavgen_silent_clip.mp4")

CAPTION = ("A young man with short brown hair looks into the camera and talks in a calm, friendly way "
           "in front of a plain blue wall. Medium close-up, soft even light, static camera.")
SPEECH_TEXT = "Hello! This clip and my voice were made together by UniAVGen in ComfyUI."
VOICE_TRANSCRIPT = "This is the voice I would like you to use."


def _model(name: str, url: str, directory: str) -> dict:
    return {"models": [{"name": name, "url": url, "directory": directory}]}


DIT_MODEL = _model(DIT, f"{HF}/MCG-NJU/UniAVGen/resolve/main/diffusion_pytorch_model.safetensors.index.json",
                   "diffusion_models")
WAN_FILES = f"{HF}/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files"
UMT5_MODEL = _model(UMT5, f"{WAN_FILES}/text_encoders/{UMT5}", "text_encoders")
VAE_MODEL = _model(VAE, f"{WAN_FILES}/vae/{VAE}", "vae")
# named as the widget value, so the editor's missing-models check can match it
VOCODER_MODEL = _model(VOCODER,
                       f"{HF}/MCG-NJU/UniAVGen/resolve/main/code2wav_bigvgan_model/config.json",
                       "diffusion_models")

NOTE_COMMON = (
    "UniAVGen makes a 5.06 s clip (81 frames at 16 fps) with 24 kHz speech.\n\n"
    "Model files (see the pack's README):\n"
    "- diffusion_models/UniAVGen/: the sharded checkpoint from HF MCG-NJU/UniAVGen, plus vocab.txt from "
    "GitHub MCG-NJU/Sora2-mini beside the index json. Both DiT loaders take the same index file.\n"
    f"- text_encoders/{UMT5} and vae/{VAE}: Comfy-Org/Wan_2.2_ComfyUI_Repackaged.\n"
    "- the vocoder is the release's code2wav_bigvgan_model folder, inside diffusion_models/UniAVGen/ "
    "when the whole download is put there (or any vocoder in models/uniavgen_vocoders/).\n\n"
    "Settings are the official ones (50 steps, shift 5, video CFG 3, audio CFG 2, MA-CFG 0.5, SLG layer "
    "11, seed 2025). Lower short_side (e.g. 480) on small GPUs; fp8_e4m3fn halves the DiT memory.\n\n"
)
NOTES = {
    "avg": "Joint audio + video: a reference face, a caption of the scene and the words to say.",
    "ravg": ("Voice cloning: as the joint workflow, plus a reference voice (LoadAudio) whose exact "
             "transcript goes into Speech Text's reference_text."),
    "a2v": ("Audio-driven video: the face speaks the given audio (at most 5.06 s). The speech text "
            "should be the transcript of that audio."),
    "v2a": ("Dubbing: speech for a silent clip (16 fps; other rates are resampled; the first 81 frames "
            "are used). The clip's first frame is the reference image."),
    "native_avg": ("Native graph, joint audio + video: UniAVGen as a MODEL sampled by ComfyUI's own "
                   "SamplerCustomAdvanced (RandomNoise, KSamplerSelect, UniAVGen Scheduler, UniAVGen "
                   "Guider); the same result as the one-node sampler. Put LoraLoaderModelOnly, "
                   "ModelSamplingSD3 or other model patches between UniAVGen Model and the nodes that "
                   "use it; try other samplers / schedulers in KSamplerSelect / BasicScheduler."),
    "native_a2v": ("Native graph, audio-driven video: as the native joint workflow, with the speech "
                   "to animate connected to UniAVGen Conditioning's condition_audio."),
    "longform": ("Long clips: the text is split at sentence and clause ends into 5.06 s windows; each "
                 "window continues from the previous one's last frame and voice, with the same face. "
                 "The plan output shows the split."),
    "long_a2v": ("Long audio-driven video: a recording of any length animates the face. It is cut at "
                 "pauses into 5.06 s windows, each continuing from the last frame of the one before; "
                 "the video lasts exactly as long as the recording, which is passed through unchanged. "
                 "The text (optional) is its transcript."),
    "long_v2a": ("Long dubbing: a silent clip of any length gets speech, window by window, in one voice "
                 "(window 1's, or a reference voice's). The face comes from the clip's first frame; the "
                 "text is spread over the windows by speaking time."),
}
LONG_TEXT = ("Hello! This clip is longer than one window. UniAVGen makes five seconds at a time, so this "
             "workflow chains windows, and each one continues from the last frame and the voice of the "
             "one before. Thank you for watching.")


def _note(task: str) -> list[dict]:
    return [{"id": 99, "type": "Note", "pos": [-420, 0], "size": [380, 420], "flags": {}, "order": 99,
             "mode": 0, "inputs": [], "outputs": [], "properties": {}, "title": "About this workflow",
             "widgets_values": [NOTES[task] + "\n\n" + NOTE_COMMON]}]


def _shared(task: str, sampler_links: dict[str, tuple[int, int]]) -> list[Node]:
    """Loaders, captions, speech, sampler and decode; the task adds its condition nodes."""
    transcript = VOICE_TRANSCRIPT if task == "ravg" else ""
    return [
        Node(1, "CLIPLoader", (0, 0), {"clip_name": UMT5, "type": "wan"}, properties=UMT5_MODEL),
        Node(2, "CLIPTextEncode", (360, 0), {"text": CAPTION}, {"clip": (1, 0)}, title="Caption (positive)",
             size=(380, 160)),
        Node(3, "CLIPTextEncode", (360, 200), {"text": ""}, {"clip": (1, 0)}, title="Negative caption",
             size=(380, 100)),
        Node(4, "VAELoader", (0, 160), {"vae_name": VAE}, properties=VAE_MODEL),
        Node(7, "UniAVGenLoadVideoDiT", (0, 320), {"dit_name": DIT, "weight_dtype": "default"},
             properties=DIT_MODEL),
        Node(8, "UniAVGenLoadAudioDiT", (0, 460), {"dit_name": DIT, "weight_dtype": "default"},
             properties=DIT_MODEL),
        Node(9, "UniAVGenSpeechText", (360, 340),
             {"text": SPEECH_TEXT, "language": "en", "reference_text": transcript},
             size=(380, 220)),
        Node(10, "UniAVGenSampler", (800, 0), {},
             {"video_dit": (7, 0), "audio_dit": (8, 0), "positive": (2, 0), "negative": (3, 0),
              "speech": (9, 0), **sampler_links}, size=(340, 480)),
        Node(11, "VAEDecode", (1180, 0), {}, {"samples": (10, 0), "vae": (4, 0)}),
        Node(12, "UniAVGenLoadVocoder", (800, 520), {"vocoder_name": VOCODER}, properties=VOCODER_MODEL),
        Node(13, "UniAVGenVocoderDecode", (1180, 160), {}, {"vocoder": (12, 0), "mel": (10, 1)}),
        Node(14, "CreateVideo", (1180, 320), {"fps": 16.0}, {"images": (11, 0), "audio": (13, 0)}),
        Node(15, "UniAVGenSaveVideo", (1520, 0), {"filename_prefix": f"UniAVGen/{task}", "crf": 23},
             {"video": (14, 0)}, size=(480, 420)),
    ]


def _reference_image() -> list[Node]:
    return [
        Node(5, "LoadImage", (0, 620), {"image": FACE}, size=(320, 360)),
        Node(6, "UniAVGenReferenceImage", (360, 600), {"short_side": 736}, {"image": (5, 0), "vae": (4, 0)}),
    ]


def _mel_from(file: str, use_as: str) -> list[Node]:
    return [
        Node(16, "LoadAudio", (360, 760), {"audio": file}, size=(320, 140)),
        Node(17, "UniAVGenAudioToMel", (800, 760), {"use_as": use_as}, {"audio": (16, 0)}),
    ]


def avg() -> tuple[list[Node], list[dict]]:
    return _shared("avg", {"reference_image": (6, 0)}) + _reference_image(), _note("avg")


def ravg() -> tuple[list[Node], list[dict]]:
    links = {"reference_image": (6, 0), "reference_voice": (17, 0)}
    return _shared("ravg", links) + _reference_image() + _mel_from(VOICE, "reference_voice"), _note("ravg")


def a2v() -> tuple[list[Node], list[dict]]:
    links = {"reference_image": (6, 0), "condition_audio": (17, 0)}
    return _shared("a2v", links) + _reference_image() + _mel_from(SPEECH, "condition_audio"), _note("a2v")


def v2a() -> tuple[list[Node], list[dict]]:
    nodes = _shared("v2a", {"condition_video": (20, 0)}) + [
        Node(18, "LoadVideo", (0, 620), {"file": CLIP}, size=(320, 360)),
        Node(19, "GetVideoComponents", (360, 620), {}, {"video": (18, 0)}),
        Node(20, "UniAVGenConditionVideo", (360, 780), {"length": 81, "short_side": 736},
             {"images": (19, 0), "vae": (4, 0), "fps": (19, 2)}),
    ]
    return nodes, _note("v2a")


def longform() -> tuple[list[Node], list[dict]]:
    keep = {1, 2, 3, 4, 7, 8, 12}  # loaders and captions of the shared graph
    shared = [n for n in _shared("longform", {}) if n.id in keep]
    for node in shared:
        if node.id == 12:  # the vocoder loader moves out from under the long-form node
            node.pos = (360, 780)
    nodes = shared + _reference_image() + [
        Node(21, "UniAVGenLongForm", (800, 0), {"text": LONG_TEXT, "language": "en"},
             {"video_dit": (7, 0), "audio_dit": (8, 0), "vocoder": (12, 0), "vae": (4, 0), "positive": (2, 0),
              "negative": (3, 0), "reference_image": (6, 0)}, size=(380, 620)),
        Node(14, "CreateVideo", (1220, 320), {"fps": 16.0}, {"images": (21, 0), "audio": (21, 1)}),
        Node(15, "UniAVGenSaveVideo", (1520, 0), {"filename_prefix": "UniAVGen/longform", "crf": 23},
             {"video": (14, 0)}, size=(480, 420)),
    ]
    return nodes, _note("longform")


def _native(task: str, condition_links: dict[str, tuple[int, int]]) -> list[Node]:
    """The native graph: UniAVGen Model -> Conditioning -> SamplerCustomAdvanced -> Split Latent."""
    keep = {1, 2, 3, 4, 7, 8, 9, 12, 14, 15}
    nodes = [n for n in _shared(task, {}) if n.id in keep]
    for node in nodes:
        if node.id == 12:
            node.pos = (1180, 620)
        if node.id in (14, 15):
            node.pos = (node.pos[0] + 760, node.pos[1])
    return nodes + [
        Node(30, "UniAVGenModel", (360, 600), {}, {"video_dit": (7, 0), "audio_dit": (8, 0)}),
        Node(32, "UniAVGenConditioning", (800, 0), {"length": 81},
             {"model": (30, 0), "positive": (2, 0), "negative": (3, 0), "speech": (9, 0), **condition_links},
             size=(340, 260)),
        Node(33, "RandomNoise", (800, 300), {"noise_seed": 2025}),
        Node(34, "KSamplerSelect", (800, 420), {"sampler_name": "euler"}),
        Node(35, "UniAVGenScheduler", (800, 520), {"steps": 50, "shift": 5.0}),
        Node(36, "UniAVGenGuider", (1180, 0), {},
             {"model": (30, 0), "positive": (32, 0), "negative": (32, 1)}, size=(320, 260)),
        Node(37, "SamplerCustomAdvanced", (1180, 300), {},
             {"noise": (33, 0), "guider": (36, 0), "sampler": (34, 0), "sigmas": (35, 0),
              "latent_image": (32, 2)}),
        Node(38, "UniAVGenSplitLatent", (1560, 0), {}, {"latent": (37, 0)}),
        Node(11, "VAEDecode", (1560, 140), {}, {"samples": (38, 0), "vae": (4, 0)}),
        Node(13, "UniAVGenVocoderDecode", (1560, 260), {}, {"vocoder": (12, 0), "mel": (38, 1)}),
    ]


def native_avg() -> tuple[list[Node], list[dict]]:
    return _native("native_avg", {"reference_image": (6, 0)}) + _reference_image(), _note("native_avg")


def native_a2v() -> tuple[list[Node], list[dict]]:
    links = {"reference_image": (6, 0), "condition_audio": (17, 0)}
    return (_native("native_a2v", links) + _reference_image() + _mel_from(SPEECH, "condition_audio"),
            _note("native_a2v"))


def _long_form(task: str, extra: list[Node], links: dict[str, tuple[int, int]], widgets: dict) -> list[Node]:
    """Loaders, captions, the Long Form node fed by `links`, and the video saved with its audio."""
    keep = {1, 2, 3, 4, 7, 8, 12}
    shared = [n for n in _shared(task, {}) if n.id in keep]
    for node in shared:
        if node.id == 12:
            node.pos = (0, 1000)
    return shared + extra + [
        Node(21, "UniAVGenLongForm", (800, 0), {"language": "en", **widgets},
             {"video_dit": (7, 0), "audio_dit": (8, 0), "vocoder": (12, 0), "vae": (4, 0), "positive": (2, 0),
              "negative": (3, 0), **links}, size=(380, 720)),
        Node(14, "CreateVideo", (1220, 320), {"fps": 16.0}, {"images": (21, 0), "audio": (21, 1)}),
        Node(15, "UniAVGenSaveVideo", (1520, 0), {"filename_prefix": f"UniAVGen/{task}", "crf": 23},
             {"video": (14, 0)}, size=(480, 420)),
    ]


def long_a2v() -> tuple[list[Node], list[dict]]:
    extra = _reference_image() + [Node(16, "LoadAudio", (360, 780), {"audio": SPEECH}, size=(320, 140))]
    links = {"reference_image": (6, 0), "condition_audio": (16, 0)}
    return _long_form("long_a2v", extra, links, {"text": ""}), _note("long_a2v")


def long_v2a() -> tuple[list[Node], list[dict]]:
    extra = [
        Node(18, "LoadVideo", (0, 620), {"file": CLIP}, size=(320, 360)),
        Node(19, "GetVideoComponents", (360, 620), {}, {"video": (18, 0)}),
        Node(22, "ImageFromBatch", (360, 780), {"batch_index": 0, "length": 1}, {"image": (19, 0)}),
        Node(6, "UniAVGenReferenceImage", (360, 900), {"short_side": 736}, {"image": (22, 0), "vae": (4, 0)}),
    ]
    links = {"reference_image": (6, 0), "condition_video": (19, 0), "condition_video_fps": (19, 2)}
    return _long_form("long_v2a", extra, links, {"text": SPEECH_TEXT}), _note("long_v2a")


WORKFLOWS: dict[str, Callable[[], tuple[list[Node], list[dict]]]] = {
    "uniavgen_avg": avg, "uniavgen_ravg": ravg, "uniavgen_a2v": a2v, "uniavgen_v2a": v2a,
    "uniavgen_longform": longform, "uniavgen_native_avg": native_avg, "uniavgen_native_a2v": native_a2v,
    "uniavgen_long_a2v": long_a2v, "uniavgen_long_v2a": long_v2a,
}
