"""Speech text node: what the person says (and the transcript of a voice to clone)."""

from __future__ import annotations

from comfy_api.latest import io

from ..uniavgen_core.limits import LimitError, check_speech_chars
from ..uniavgen_core.speakable import UnspeakableText, require_speakable, script_coverage, speakable_text
from ..uniavgen_core.speech_rate import estimate_speech_seconds
from .combos import check_combos
from .io_types import Speech
from .payloads import SpeechRequest

NODE = "UniAVGen Speech Text"
LANGUAGES = ["en", "zh"]
EMPTY_TEXT = f"{NODE}: 'text' is empty. Type the words the person should say."


def check_text(text: str, language: str):
    """Length bound and speakability of the text; ValueError worded for this node's 'text'."""
    try:
        check_speech_chars(len(text))
        coverage = script_coverage(text, language)
        require_speakable(coverage)
    except LimitError as err:
        raise ValueError(err.worded(NODE, "text")) from err
    except UnspeakableText as err:
        fix = ("Set 'language' to 'zh'." if coverage.suggested_language == "zh"
               else "Type the words in letters (emoji and symbols are not spoken).")
        raise ValueError(f"{NODE}: 'text' {err}. {fix}") from err
    return coverage


class SpeechText(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UniAVGenSpeechText",
            display_name=NODE,
            category="UniAVGen/conditioning",
            description="The words the person speaks. One clip holds about 5 s of speech; the "
                        "info output warns when the text is likely too long.",
            inputs=[
                io.String.Input("text", multiline=True, default="",
                                tooltip="What the person says. English is read character by character; "
                                        "Chinese is converted to pinyin with tones."),
                io.Combo.Input("language", options=LANGUAGES, default="en",
                               tooltip="en: English (characters). zh: Chinese (needs pypinyin and jieba)."),
                io.String.Input("reference_text", multiline=True, default="",
                                tooltip="Only for voice cloning: the exact transcript of the reference "
                                        "voice clip connected to the sampler. Leave empty otherwise."),
            ],
            outputs=[
                Speech.Output(display_name="speech"),
                io.String.Output(display_name="info"),
            ],
        )

    @classmethod
    def validate_inputs(cls, text: str | None = None, language: str | None = None) -> bool | str:
        # A linked text (e.g. from a string node) is None here: its value is known only when it runs.
        if text is not None and not text.strip():
            return EMPTY_TEXT
        if language is not None and language not in LANGUAGES:
            return f"{NODE}: language {language!r} is not supported; choose one of {LANGUAGES}."
        if text is not None and language is not None:  # a linked language: checked when it runs
            try:
                check_text(text.strip(), language)
            except ValueError as err:
                return str(err)
        return True

    @classmethod
    def execute(cls, text: str, language: str, reference_text: str = "") -> io.NodeOutput:
        request = SpeechRequest(text=text.strip(), language=language, reference_text=reference_text.strip())
        if not request.text:  # a linked text was not checked by validate_inputs
            raise ValueError(EMPTY_TEXT)
        check_combos(cls, NODE, f"Choose one of {LANGUAGES}.", language=language)
        coverage = check_text(request.text, language)
        try:
            check_speech_chars(len(request.reference_text))
        except LimitError as err:
            raise ValueError(err.worded(NODE, "reference_text")) from err
        estimate = estimate_speech_seconds(speakable_text(request.text, coverage), language)
        info = f"about {estimate.seconds:.1f} s of speech for a {estimate.window_seconds:.2f} s clip"
        if estimate.likely_too_long:
            info = (f"WARNING: about {estimate.seconds:.1f} s of speech "
                    f"(at least {estimate.min_seconds:.1f} s "
                    f"even spoken fast) will not fit a {estimate.window_seconds:.2f} s clip; it will be "
                    "rushed or cut. Shorten the text or split it over several clips.")
        elif estimate.seconds > estimate.window_seconds:
            info += " (tight: it will be spoken fast)"
        if coverage.describe():
            info = f"WARNING: {coverage.describe()}. {info}"
        return io.NodeOutput(request, info, ui={"text": [info]})
