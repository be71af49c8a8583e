"""Stand-ins for CLIPLoader (umT5, type wan) and VAELoader (Wan 2.2 VAE) in tests: tiny, random, fast."""

from __future__ import annotations

from comfy_api.latest import io

from .tiny_umt5 import make_tiny_umt5_clip
from .tiny_vae import make_tiny_wan22_vae


class UniAVGenTestTinyTextEncoder(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenTestTinyTextEncoder",
            display_name="UniAVGen Test: tiny umT5 (CLIPLoader stand-in)",
            category="UniAVGenTest",
            description="TEST ONLY. A random 2-layer umT5 (width 4096) with a tiny SentencePiece "
                        "vocabulary, built with ComfyUI's Wan text-encoder classes. Replaces "
                        "CLIPLoader(type=wan, umT5-XXL) in tests.",
            inputs=[],
            outputs=[io.Clip.Output(display_name="clip")],
        )

    @classmethod
    def execute(cls) -> io.NodeOutput:
        return io.NodeOutput(make_tiny_umt5_clip())


class UniAVGenTestTinyVAE(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenTestTinyVAE",
            display_name="UniAVGen Test: tiny Wan 2.2 VAE (VAELoader stand-in)",
            category="UniAVGenTest",
            description="TEST ONLY. The Wan 2.2 VAE architecture at width 8 with random weights: "
                        "48 latent channels, 4x16x16 compression. Replaces VAELoader(Wan 2.2) in tests.",
            inputs=[],
            outputs=[io.Vae.Output(display_name="vae")],
        )

    @classmethod
    def execute(cls) -> io.NodeOutput:
        return io.NodeOutput(make_tiny_wan22_vae())
