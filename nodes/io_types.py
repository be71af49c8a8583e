"""The pack's own socket types: only where no native ComfyUI type fits."""

from comfy_api.latest import io

# A loaded UniAVGen video DiT / audio DiT (a ComfyUI ModelPatcher around the core module).
VideoDiT = io.Custom("UNIAVGEN_VIDEO_DIT")
AudioDiT = io.Custom("UNIAVGEN_AUDIO_DIT")
# A mel vocoder (BigVGAN as released, or Vocos).
Vocoder = io.Custom("UNIAVGEN_VOCODER")
# The words to speak: text, language and an optional reference transcript.
Speech = io.Custom("UNIAVGEN_SPEECH")
# A normalised 80-bin log-mel with what it is for (reference voice, condition audio, generated).
Mel = io.Custom("UNIAVGEN_MEL")
