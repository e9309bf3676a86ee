"""Keyframed sequences: a story told by several prompts (SD1.5, looping; Flux) and a morph through several pictures,
each one sampling with AID in every segment."""

from .graph import Column, Node, Output, Workflow, workflow
from .layout import (
    LOAD,
    NEGATIVE,
    PROMPTS,
    SAMPLE,
    SAVE,
    SEQUENCE,
    aid_patch,
    beside,
    checkpoint,
    columns,
    flux_loaders,
    models_line,
    prompt,
    sample_and_decode,
    save_sequence,
)
from .models import FLUX_CLIP_L, FLUX_DEV, FLUX_T5XXL, FLUX_VAE, SD15

KEYFRAME_SETTINGS = """**Settings that matter**
- *Keyframe Schedule*: `keyframes` must match the prompts (or pictures); `frames_per_segment` counts a segment's
  start keyframe and its in-betweens (`segment_frames` sets one count per segment); `loop` adds a segment from the
  last keyframe back to the first, which is not repeated, so the animation cycles.
- *AID Attention Patch*: each in-between attends to the two keyframes of its own segment. `max_rows` runs every
  keyframe alone once per model call (bit for bit its own generation) and the in-betweens a few rows at a time."""


def _schedule(w: Workflow, col: Column, keyframes: int, frames: int, loop: bool, steps: int,
              preset: str = "classic") -> Node:
    return w.node("InbetweenKeyframeSchedule", col.next(300), keyframes=keyframes, frames_per_segment=frames, loop=loop,
                  preset=preset, steps=steps, alpha=2.0, beta=2.0, segment_frames="")


def _keyframe_batch(w: Workflow, col: Column, keyframes: Output, schedule: Output) -> Node:
    return w.node("InbetweenKeyframeConditioningBatch", col.next(130), keyframes=keyframes, schedule=schedule,
                  method="lerp", token_alignment="error")


def _length(keyframes: int, frames: int, loop: bool) -> int:
    return (keyframes if loop else keyframes - 1) * frames + (0 if loop else 1)


STORY = ("a lighthouse on a rocky cliff above the sea, spring morning, blossoming meadow, oil painting",
         "a lighthouse on a rocky cliff above the sea, summer noon, golden grass, oil painting",
         "a lighthouse on a rocky cliff above the sea, autumn evening, red leaves, oil painting",
         "a lighthouse on a rocky cliff above the sea, winter night, snow, oil painting")
STORY_FRAMES, STORY_STEPS = 8, 25


@workflow("Keyframe story loop (SD1.5)")
def keyframes_story_sd15(w: Workflow):
    frames = _length(len(STORY), STORY_FRAMES, loop=True)
    notes, load, prompts, sequence, sample, save = columns(315, 400, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## A story in four keyframes, looping (SD1.5)

Four prompts, one a line in *Encode Keyframe Prompts*, are the keyframes of one sequence: spring, summer, autumn,
winter, and back to spring. *Keyframe Schedule* lays out {frames} frames, {STORY_FRAMES} per segment (a keyframe and
{STORY_FRAMES - 1} in-betweens at Beta(steps, steps) coefficients); with `loop` the last segment leads from winter
back to spring, so the animation cycles without repeating a frame. *Keyframe Conditioning Batch* gives every frame
the interpolation of its segment's two prompts, every row starts from the same noise (*Shared Noise Latent*), and
*AID Attention Patch* lets each in-between attend to its segment's two keyframes. One KSampler samples all
{frames} frames.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Change**: the prompts (keep them alike apart from what should change: the same scene makes the smoothest
story), the seed, `frames_per_segment`, `loop`.

{KEYFRAME_SETTINGS}

**Expect** in `output/inbetween/`: a looping animated WEBP and an MP4 of {frames} frames at 8 fps (4 seconds), and
a grid. With `max_rows` 4 memory stays that of four rows plus the four keyframes' keys and values.
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD15)
    schedule = _schedule(w, load, len(STORY), STORY_FRAMES, loop=True, steps=STORY_STEPS)
    w.group("Load", [ckpt, schedule], color=LOAD)
    keyframes = w.node("InbetweenEncodeKeyframePrompts", prompts.next(260), title="Keyframe prompts (one a line)",
                       clip=ckpt["CLIP"], prompts="\n".join(STORY))
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [keyframes, negative], color=PROMPTS)
    batch = _keyframe_batch(w, sequence, keyframes["keyframes"], schedule["schedule"])
    patch = aid_patch(w, sequence, ckpt["MODEL"], schedule["schedule"], max_rows=4)
    latent = w.node("InbetweenSharedNoiseLatent", sequence.next(130), width=512, height=512, frames=frames,
                    schedule=schedule["schedule"])
    w.group("Sequence", [batch, patch, latent], color=SEQUENCE)
    w.group("Sample", sampled := sample_and_decode(
        w, sample, patch["MODEL"], batch["CONDITIONING"], negative["CONDITIONING"], latent["LATENT"], ckpt["VAE"],
        seed=42, steps=STORY_STEPS, cfg=7.5, sampler_name="euler", scheduler="normal"), color=SAMPLE)
    w.group("Save", save_sequence(w, save, sampled[1]["IMAGE"], "keyframes_story", grid_columns=STORY_FRAMES, fps=8.0,
                                  video=True), color=SAVE)


FLUX_PROMPTS = ("a red fox sitting in a snowy forest, photo", "a snow owl sitting in a snowy forest, photo",
                "a white hare sitting in a snowy forest, photo")


@workflow("Keyframe story (Flux)")
def keyframes_flux(w: Workflow):
    frames = _length(len(FLUX_PROMPTS), 6, loop=False)
    notes, load, prompts, sequence, sample, save = columns(320, 380, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## Three keyframe prompts on Flux

Fox, owl, hare: three prompts in *Encode Keyframe Prompts* (matched to one T5 token layout) become {frames} frames,
6 per segment, on Flux dev. *Keyframe Conditioning Batch* interpolates each segment's two prompts, *FluxGuidance*
(3.5) sets the guidance of every row, and *AID Attention Patch* lets each in-between attend to its segment's
keyframes in Flux's joint text-image attention. Flux dev samples at cfg 1; the negative prompt is unused there.

**Models**:
{models_line(FLUX_DEV, FLUX_CLIP_L, FLUX_T5XXL, FLUX_VAE)}

**Change**: the prompts (one a line; `keyframes` in *Keyframe Schedule* must match), the seed, `frames_per_segment`.

{KEYFRAME_SETTINGS}

**Expect** an animated WEBP and a grid of {frames} frames in `output/inbetween/`. `max_rows` 4 keeps memory at four
1024x1024 rows plus the three keyframes' keys and values (set it to 0 on a GPU with room for all {frames} rows).
""", notes)], color="#432")
    unet, clip, vae = flux_loaders(w, load)
    schedule = _schedule(w, load, len(FLUX_PROMPTS), 6, loop=False, steps=20)
    w.group("Load", [unet, clip, vae, schedule], color=LOAD)
    keyframes = w.node("InbetweenEncodeKeyframePrompts", prompts.next(220), title="Keyframe prompts (one a line)",
                       clip=clip["CLIP"], prompts="\n".join(FLUX_PROMPTS))
    negative = prompt(w, prompts, clip["CLIP"], "Negative (unused at cfg 1)", "")
    w.group("Prompts", [keyframes, negative], color=PROMPTS)
    batch = _keyframe_batch(w, sequence, keyframes["keyframes"], schedule["schedule"])
    patch = aid_patch(w, sequence, unet["MODEL"], schedule["schedule"], max_rows=4)
    latent = w.node("InbetweenSharedNoiseLatent", sequence.next(130), width=1024, height=1024, frames=frames,
                    schedule=schedule["schedule"])
    guidance = w.node("FluxGuidance", sequence.next(58), conditioning=batch["CONDITIONING"], guidance=3.5)
    w.group("Sequence", [batch, patch, latent, guidance], color=SEQUENCE)
    w.group("Sample", sampled := sample_and_decode(
        w, sample, patch["MODEL"], guidance["CONDITIONING"], negative["CONDITIONING"], latent["LATENT"], vae["VAE"],
        seed=42, steps=20, cfg=1.0, sampler_name="euler", scheduler="simple"), color=SAMPLE)
    w.group("Save", save_sequence(w, save, sampled[1]["IMAGE"], "keyframes_flux", grid_columns=6), color=SAVE)


PICTURES = (("cat", "a photo of a cat sitting on a sofa, soft light"),
            ("dog", "a photo of a dog sitting on a sofa, soft light"),
            ("fox", "a photo of a fox sitting on a sofa, soft light"))
PICTURE_FRAMES, PICTURE_STEPS, DENOISE = 6, 25, 0.7


def picture_batch(w: Workflow, col: Column, vae: Output, size: int) -> tuple[list[Node], Output, Output]:
    """The :data:`PICTURES` loaded, scaled and center-cropped to ``size`` square, joined in order with Batch Images
    and VAE-encoded: the nodes, the pictures' batch and its latents (one per picture). The pictures alternate between
    ``col`` and a column right of it, which ends with the batches and the encoding."""
    nodes, scaled, cols = [], [], (col, beside(col))
    for index, (name, _) in enumerate(PICTURES):
        col = cols[index % 2]
        photo = w.node("LoadImage", col.next(330), title=f"Picture {index + 1} ({name})", image=f"{name}.png")
        resized = w.node("ImageScale", col.next(130), image=photo["IMAGE"], upscale_method="lanczos", width=size,
                         height=size, crop="center")
        nodes += [photo, resized]
        scaled.append(resized["IMAGE"])
    images, col = scaled[0], cols[1]
    for more in scaled[1:]:
        joined = w.node("ImageBatch", col.next(46), image1=images, image2=more)
        nodes.append(joined)
        images = joined["IMAGE"]
    encoded = w.node("VAEEncode", col.next(46), pixels=images, vae=vae)
    return nodes + [encoded], images, encoded["LATENT"]


@workflow("Keyframe pictures img2img (SD1.5)")
def keyframes_pictures_sd15(w: Workflow):
    frames = _length(len(PICTURES), PICTURE_FRAMES, loop=False)
    notes, load, pictures, prompts, sequence, sample, save = columns(315, 330, 400, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## Morph through three pictures (img2img, SD1.5)

Three pictures you load are the keyframes of a {frames}-frame morph, {PICTURE_FRAMES} frames per segment. Each is
scaled and center-cropped to 512x512; *Batch Images* puts them in one batch, in order, and *VAE Encode* makes one
latent per picture. *Keyframe Latent Batch* interpolates each segment's two latents (slerp) with `shared_noise` on,
so the KSampler gives every row the noise of its seed; *Keyframe Conditioning Batch* does the same for one prompt
per picture, and *AID Attention Patch* lets each in-between attend to its segment's two keyframes. One KSampler at
denoise {DENOISE} samples every frame: the keyframes are img2img of their pictures (bit for bit what img2img of
each picture alone gives, as `max_rows` runs every keyframe alone), the rest a morph through them.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Change**: the pictures and their prompts (one a line, in the same order), the KSampler's `denoise` and seed,
`frames_per_segment`. More pictures: another *Batch Images* and a prompt line, and `keyframes` to match.
*Batch Images* is marked deprecated in ComfyUI 0.4 and later and still works; its successor works too.

{KEYFRAME_SETTINGS}

**Expect** an animated WEBP and a grid of {frames} frames in `output/inbetween/`.
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD15)
    schedule = _schedule(w, load, len(PICTURES), PICTURE_FRAMES, loop=False, steps=PICTURE_STEPS, preset="uniform")
    w.group("Load", [ckpt, schedule], color=LOAD)
    picture_nodes, _, encoded = picture_batch(w, pictures, ckpt["VAE"], 512)
    w.group("Pictures", picture_nodes, color=LOAD)
    keyframes = w.node("InbetweenEncodeKeyframePrompts", prompts.next(220), title="Prompts (one a line, one a picture)",
                       clip=ckpt["CLIP"], prompts="\n".join(text for _, text in PICTURES))
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [keyframes, negative], color=PROMPTS)
    latents = w.node("InbetweenKeyframeLatentBatch", sequence.next(130), keyframes=encoded,
                     schedule=schedule["schedule"], method="slerp", shared_noise=True)
    batch = _keyframe_batch(w, sequence, keyframes["keyframes"], schedule["schedule"])
    patch = aid_patch(w, sequence, ckpt["MODEL"], schedule["schedule"], max_rows=4)
    w.group("Sequence", [latents, batch, patch], color=SEQUENCE)
    w.group("Sample", sampled := sample_and_decode(
        w, sample, patch["MODEL"], batch["CONDITIONING"], negative["CONDITIONING"], latents["LATENT"], ckpt["VAE"],
        title=f"KSampler (img2img, denoise {DENOISE})", denoise=DENOISE, seed=42, steps=PICTURE_STEPS, cfg=7.0,
        sampler_name="euler", scheduler="normal"), color=SAMPLE)
    w.group("Save", save_sequence(w, save, sampled[1]["IMAGE"], "keyframes_pictures", grid_columns=PICTURE_FRAMES),
            color=SAVE)
