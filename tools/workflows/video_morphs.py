"""Video morphs through close stills (issue 32): an image model makes stills that change step by step (a FreeMorph
picture morph, a keyframed AID story), Wan Clips From Stills makes one Wan first-last-frame clip between each two
neighbouring stills, every clip a row of one sampling, and Join Clips puts the decoded clips together into one MP4."""

from .aid_video import WAN_NEGATIVE, wan_loaders
from .graph import GROUP_PADDING, GROUP_TITLE, Column, Node, Output, Workflow, workflow
from .keyframes import STORY, STORY_STEPS, _keyframe_batch, _length, _schedule
from .layout import (LOAD, NEGATIVE, PROMPTS, SAMPLE, SAVE, SEQUENCE, aid_patch, checkpoint, columns, encoded_photos,
                     models_line, prompt, sample_and_decode)
from .models import (SD15, SD21_768, WAN21_FLF2V_14B, WAN21_VAE, WAN22_I2V_HIGH, WAN22_I2V_LOW, WAN_CLIP_VISION_H,
                     WAN_UMT5)
from .picture_morphs import CAPTIONS, SD21, morph_and_sample

# Wan 14B (2.1 FLF2V and each Wan 2.2 A14B expert): parameters, FFN width, width, as benchmarks/aid_overhead.py has
# them (WAN_MODELS["wan21_14b"]).
WAN14B_PARAMS, WAN14B_FFN, WAN14B_WIDTH = 14.3e9, 13824, 5120
FPS = 16.0
SKIP = GROUP_PADDING + GROUP_TITLE  # between two groups of one column


def wan14b_memory_gb(width: int, height: int, frames: int, clips: int, weight_bytes: int) -> float:
    """GB (10^9 bytes) to sample ``clips`` clips of ``frames`` frames at ``width`` x ``height`` in one batch with cfg
    (2 rows a clip), computed as docs/long-sequences.md's video memory table is (benchmarks/aid_overhead.py,
    ``wan_memory_figures``): the weights (``weight_bytes`` a parameter: 2 fp16, 1 fp8) plus one block's activations
    of every row, tokens x (FFN + 4 x width) x 2 bytes; a clip's tokens are its latent frames x (height / 16) x
    (width / 16) (the VAE's 4x temporal, 8x spatial compression, then 2x2 patches)."""
    tokens = ((frames - 1) // 4 + 1) * (height // 16) * (width // 16)
    row = tokens * (WAN14B_FFN + 4 * WAN14B_WIDTH) * 2
    return (WAN14B_PARAMS * weight_bytes + 2 * clips * row) / 1e9


def memory_table(width: int, height: int, lengths: tuple[int, ...], clip_counts: tuple[int, ...],
                 weights: tuple[tuple[str, int], ...]) -> str:
    """A Markdown table: one line per (weights, length), one column per clip count."""
    head = "| weights, frames a clip | " + " | ".join(f"{c} clips" for c in clip_counts) + " |"
    rule = "|---|" + "---|" * len(clip_counts)
    lines = [f"| {label}, {length} | " + " | ".join(f"{wan14b_memory_gb(width, height, length, c, size):.0f}"
                                                    for c in clip_counts) + " |"
             for label, size in weights for length in lengths]
    return "\n".join([head, rule, *lines])


def _wan_text(w: Workflow, col: Column, clip: Output, text: str) -> tuple[Node, Node]:
    positive = prompt(w, col, clip, "Wan prompt (every clip)", text)
    negative = prompt(w, col, clip, "Wan negative (Wan's own)", WAN_NEGATIVE, height=200)
    w.group("Wan prompt", [positive, negative], color=PROMPTS)
    return positive, negative


def _join_and_save(w: Workflow, col: Column, images: Output, length: int, loop: bool, prefix: str) -> Node:
    join = w.node("InbetweenJoinClips", col.next(106), images=images, clip_length=length, loop=loop)
    video = w.node("CreateVideo", col.next(78), images=join["IMAGE"], fps=FPS)
    save = w.node("SaveVideo", col.next(250), video=video["VIDEO"], filename_prefix=f"inbetween/{prefix}",
                  format="mp4", codec="h264")
    w.group("Join and save", [join, video, save], color=SAVE)
    return join


def _clips(w: Workflow, col: Column, positive: Node, negative: Node, vae: Output, stills: Output, size: int,
           length: int, loop: bool, model: Output, vision: Output | None = None) -> list[Node]:
    nodes = []
    extra = {}
    if vision is not None:
        encode = w.node("CLIPVisionEncode", col.next(78), title="CLIP vision of every still",
                        clip_vision=vision, image=stills, crop="none")
        nodes.append(encode)
        extra["clip_vision_stills"] = encode["CLIP_VISION_OUTPUT"]
    clips = w.node("InbetweenWanClipsFromStills", col.next(240), positive=positive["CONDITIONING"],
                   negative=negative["CONDITIONING"], vae=vae, stills=stills, width=size, height=size, length=length,
                   loop=loop, model=model, **extra)
    return nodes + [clips]


MORPH_FRAMES, MORPH_SIZE, MORPH_LENGTH, MORPH_STEPS, MORPH_CFG = 5, 960, 33, 20, 5.0
MORPH_PROMPT = "an animal sitting on a sofa, it slowly turns into another animal, smooth natural motion, soft light"


@workflow("Video morph FreeMorph and Wan 2.1 FLF2V")
def video_morph_wan21_flf2v(w: Workflow):
    clips = MORPH_FRAMES - 1
    joined = clips * (MORPH_LENGTH - 1) + 1
    notes, load, pictures, prompts, sequence, morph, sample, animate, sample_clips, save = columns(
        340, 330, 400, 340, 340, 340, 360, 315, 340)
    w.group("Read me", [w.note(f"""
## A video morph from photo A to photo B: FreeMorph stills, Wan 2.1 FLF2V clips between them

Wan's first-last-frame model asked to go from one photo to a very different one gives a cross-fade or a wipe. Here
it only bridges pictures that are close. A FreeMorph picture morph on SD 2.1 768 (as `Picture morph FreeMorph (SD2.1)`, with
{MORPH_FRAMES} frames) makes {MORPH_FRAMES} stills from photo A to photo B, the photos themselves first and last.
*Wan Clips From Stills* makes one clip between each two neighbouring stills ({clips} clips of {MORPH_LENGTH} frames),
each conditioned as ComfyUI's *WanFirstLastFrameToVideo* conditions that pair (CLIP vision of both ends included),
all {clips} clips rows of one batch with one shared noise, sampled by one KSampler. *Join Clips* shows each still
where two clips meet once: {joined} frames, {joined / FPS:.0f} s at {FPS:g} fps, one MP4.

**Models**: the stills (any SD 2.x 768 checkpoint works):
{models_line(SD21_768)}

The clips (ComfyUI's Wan 2.1 first-last-frame set; the fp8 file `wan2.1_flf2v_720p_14B_fp8_e4m3fn.safetensors`
from the same folder halves the weights):
{models_line(WAN21_FLF2V_14B, WAN_CLIP_VISION_H, WAN_UMT5, WAN21_VAE)}

**Settings that matter**
- Picture morph: `frames` in both schedules ({MORPH_FRAMES}) is the number of stills; the clips are one fewer. More
  stills: closer neighbours (each clip a smaller step), more clips (memory below).
- *Wan Clips From Stills*: `width` x `height` {MORPH_SIZE}x{MORPH_SIZE} has the pixels of FLF2V's 1280x720 and keeps
  the square stills whole (another shape crops them); `length` {MORPH_LENGTH} (4k + 1) frames a clip; `model` is
  checked to be a first-last-frame Wan. *Join Clips*' `clip_length` and `loop` must match its `length` and `loop`.
- *KSampler*: {MORPH_STEPS} steps, cfg {MORPH_CFG:g}, uni_pc / simple, shift 8 (*ModelSamplingSD3*). Every clip
  starts from the seed's one noise: sampled together, each clip is what its pair gives sampled alone.
- No AID across the clips: on the tiny models it did not bring clips closer to their stills (the morphing
  guide's *Video morphs*).

**Memory** of the clip sampling in GB (computed as docs/long-sequences.md's Wan video memory table is,
from the model's size:
weights plus one block's activations of every row, 2 rows a clip with cfg; not measured on a GPU), by clips in the
batch at {MORPH_SIZE}x{MORPH_SIZE}:

{memory_table(MORPH_SIZE, MORPH_SIZE, (33, 81), (2, 4, 6, 8), (("fp16", 2), ("fp8", 1)))}

ComfyUI frees SD 2.1's memory for Wan when it needs it. Too much: fewer stills, a shorter `length`, or 640x640.

**Cost**: the picture morph as in `Picture morph FreeMorph (SD2.1)` ({SD21.inversion_calls} inversion calls on {MORPH_FRAMES}
frames); then {MORPH_STEPS} steps of {2 * clips} clip rows of Wan 14B, about {clips} times one FLF2V clip.

**Change**: load your photos in *Photo A* and *Photo B*, describe each in its caption and the motion in the Wan
prompt; the seed; `frames`, `length`.

**Expect** `output/inbetween/video_morph_wan21_flf2v_*.mp4`: {joined} frames at {FPS:g} fps, photo A to photo B,
passing through every still.
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD21_768)
    w.group("Load (stills)", [ckpt], color=LOAD)
    load.skip(SKIP)
    _, shift, text_encoder, vae, vision = wan_loaders(w, load, WAN21_FLF2V_14B, WAN21_VAE,
                                                      "Load (clips: Wan 2.1 FLF2V)", WAN_CLIP_VISION_H)

    picture_nodes, scaled, latents = encoded_photos(w, pictures, ckpt["VAE"], SD21.size)
    w.group("Pictures", picture_nodes, color=LOAD)
    a = prompt(w, prompts, ckpt["CLIP"], "Caption A (photo A)", CAPTIONS[0])
    b = prompt(w, prompts, ckpt["CLIP"], "Caption B (photo B)", CAPTIONS[1])
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", "")
    w.group("Captions", [a, b, negative], color=PROMPTS)
    prompts.skip(SKIP)
    wan_positive, wan_negative = _wan_text(w, prompts, text_encoder["CLIP"], MORPH_PROMPT)
    stills = morph_and_sample(w, (sequence, morph, sample), SD21, ckpt["MODEL"], ckpt["VAE"], a, b, negative, scaled,
                              latents, frames=MORPH_FRAMES)

    clip_nodes = _clips(w, animate, wan_positive, wan_negative, vae["VAE"], stills, MORPH_SIZE, MORPH_LENGTH, False,
                        shift["MODEL"], vision["CLIP_VISION"])
    w.group("Clips between the stills", clip_nodes, color=SEQUENCE)
    rows = clip_nodes[-1]
    sampled = sample_and_decode(w, sample_clips, shift["MODEL"], rows["positive"], rows["negative"], rows["latent"],
                                vae["VAE"], title="KSampler (every clip)", seed=42, steps=MORPH_STEPS, cfg=MORPH_CFG,
                                sampler_name="uni_pc", scheduler="simple")
    w.group("Sample clips", sampled, color=SAMPLE)
    _join_and_save(w, save, sampled[1]["IMAGE"], MORPH_LENGTH, False, "video_morph_wan21_flf2v")


STORY_STILL_FRAMES, STORY_SIZE, STORY_LENGTH, STORY_WAN_STEPS, STORY_SPLIT, STORY_CFG = 2, 640, 33, 20, 10, 3.5
STORY_MOTION = ("a lighthouse on a rocky cliff above the sea, waves rolling, clouds drifting, the seasons changing, "
                "slow camera push-in, oil painting")


@workflow("Video story loop (Wan 2.2 I2V)")
def video_story_wan22(w: Workflow):
    keyframes = len(STORY)
    stills_count = _length(keyframes, STORY_STILL_FRAMES, loop=True)
    joined = stills_count * (STORY_LENGTH - 1)
    notes, load, prompts, sequence, sample, animate, sample_clips, save = columns(
        340, 400, 340, 315, 315, 360, 340)
    w.group("Read me", [w.note(f"""
## A looping video story: keyframed stills, Wan 2.2 I2V A14B clips between them

Four prompts (spring, summer, autumn, winter) are the keyframes of a looping AID story on SD1.5, as in
`Keyframe story loop (SD1.5)` but with {STORY_STILL_FRAMES} frames a segment: {stills_count} stills, a keyframe and one
in-between each, the last leading back to spring. *Wan Clips From Stills* (`loop` on) makes one first-last-frame clip
between each two neighbouring stills and one from the last back to the first: {stills_count} clips of {STORY_LENGTH}
frames, rows of one batch with one shared noise. Wan 2.2 I2V A14B samples them through its two experts, as its
templates split them: *KSamplerAdvanced* with the high-noise expert for steps 0 to {STORY_SPLIT} of
{STORY_WAN_STEPS} (leftover noise returned), the low-noise expert for the rest. *Join Clips* (`loop` on) shows each
still once: {joined} frames, {joined / FPS:.0f} s at {FPS:g} fps, an MP4 that cycles.

**Models**: the stills (any SD1.5 checkpoint works):
{models_line(SD15)}

The clips (Wan 2.2 reads no CLIP vision; its VAE here is Wan 2.1's, as for the A14B models):
{models_line(WAN22_I2V_HIGH, WAN22_I2V_LOW, WAN_UMT5, WAN21_VAE)}

**Settings that matter**
- *Keyframe Schedule*: `keyframes` {keyframes} (one a prompt line), `frames_per_segment` {STORY_STILL_FRAMES}, `loop`
  on: {stills_count} stills. More frames a segment: closer stills (each clip a smaller step), more clips.
- *Wan Clips From Stills*: {STORY_SIZE}x{STORY_SIZE} (the stills are square), `length` {STORY_LENGTH} (4k + 1),
  `loop` on; *Join Clips* with the same `clip_length` and `loop`.
- The two *KSamplerAdvanced*: the same `steps` ({STORY_WAN_STEPS}), cfg {STORY_CFG:g}, euler / simple, shift 8 on
  both experts; the first ends where the second starts (`end_at_step` = `start_at_step` = {STORY_SPLIT}), the first
  adds the noise and returns what is left, the second adds none.
- One Wan prompt for every clip; a prompt per clip works too (one row per clip).

**Memory** of the clip sampling in GB (computed as docs/long-sequences.md's Wan video memory table is,
from the model's size:
one expert's fp8 weights, ComfyUI loads one at a time, plus one block's activations of every row, 2 rows a clip
with cfg; not measured on a GPU), by clips in the batch at {STORY_SIZE}x{STORY_SIZE}:

{memory_table(STORY_SIZE, STORY_SIZE, (33, 81), (4, 8, 12), (("fp8", 1),))}

Too much: fewer keyframes (prompt lines and `keyframes` together), a shorter `length`, or
512x512.

**Change**: the keyframe prompts (keep the scene, change what should change), the Wan prompt (the motion), the seeds.

**Expect** `output/inbetween/video_story_wan22_*.mp4`: {joined} frames at {FPS:g} fps through the four seasons and
back, and the stills' grid (`video_story_wan22_stills_*.png`).
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD15)
    schedule = _schedule(w, load, keyframes, STORY_STILL_FRAMES, loop=True, steps=STORY_STEPS)
    w.group("Load (stills)", [ckpt, schedule], color=LOAD)
    load.skip(SKIP)
    experts = []
    for model in (WAN22_I2V_HIGH, WAN22_I2V_LOW):
        unet = w.node("UNETLoader", load.next(82), models=[model], unet_name=model.name, weight_dtype="default")
        experts += [unet, w.node("ModelSamplingSD3", load.next(58), model=unet["MODEL"], shift=8.0)]
    text_encoder = w.node("CLIPLoader", load.next(106), models=[WAN_UMT5], clip_name=WAN_UMT5.name, type="wan",
                          device="default")
    vae = w.node("VAELoader", load.next(58), models=[WAN21_VAE], vae_name=WAN21_VAE.name)
    w.group("Load (clips: Wan 2.2 I2V A14B)", experts + [text_encoder, vae], color=LOAD)
    high, low = experts[1], experts[3]

    prompts_node = w.node("InbetweenEncodeKeyframePrompts", prompts.next(260), title="Keyframe prompts (one a line)",
                          clip=ckpt["CLIP"], prompts="\n".join(STORY))
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Keyframe prompts", [prompts_node, negative], color=PROMPTS)
    prompts.skip(SKIP)
    wan_positive, wan_negative = _wan_text(w, prompts, text_encoder["CLIP"], STORY_MOTION)

    batch = _keyframe_batch(w, sequence, prompts_node["keyframes"], schedule["schedule"])
    patch = aid_patch(w, sequence, ckpt["MODEL"], schedule["schedule"], max_rows=4)
    latent = w.node("InbetweenSharedNoiseLatent", sequence.next(130), width=512, height=512, frames=stills_count,
                    schedule=schedule["schedule"])
    w.group("Stills (AID story)", [batch, patch, latent], color=SEQUENCE)
    sampled = sample_and_decode(w, sample, patch["MODEL"], batch["CONDITIONING"], negative["CONDITIONING"],
                                latent["LATENT"], ckpt["VAE"], title="KSampler (stills)", seed=42, steps=STORY_STEPS,
                                cfg=7.5, sampler_name="euler", scheduler="normal")
    grid = w.node("InbetweenImageGrid", sample.next(110), images=sampled[1]["IMAGE"], columns=STORY_STILL_FRAMES,
                  padding=4, pad_value=1.0)
    save_stills = w.node("SaveImage", sample.next(250), images=grid["IMAGE"],
                         filename_prefix="inbetween/video_story_wan22_stills")
    w.group("Sample stills", sampled + [grid, save_stills], color=SAMPLE)

    clip_nodes = _clips(w, animate, wan_positive, wan_negative, vae["VAE"], sampled[1]["IMAGE"], STORY_SIZE,
                        STORY_LENGTH, True, high["MODEL"])
    w.group("Clips between the stills (loop)", clip_nodes, color=SEQUENCE)
    rows = clip_nodes[-1]
    common = dict(positive=rows["positive"], negative=rows["negative"], steps=STORY_WAN_STEPS, cfg=STORY_CFG,
                  sampler_name="euler", scheduler="simple")
    first = w.node("KSamplerAdvanced", sample_clips.next(334), title="High-noise expert (first steps)",
                   model=high["MODEL"], add_noise="enable", noise_seed=42, latent_image=rows["latent"],
                   start_at_step=0, end_at_step=STORY_SPLIT, return_with_leftover_noise="enable", **common)
    second = w.node("KSamplerAdvanced", sample_clips.next(334), title="Low-noise expert (the rest)",
                    model=low["MODEL"], add_noise="disable", noise_seed=0, latent_image=first["LATENT"],
                    start_at_step=STORY_SPLIT, end_at_step=10000, return_with_leftover_noise="disable", **common)
    decode = w.node("VAEDecode", sample_clips.next(46), samples=second["LATENT"], vae=vae["VAE"])
    w.group("Sample clips (two experts)", [first, second, decode], color=SAMPLE)
    _join_and_save(w, save, decode["IMAGE"], STORY_LENGTH, True, "video_story_wan22")
