"""One AID sequence on several GPUs or machines: frame shares through ComfyUI-Distributed (SD1.5)."""

from .aid import AID_SETTINGS
from .graph import OTHER_PACKS, Workflow, workflow
from .layout import LOAD, NEGATIVE, PROMPTS, SAMPLE, SAVE, SEQUENCE, aid_patch, checkpoint, columns, models_line
from .layout import prompt, prompt_batch, save_sequence
from .models import SD15

from pathlib import Path

DISTRIBUTED_PACK = "custom_nodes.ComfyUI-Distributed"
# The snapshot the tests and the thumbnail use, beside the project (never committed).
SNAPSHOT = Path(__file__).resolve().parents[3] / "shared" / "packs" / "ComfyUI-Distributed-v1.4.4.tar.gz"
# ComfyUI-Distributed v1.4.4's nodes as its /object_info lists them (nodes/utilities.py, nodes/collector.py).
OTHER_PACKS.update({
    "DistributedSeed": {
        "input": {"required": {"seed": ["INT", {"default": 1125899906842, "min": 0, "max": 1125899906842624,
                                                "forceInput": False}]},
                  "hidden": {"is_worker": ["BOOLEAN", {"default": False}], "worker_id": ["STRING", {"default": ""}]}},
        "input_order": {"required": ["seed"], "hidden": ["is_worker", "worker_id"]},
        "output": ["INT"], "output_is_list": [False], "output_name": ["seed"], "name": "DistributedSeed",
        "display_name": "Distributed Seed", "description": "", "python_module": DISTRIBUTED_PACK, "category": "utils",
        "output_node": False},
    "DistributedCollector": {
        "input": {"required": {"images": ["IMAGE"], "load_balance": ["BOOLEAN", {"default": False}]},
                  "optional": {"audio": ["AUDIO"]}},
        "input_order": {"required": ["images", "load_balance"], "optional": ["audio"]},
        "output": ["IMAGE", "AUDIO"], "output_is_list": [False, False], "output_name": ["images", "audio"],
        "name": "DistributedCollector", "display_name": "Distributed Collector", "description": "",
        "python_module": DISTRIBUTED_PACK, "category": "image", "output_node": False},
})
FRAMES, MAX_ROWS, PARTICIPANTS = 31, 4, 2


@workflow("AID long sequence on several GPUs (SD1.5)")
def aid_long_sequence_distributed_sd15(w: Workflow):
    notes, load, prompts, sequence, sample, save = columns(315, 400, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## One AID sequence on two GPUs or machines (SD1.5, ComfyUI-Distributed)

A {FRAMES}-frame morph from prompt A to prompt B, sampled by a **master and one worker** at once, each computing its
**share** of the frames; the master gathers them. The frames are exactly those one GPU gives with the same
`max_rows`, bit for bit.

**Needs** [ComfyUI-Distributed](https://github.com/robertvoy/ComfyUI-Distributed) and this pack on every
participant (master and workers, each a ComfyUI server), and the same checkpoint on each. In the Distributed panel,
add the worker (its host and port) and enable it; queue with the panel's button (it posts `/distributed/queue`).

**How**: *Distributed Seed* is **fixed at 0** (keep it fixed: its widget would otherwise randomize), so the master
gets 0 and the i-th worker i: that is *AID Attention Patch*'s `share_index`. `share_count` is the number of
participants ({PARTICIPANTS}; set it to yours). With `max_rows` {MAX_ROWS} every model call runs in parts; each
participant computes its own run of parts and the keyframes they attend to, and skips the rest. *AID Share Frames*
takes its frames out of the latent, *Distributed Collector* gathers the master's and then each worker's, and *AID
Check Gathered Frames* stops with the shares that are missing if a worker failed or timed out.

**Model** (any SD1.5 checkpoint works; pick yours in *Load Checkpoint*):
{models_line(SD15)}

**Time**: with two participants the master computes frames 0-16 and endpoint B, the worker frames 17-30 and
endpoint A: 18 of 31 frames at most, 1.72x faster at best. More participants: raise `share_count`.

{AID_SETTINGS.replace("(7)", f"({FRAMES})")}

**Expect** in the master's `output/inbetween/`: an animated WEBP and a grid of all {FRAMES} frames.
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD15)
    schedule = w.node("InbetweenBetaCoefficientSchedule", load.next(250), title="Beta schedule (alpha = beta = steps)",
                      frames=FRAMES, preset="classic", steps=25, start=0.0, end=1.0)
    share = w.node("DistributedSeed", load.next(82), title="Share index (master 0, worker i: i)", seed=0)
    w.group("Load", [ckpt, schedule, share], color=LOAD)
    a = prompt(w, prompts, ckpt["CLIP"], "Prompt A (first frame)",
               "a photo of a cat sitting on a wooden table, soft window light")
    b = prompt(w, prompts, ckpt["CLIP"], "Prompt B (last frame)",
               "a photo of a dog sitting on a wooden table, soft window light")
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [a, b, negative], color=PROMPTS)
    batch = prompt_batch(w, sequence, a["CONDITIONING"], b["CONDITIONING"], schedule["schedule"])
    patch = aid_patch(w, sequence, ckpt["MODEL"], schedule["schedule"], max_rows=MAX_ROWS, share_index=share["seed"],
                      share_count=PARTICIPANTS)
    latent = w.node("InbetweenSharedNoiseLatent", sequence.next(130), width=512, height=512, frames=FRAMES,
                    schedule=schedule["schedule"])
    w.group("Sequence", [batch, patch, latent], color=SEQUENCE)
    sampler = w.node("KSampler", sample.next(262), model=patch["MODEL"], seed=42, steps=25, cfg=7.5,
                     sampler_name="euler", scheduler="normal", positive=batch["CONDITIONING"],
                     negative=negative["CONDITIONING"], latent_image=latent["LATENT"], denoise=1.0)
    frames = w.node("InbetweenAIDShareFrames", sample.next(46), model=patch["MODEL"], samples=sampler["LATENT"])
    decode = w.node("VAEDecode", sample.next(46), samples=frames["LATENT"], vae=ckpt["VAE"])
    w.group("Sample this share", [sampler, frames, decode], color=SAMPLE)
    collector = w.node("DistributedCollector", save.next(58), images=decode["IMAGE"], load_balance=False)
    check = w.node("InbetweenAIDCheckGatheredFrames", save.next(82), images=collector["images"], model=patch["MODEL"],
                   pictures_per_frame=1)
    w.group("Gather and save", [collector, check] + save_sequence(w, save, check["IMAGE"],
                                                                  "aid_long_sequence_distributed", grid_columns=8),
            color=SAVE)
