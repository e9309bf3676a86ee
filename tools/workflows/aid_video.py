"""AID on video (Wan 2.1 T2V 1.3B, Wan 2.2 TI2V 5B: each row of the batch a whole clip) and on Z-Image Turbo, with
the loaders, latents and sampler settings ComfyUI's own templates use for these models (text_to_video_wan,
video_wan2_2_5B_ti2v, image_z_image_turbo).

A video row is a clip, so the image nodes' Shared Noise Latent does not apply: the latent comes from the model's own
empty-latent node with one row per clip, and core *Latent Batch Seed Behavior* (`fixed`) gives every row
batch_index 0, so KSampler starts every clip from the same noise, the noise of a single clip with that seed."""

from .aid_transformers import TRANSFORMER_SETTINGS, _aid_sequence, _sample_and_save
from .graph import GROUP_PADDING, GROUP_TITLE, Column, Node, Output, Workflow, workflow
from .layout import LOAD, PROMPTS, SAMPLE, SAVE, SEQUENCE, aid_patch, columns, models_line, prompt, prompt_batch
from .models import (FLUX_VAE, QWEN3_4B, WAN21_T2V_1_3B, WAN21_VAE, WAN22_TI2V_5B, WAN22_VAE, WAN_UMT5,
                     Z_IMAGE_TURBO)

CLIPS = 5
# Wan's own negative prompt, as ComfyUI's Wan templates give it (Wan was trained with it, in Chinese).
WAN_NEGATIVE = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，丑陋的，"
                "残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，"
                "背景人很多，倒着走")
WAN_PROMPTS = ("a red fox running through a snowy forest, tracking camera, daytime, winter scenery",
               "a white wolf running through a snowy forest, tracking camera, daytime, winter scenery")

VIDEO_SETTINGS = """**Settings that matter**
- Keep `batch_size` (Wan 2.1) or `amount` (Wan 2.2) equal to the schedule's `frames`: one latent row per clip.
  *Latent Batch Seed Behavior* `fixed` gives every clip the same starting noise; without it AID warns and the
  clips wander apart.
- *AID Attention Patch*: on Wan self- and cross-attention are separate calls. `self` joins the end clips' video
  tokens (what keeps the clips alike), `cross` their text; `self + cross` (default) both. `end_percent` 0.5: AID in
  the first half of the steps. `max_rows` 2 samples one clip (its positive and negative rows) at a time and keeps
  the end clips' keys and values meanwhile (figures below).
- Keep the Beta schedule's `steps` equal to the KSampler's. Clip 1 and clip 5 are exactly what prompt A and prompt B
  give alone with the KSampler's seed.
- `length` sets the frames of every clip; each clip is saved by its own *Latent From Batch* (`batch_index` 0 to 4),
  whatever the length."""

VIDEO_MEMORY = """**Memory** (fp16, estimated by `benchmarks/aid_overhead.py` from the model's size: weights plus one
block's activations of every row; not yet measured on a GPU): in one batch AID keeps nothing, it reads the end clips'
keys and values where the batch holds them, so {clips} clips cost what sampling {clips} clips at once costs ({rows}
rows with cfg): {one_batch}. `max_rows` 2 samples one clip at a time but keeps both end clips' keys and values during
every model call: {max_rows}. So: one batch while it fits; past that `max_rows` 2 with `layers` `cross`."""

# Measured on the CPU benchmark's Wan workload (self-attention half of a plain step): AID's window against plain.
WAN_TIME = """**Time**: about {clips} times one clip of ComfyUI's template at this size, and AID's window on top: on the
benchmark's Wan workload (attention half of a step, CPU) sampling with AID (`self + cross`) took 1.24x plain
sampling, with `cross` alone 1.00x."""


def wan_loaders(w: Workflow, col: Column, unet_model, vae_model, title: str = "Load",
                clip_vision=None) -> tuple[Node, Node, Node, Node, Node | None]:
    """UNETLoader with the templates' shift 8 (ModelSamplingSD3), umT5 through CLIPLoader type wan, the VAE, and the
    ``clip_vision`` model's CLIPVisionLoader where one is given (else None), in one group."""
    unet = w.node("UNETLoader", col.next(82), models=[unet_model], unet_name=unet_model.name, weight_dtype="default")
    shift = w.node("ModelSamplingSD3", col.next(58), model=unet["MODEL"], shift=8.0)
    clip = w.node("CLIPLoader", col.next(106), models=[WAN_UMT5], clip_name=WAN_UMT5.name, type="wan",
                  device="default")
    vae = w.node("VAELoader", col.next(58), models=[vae_model], vae_name=vae_model.name)
    vision = None
    if clip_vision is not None:
        vision = w.node("CLIPVisionLoader", col.next(58), models=[clip_vision], clip_name=clip_vision.name)
    w.group(title, [unet, shift, clip, vae] + ([vision] if vision else []), color=LOAD)
    return unet, shift, clip, vae, vision


def _wan_prompts(w: Workflow, col: Column, clip: Output) -> tuple[Node, Node, Node]:
    a = prompt(w, col, clip, "Prompt A (first clip)", WAN_PROMPTS[0])
    b = prompt(w, col, clip, "Prompt B (last clip)", WAN_PROMPTS[1])
    negative = prompt(w, col, clip, "Negative (Wan's own)", WAN_NEGATIVE, height=200)
    w.group("Prompts", [a, b, negative], color=PROMPTS)
    return a, b, negative


def _clip_schedule(w: Workflow, col: Column, steps: int) -> Node:
    return w.node("InbetweenBetaCoefficientSchedule", col.next(250), title="Beta schedule (one frame a clip)",
                  frames=CLIPS, preset="classic", steps=steps, start=0.0, end=1.0)


def _save_clips(w: Workflow, clip_cols: list[Column], sheet_col: Column, latent: Output, vae: Output, prefix: str,
                fps: float, frames: int, sheet_scale: float) -> None:
    """Every clip decoded and saved as its own MP4, then a contact sheet: all clips' frames, scaled down, one row a
    clip (the grid's `columns` is the clip's frame count)."""
    images, used = [], set()
    for index in range(CLIPS):
        col = clip_cols[index * len(clip_cols) // CLIPS]
        if id(col) in used:  # room for the group above's bottom padding and this group's title
            col.skip(GROUP_PADDING + GROUP_TITLE)
        used.add(id(col))
        pick = w.node("LatentFromBatch", col.next(82), title=f"Clip {index + 1}", samples=latent, batch_index=index,
                      length=1)
        decode = w.node("VAEDecode", col.next(46), samples=pick["LATENT"], vae=vae)
        video = w.node("CreateVideo", col.next(78), images=decode["IMAGE"], fps=fps)
        save = w.node("SaveVideo", col.next(250), video=video["VIDEO"],
                      filename_prefix=f"inbetween/{prefix}_clip{index + 1}", format="mp4", codec="h264")
        w.group(f"Clip {index + 1}", [pick, decode, video, save], color=SAVE)
        images.append(decode["IMAGE"])
    sheet = []
    joined = images[0]
    for more in images[1:]:
        sheet.append(w.node("ImageBatch", sheet_col.next(46), image1=joined, image2=more))
        joined = sheet[-1]["IMAGE"]
    small = w.node("ImageScaleBy", sheet_col.next(82), image=joined, upscale_method="area", scale_by=sheet_scale)
    grid = w.node("InbetweenImageGrid", sheet_col.next(110), title="Contact sheet (one row a clip)",
                  images=small["IMAGE"], columns=frames, padding=4, pad_value=1.0)
    save = w.node("SaveImage", sheet_col.next(250), images=grid["IMAGE"], filename_prefix=f"inbetween/{prefix}_sheet")
    w.group("Contact sheet", sheet + [small, grid, save], color=SAVE)


def _sampler(w: Workflow, col: Column, model: Output, positive: Output, negative: Output, latent: Output,
             steps: int, cfg: float) -> Node:
    sampler = w.node("KSampler", col.next(262), model=model, seed=42, steps=steps, cfg=cfg, sampler_name="uni_pc",
                     scheduler="simple", positive=positive, negative=negative, latent_image=latent, denoise=1.0)
    w.group("Sample", [sampler], color=SAMPLE)
    return sampler


WAN21_FRAMES, WAN21_STEPS = 33, 30


@workflow("AID video prompt morph (Wan 2.1 T2V)")
def aid_wan21_t2v(w: Workflow):
    notes, load, prompts, sequence, sample, *clip_cols, sheet = columns(340, 400, 340, 315, *[360] * CLIPS, 360)
    w.group("Read me", [w.note(f"""
## AID between two prompts on video: Wan 2.1 T2V 1.3B

Five clips from prompt A to prompt B in one batch: a row of the batch is a whole clip ({WAN21_FRAMES} frames at
832x480). Every clip starts from the same noise, the prompts are interpolated at Beta(steps, steps) coefficients,
and *AID Attention Patch* lets each in-between clip attend to the end clips' keys and values in Wan's self- and
cross-attention, so the clips between stay consistent with the two end clips.

**Models** (those of ComfyUI's Wan 2.1 text-to-video template):
{models_line(WAN21_T2V_1_3B, WAN_UMT5, WAN21_VAE)}

Wan 2.1 14B works the same way (its memory below); I2V too, with the same start image for every clip.

**Change**: the two prompts, the seed, `length` (33 to 81 frames), the number of clips (the schedule's `frames` and
the latent's `batch_size` together; add a clip group per clip).

{VIDEO_SETTINGS}

{VIDEO_MEMORY.format(clips=CLIPS, rows=2 * CLIPS,
                     one_batch="about 7 GB at 33 frames, 13 GB at 81 (14B at 81 frames: 51 GB)",
                     max_rows="with `self` 9 GB at 33 frames, 17 GB at 81 (each end clip keeps 2.6 and 6 GB), with "
                              "`cross` 4 and 5 GB")}

{WAN_TIME.format(clips=CLIPS)}

**Expect** in `output/inbetween/`: five MP4s (`aid_wan21_t2v_clip1` to `_clip5`, 16 fps) and a contact sheet,
one row a clip.
""", notes)], color="#432")
    _, shift, clip, vae, _ = wan_loaders(w, load, WAN21_T2V_1_3B, WAN21_VAE)
    a, b, negative = _wan_prompts(w, prompts, clip["CLIP"])
    schedule = _clip_schedule(w, sequence, WAN21_STEPS)
    batch = prompt_batch(w, sequence, a["CONDITIONING"], b["CONDITIONING"], schedule["schedule"])
    patch = aid_patch(w, sequence, shift["MODEL"], schedule["schedule"])
    empty = w.node("EmptyHunyuanLatentVideo", sequence.next(130), title="Empty video latent (one row a clip)",
                   width=832, height=480, length=WAN21_FRAMES, batch_size=CLIPS)
    shared = w.node("LatentBatchSeedBehavior", sequence.next(58), title="Same noise for every clip",
                    samples=empty["LATENT"], seed_behavior="fixed")
    w.group("Sequence", [schedule, batch, patch, empty, shared], color=SEQUENCE)
    sampler = _sampler(w, sample, patch["MODEL"], batch["CONDITIONING"], negative["CONDITIONING"], shared["LATENT"],
                       WAN21_STEPS, 6.0)
    _save_clips(w, clip_cols, sheet, sampler["LATENT"], vae["VAE"], "aid_wan21_t2v", fps=16.0,
                frames=WAN21_FRAMES, sheet_scale=0.25)


WAN22_FRAMES, WAN22_STEPS = 49, 20


@workflow("AID video prompt morph (Wan 2.2 TI2V 5B)")
def aid_wan22_ti2v_5b(w: Workflow):
    notes, load, prompts, sequence, sample, *clip_cols, sheet = columns(340, 400, 340, 315, *[360] * CLIPS, 360)
    w.group("Read me", [w.note(f"""
## AID between two prompts on video: Wan 2.2 TI2V 5B

Five clips from prompt A to prompt B in one batch on Wan 2.2's 5B model at 1280x704 ({WAN22_FRAMES} frames, 2
seconds at 24 fps): each row of the batch a clip, the same noise for every clip, the prompts interpolated at
Beta(steps, steps) coefficients, and *AID Attention Patch* on Wan's self- and cross-attention.

**Models** (those of ComfyUI's Wan 2.2 5B template):
{models_line(WAN22_TI2V_5B, WAN_UMT5, WAN22_VAE)}

*Wan 2.2 Image To Video Latent* makes one row whatever its `batch_size` when no start image is connected, so *Repeat
Latent Batch* makes the five rows. A start image (image-to-video) goes into the latent node as in the template:
every clip then starts from it.

**Change**: the two prompts, the seed, `length` (up to the template's 121 frames, see memory).

{VIDEO_SETTINGS}

{VIDEO_MEMORY.format(clips=CLIPS, rows=2 * CLIPS,
                     one_batch=f"about 16 GB at {WAN22_FRAMES} frames, 25 GB at the template's 121",
                     max_rows="with `self` 20 GB at 49 frames, 33 GB at 121 (each end clip keeps 4 and 10 GB), with "
                              "`cross` 12 and 13 GB")}

{WAN_TIME.format(clips=CLIPS)}

**Expect** in `output/inbetween/`: five MP4s (`aid_wan22_ti2v_5b_clip1` to `_clip5`, 24 fps) and a contact sheet,
one row a clip.
""", notes)], color="#432")
    _, shift, clip, vae, _ = wan_loaders(w, load, WAN22_TI2V_5B, WAN22_VAE)
    a, b, negative = _wan_prompts(w, prompts, clip["CLIP"])
    schedule = _clip_schedule(w, sequence, WAN22_STEPS)
    batch = prompt_batch(w, sequence, a["CONDITIONING"], b["CONDITIONING"], schedule["schedule"])
    patch = aid_patch(w, sequence, shift["MODEL"], schedule["schedule"])
    empty = w.node("Wan22ImageToVideoLatent", sequence.next(150), title="Empty video latent (one clip)", vae=vae["VAE"],
                   width=1280, height=704, length=WAN22_FRAMES, batch_size=1)
    rows = w.node("RepeatLatentBatch", sequence.next(58), title="One row a clip", samples=empty["LATENT"], amount=CLIPS)
    shared = w.node("LatentBatchSeedBehavior", sequence.next(58), title="Same noise for every clip",
                    samples=rows["LATENT"], seed_behavior="fixed")
    w.group("Sequence", [schedule, batch, patch, empty, rows, shared], color=SEQUENCE)
    sampler = _sampler(w, sample, patch["MODEL"], batch["CONDITIONING"], negative["CONDITIONING"], shared["LATENT"],
                       WAN22_STEPS, 5.0)
    _save_clips(w, clip_cols, sheet, sampler["LATENT"], vae["VAE"], "aid_wan22_ti2v_5b", fps=24.0,
                frames=WAN22_FRAMES, sheet_scale=0.125)


Z_IMAGE_STEPS = 8


@workflow("AID prompt morph (Z-Image)")
def aid_z_image(w: Workflow):
    notes, load, prompts, sequence, sample, save = columns(340, 400, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## AID between two prompts on Z-Image Turbo

Seven frames from prompt A to prompt B in one batch on Z-Image Turbo (ComfyUI v0.12 or later): every row starts
from the same noise (*Shared Noise Latent*), the prompts are interpolated at Beta(steps, steps) coefficients, and
*AID Attention Patch* lets each in-between frame attend to the endpoints' keys and values in Z-Image's joint
caption-image attention (its 30 main layers; the context and noise refiners stay plain). Turbo samples in
{Z_IMAGE_STEPS} steps at cfg 1; the negative prompt is not used at cfg 1.

**Models** (those of ComfyUI's Z-Image Turbo template):
{models_line(Z_IMAGE_TURBO, QWEN3_4B, FLUX_VAE)}

**At {Z_IMAGE_STEPS} steps**: the default window (`end_percent` 0.5) is AID on steps 0 to 3 of the 8, the steps
where Turbo settles layout and identity; the last 4 steps are plain and add detail. With so few steps each step
moves far: if in-betweens look soft, try `end_percent` 0.375 (steps 0 to 2); if they drift from the ends, 0.625
(steps 0 to 4). The classic schedule at `steps` 8 is Beta(8, 8), less packed towards the middle than at 25 steps.

**Change**: the two prompts, the seed, the number of frames.

{TRANSFORMER_SETTINGS}

**Memory and time**: the seven frames sample in one batch of 7 rows (cfg 1: no negative pass), about seven times one
picture at 1024x1024, and AID's window on top: on the benchmark's Z-Image workload (attention a sixth of a step, as
at 1024x1024; CPU) sampling with AID took 1.20x plain sampling. Set `max_rows` to sample a few rows at a time when 7
do not fit: the two end frames' keys and values are then kept during each model call.

**Expect** an animated WEBP and a grid of 7 frames in `output/inbetween/`.
""", notes)], color="#432")
    unet = w.node("UNETLoader", load.next(82), models=[Z_IMAGE_TURBO], unet_name=Z_IMAGE_TURBO.name,
                  weight_dtype="default")
    shift = w.node("ModelSamplingAuraFlow", load.next(58), model=unet["MODEL"], shift=3.0)
    clip = w.node("CLIPLoader", load.next(106), models=[QWEN3_4B], clip_name=QWEN3_4B.name, type="lumina2",
                  device="default")
    vae = w.node("VAELoader", load.next(58), models=[FLUX_VAE], vae_name=FLUX_VAE.name)
    w.group("Load", [unet, shift, clip, vae], color=LOAD)
    a = prompt(w, prompts, clip["CLIP"], "Prompt A (first frame)",
               "a small wooden cabin by a lake at sunrise, mist over the water, photo")
    b = prompt(w, prompts, clip["CLIP"], "Prompt B (last frame)",
               "a small stone lighthouse by a lake at sunset, calm water, photo")
    negative = prompt(w, prompts, clip["CLIP"], "Negative (unused at cfg 1)", "")
    w.group("Prompts", [a, b, negative], color=PROMPTS)
    nodes = _aid_sequence(w, sequence, shift["MODEL"], Z_IMAGE_STEPS, 1024,
                          lambda schedule: prompt_batch(w, sequence, a["CONDITIONING"], b["CONDITIONING"], schedule))
    w.group("Sequence", nodes, color=SEQUENCE)
    _, batch, patch, latent = nodes
    _sample_and_save(w, sample, save, patch["MODEL"], batch["CONDITIONING"], negative["CONDITIONING"],
                     latent["LATENT"], vae["VAE"], steps=Z_IMAGE_STEPS, cfg=1.0, prefix="aid_z_image",
                     sampler_name="res_multistep")
