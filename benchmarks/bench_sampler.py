"""Sampler step time (sequential vs batched CFG) and peak RSS on the CPU; prints one JSON object.

    python -m benchmarks.bench_sampler --golden --steps 4 --threads 2
    python -m benchmarks.bench_sampler --dim 512 --heads 4 --audio-dim 256 --audio-heads 2 \\
        --latent 21 8 8 --steps 3 --threads 2 [--path core|node|native] [--repeats 3]
The medium config keeps the official head width (128) with fewer channels; 21 latent frames give the
official 506 mel frames. Each mode runs `steps` full MA-CFG steps (cond + null pass per step).

--path picks the code that samples (the same weights, shapes and settings in each):
  core    uniavgen_core.sampler.sample, called directly;
  node    the UniAVGen Sampler node in an in-process ComfyUI, its DiTs from the loader nodes;
  native  RandomNoise + KSamplerSelect(euler) + UniAVGen Model / Conditioning / Guider / Scheduler +
          SamplerCustomAdvanced, the same way.
Wall-clock and process CPU time are both reported (medians of --repeats); on a shared machine run
with --threads 1 and compare CPU times: two threads competing with other load for two cores can be
several times slower in wall-clock, and unevenly so.
node and native need ComfyUI: --comfyui DIR or $UNIAVGEN_COMFYUI_DIR. The medium model's random
weights are written once to --checkpoint-dir (a single file, 746 MB) for the loaders to read.

--official DIR adds the path "official": the release's own UniAVGenPipeline.generate on the same
weights (loaded strictly into its WanModel), inputs and settings, timed in both phases (it has one
mode) and reported as vs_official (official s/step / path s/step). DIR holds three files of
MCG-NJU/Sora2-mini @ 6d9a41b, unchanged (sha256 checked), taken from a clone at MIRROR:
    mkdir -p DIR/wan/modules
    git --git-dir MIRROR show 6d9a41b:wan/modules/model.py > DIR/wan/modules/model.py
    git --git-dir MIRROR show 6d9a41b:wan/modules/attention.py > DIR/wan/modules/attention.py
    git --git-dir MIRROR show 6d9a41b:wan/infer.py > DIR/wan/infer.py
benchmarks/official_port.py imports them (flash-attn -> float32 SDPA; needs `pip install einops`).
Before timing, one forward of each pass kind (t = 937.5) is compared with joint_forward: the largest
relative error is reported as official_forward_rel_err and above 1e-5 nothing is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch


from .bench_forward import add_model_args, random_models
from .bench_load import _reset_peak, _status_kb
from .official_port import build_official, checkpoint_state, forward_rel_err, generate_kwargs, load_official
from uniavgen_core.checkpoint import load_uniavgen
from uniavgen_core.sampler import SamplerSettings, sample
from uniavgen_core.tasks import Task, TaskInputs
from uniavgen_core.text import SpeechTextEncoder, Vocabulary
from uniavgen_tools.dev.random_inputs import random_task_inputs
from uniavgen_tools.paths import PACK_ROOT

GOLDEN = Path(os.environ.get("UNIAVGEN_GOLDEN_DIR") or PACK_ROOT.parent / "shared" / "golden") / "checkpoint"
# 48 characters, as many speech tokens as the core path's random ids
SPEECH = "Hello there, it is a fine day to talk about cats."
CAPTION_TOKENS = 24
SEED = 2025
OFFICIAL_MAX_REL_ERR = 1e-5   # the official forward must match ours this closely before it is timed


def _speech_ids(vocab_size: int):
    from .comfy_host import bench_vocabulary

    return SpeechTextEncoder(Vocabulary.from_text(bench_vocabulary(vocab_size))).encode(SPEECH, "en")


def task_inputs(frames: int, height: int, width: int, vocab: int) -> TaskInputs:
    """What the nodes build for SPEECH, a 24-token caption, an empty negative and a random face."""
    texts = _speech_ids(vocab)
    positive, negative = texts.positive, texts.negative
    return random_task_inputs(Task.AVG, latent=(frames, height, width), caption_tokens=CAPTION_TOKENS, seed=1,
                              speech_ids=positive.ids[0], speech_len=int(positive.lens[0]),
                              neg_speech_ids=negative.ids[0], neg_speech_len=int(negative.lens[0]),
                              t5_negative=torch.zeros(0, 4096))


def node_inputs(inputs: TaskInputs) -> dict:
    """The same task as the nodes' inputs: CONDITIONING, SPEECH, the reference LATENT, the length."""
    import comfy.latent_formats

    from .comfy_host import node

    ref = comfy.latent_formats.Wan22().process_out(inputs.ref_latent)
    return {"positive": [[inputs.t5_context[None], {}]], "negative": [[inputs.t5_negative[None], {}]],
            "speech": node("UniAVGenSpeechText", text=SPEECH, language="en")[0],
            "reference_image": {"samples": ref},
            "length": 4 * (inputs.latent_frames - 1) + 1}


def write_checkpoint(models, folder: Path, args) -> Path:
    """The random medium weights as one safetensors file (kept: later runs read it again)."""
    from safetensors.torch import save_file

    name = f"uniavgen_{args.dim}x{args.heads}_{args.audio_dim}x{args.audio_heads}_{args.layers}.safetensors"
    path = folder / name
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for m in models for k, v in m.state_dict().items()}
        heads = {"dim": args.dim, "num_heads": args.heads, "audio_dim": args.audio_dim,
                 "audio_num_heads": args.audio_heads}
        save_file(state, str(path.with_suffix(".tmp")), metadata={"config": json.dumps(heads)})
        path.with_suffix(".tmp").rename(path)
    return path


class CorePath:
    def __init__(self, video, audio, inputs: TaskInputs):
        self.models, self.inputs = (video, audio), inputs

    def __call__(self, steps: int, batched: bool) -> None:
        with torch.inference_mode():
            sample(*self.models, self.inputs, SamplerSettings(steps=steps, seed=SEED, batched_cfg=batched))


class NodePath:
    """UniAVGen Sampler node, official defaults but steps and batched_cfg."""

    def __init__(self, video_dit, audio_dit, inputs: TaskInputs):
        self.dits, self.graph = (video_dit, audio_dit), node_inputs(inputs)

    def __call__(self, steps: int, batched: bool) -> None:
        from .comfy_host import node

        node("UniAVGenSampler", video_dit=self.dits[0], audio_dit=self.dits[1], seed=SEED, steps=steps,
             shift=5.0, video_cfg=3.0, audio_cfg=2.0, macfg_fraction=0.5, slg_layer=11, batched_cfg=batched,
             **self.graph)


class NativePath(NodePath):
    """The native graph: UniAVGen Model -> Conditioning -> Guider + Scheduler -> SamplerCustomAdvanced."""

    def __call__(self, steps: int, batched: bool) -> None:
        from .comfy_host import node

        g = self.graph
        model = node("UniAVGenModel", video_dit=self.dits[0], audio_dit=self.dits[1])[0]
        positive, negative, latent = node("UniAVGenConditioning", model=model, positive=g["positive"],
                                          negative=g["negative"], speech=g["speech"], length=g["length"],
                                          reference_image=g["reference_image"])
        guider = node("UniAVGenGuider", model=model, positive=positive, negative=negative, video_cfg=3.0,
                      audio_cfg=2.0, macfg_fraction=0.5, slg_layer=11, batched_cfg=batched)[0]
        node("SamplerCustomAdvanced", noise=node("RandomNoise", noise_seed=SEED)[0], guider=guider,
             sampler=node("KSamplerSelect", sampler_name="euler")[0],
             sigmas=node("UniAVGenScheduler", steps=steps, shift=5.0)[0], latent_image=latent)


class OfficialPath:
    """The release's UniAVGenPipeline.generate (official_port.py) with the core path's settings. It has
    one mode, so `batched` is ignored: it runs in both phases to stay interleaved with the others."""

    def __init__(self, folder: Path, configs, state: dict, inputs: TaskInputs, core_models):
        model_module, infer = load_official(folder)
        self.model, self.pipeline, self.inputs = build_official(model_module, *configs, state), infer, inputs
        self.rel_err = forward_rel_err(self.model, *core_models, inputs, SamplerSettings(steps=1, seed=SEED))

    def __call__(self, steps: int, batched: bool) -> None:
        pipeline = self.pipeline.UniAVGenPipeline(self.model, device="cpu", dtype=torch.float32)
        with torch.inference_mode():   # as the other paths run (ComfyUI runs prompts in it too)
            pipeline.generate(**generate_kwargs(self.inputs, SamplerSettings(steps=steps, seed=SEED)))


def build(args):
    """({path: sampler callable}, video config, audio config, weight bytes, inputs) for --path.

    With node or native among the paths the loader nodes load the weights and core samples those
    same modules; core alone keeps today's direct call on the in-memory random models. --official
    adds "official" on the checkpoint's weights (or the in-memory ones), checked against core's."""
    if args.golden:
        checkpoint = GOLDEN
        video, audio = load_uniavgen(GOLDEN, dtype=torch.float32)
        args.latent = (5, 4, 6)
    else:
        video, audio = random_models(args)
        checkpoint = (None if args.path == ["core"]
                      else write_checkpoint((video, audio), args.checkpoint_dir, args))
    inputs = task_inputs(*args.latent, audio.config.vocab_size)
    weights = sum(p.numel() * p.element_size() for m in (video, audio) for p in m.parameters())
    configs = video.config, audio.config
    if args.path == ["core"]:
        runs = {"core": CorePath(video, audio, inputs)}
        if args.official:
            state = checkpoint_state(checkpoint) if checkpoint else {k: v for m in (video, audio)
                                                                     for k, v in m.state_dict().items()}
            runs["official"] = OfficialPath(args.official, configs, state, inputs, (video, audio))
        return runs, configs, weights, inputs
    del video, audio   # the loaders read the weights again, as ComfyUI does
    from .comfy_host import boot, comfyui_dir, load_dits

    boot(comfyui_dir(args.comfyui))
    dits = load_dits(checkpoint, configs[1].vocab_size)
    made = {"core": lambda: CorePath(dits[0].model, dits[1].model, inputs),
            "node": lambda: NodePath(*dits, inputs), "native": lambda: NativePath(*dits, inputs)}
    runs = {name: made[name]() for name in args.path}
    if args.official:
        runs["official"] = OfficialPath(args.official, configs, checkpoint_state(checkpoint), inputs,
                                        (dits[0].model, dits[1].model))
    return runs, configs, weights, inputs


def timings(runs: dict, steps: int, repeats: int, batched: bool) -> dict[str, tuple[list, list]]:
    """(wall, CPU) s/step of each path, the paths interleaved run by run so that load drifting on a
    shared machine touches them alike. The process's CPU time barely moves with other load when
    torch runs on one thread (--threads 1): the figure to compare paths by on a busy machine."""
    for run in runs.values():
        run(1, batched)   # warm-up: cached tables, the first allocations
    times = {name: ([], []) for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run(steps, batched)
            times[name][0].append((time.perf_counter() - wall) / steps)
            times[name][1].append((time.process_time() - cpu) / steps)
    return times


def _ratios(top: dict, bottom: dict) -> dict[str, float]:
    """top s/step / bottom s/step in each phase, wall-clock and CPU."""
    return {f"{mode}{kind}": round(top[f"{mode}{kind}_s_per_step"] / bottom[f"{mode}{kind}_s_per_step"], 3)
            for mode in ("sequential", "batched") for kind in ("", "_cpu")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--golden", action="store_true",
                   help="the golden tiny checkpoint (5 latent frames of 4x6)")
    add_model_args(p)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--path", nargs="+", choices=("core", "node", "native"), default=["core"],
                   help="one path, or several to time interleaved in one process")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per mode; the median is reported")
    p.add_argument("--comfyui", help="ComfyUI checkout for node/native (default $UNIAVGEN_COMFYUI_DIR)")
    p.add_argument("--checkpoint-dir", type=Path, default=Path("/tmp/uniavgen_bench_checkpoints"),
                   help="where node/native keep the medium model's random weights")
    p.add_argument("--official", type=Path, metavar="DIR",
                   help="also time the official code from DIR (three files of the release, see above)")
    args = p.parse_args()
    args.path = list(dict.fromkeys(args.path))
    torch.set_num_threads(args.threads)
    runs, (video_cfg, audio_cfg), weights, inputs = build(args)
    torch.set_num_threads(args.threads)   # ComfyUI's import may have changed it
    official_err = runs["official"].rel_err if "official" in runs else None
    if official_err is not None and not official_err <= OFFICIAL_MAX_REL_ERR:
        refused = f"the official forward differs from ours by more than {OFFICIAL_MAX_REL_ERR}"
        print(json.dumps({"official_forward_rel_err": official_err, "refused": refused}))
        raise SystemExit(1)
    result = {"path": args.path[0] if len(runs) == 1 else list(runs),
              "config": "golden" if args.golden else "medium", "video_dim": video_cfg.dim,
              "video_heads": video_cfg.num_heads, "audio_dim": audio_cfg.dim,
              "layers": video_cfg.num_layers, "latent": list(args.latent),
              "mel_frames": inputs.mel_frames, "steps": args.steps, "repeats": args.repeats,
              "threads": torch.get_num_threads(), "torch": torch.__version__}
    if official_err is not None:
        result["official_forward_rel_err"] = official_err
    result["weights_mb"] = round(weights / 2**20, 1)
    result["rss_before_sampling_mb"] = round(_status_kb("VmRSS") / 1024, 1)
    result["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    per_path = {name: {} for name in runs}
    for batched in (False, True):
        mode = "batched" if batched else "sequential"
        _reset_peak()   # the high-water mark of this mode alone (Linux)
        for name, (wall, cpu) in timings(runs, args.steps, args.repeats, batched).items():
            per_path[name][f"{mode}_s_per_step"] = round(statistics.median(wall), 4)
            per_path[name][f"{mode}_s_per_step_all"] = [round(t, 4) for t in wall]
            per_path[name][f"{mode}_cpu_s_per_step"] = round(statistics.median(cpu), 4)
            per_path[name][f"{mode}_cpu_s_per_step_all"] = [round(t, 4) for t in cpu]
        result[f"{mode}_peak_rss_mb"] = round(_status_kb("VmHWM") / 1024, 1)
    for name, figures in per_path.items():
        if name != "official":   # one mode, timed twice
            figures["speedup_batched"] = round(figures["sequential_s_per_step"]
                                               / figures["batched_s_per_step"], 3)
        if "core" in per_path and name != "core":
            figures["vs_core"] = _ratios(figures, per_path["core"])
        if "official" in per_path and name != "official":
            figures["vs_official"] = _ratios(per_path["official"], figures)
    if len(per_path) == 1:
        result.update(next(iter(per_path.values())))
    else:
        result["paths"] = per_path
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
