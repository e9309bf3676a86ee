"""Morphs between two pictures you load: img2img of both photos' latents, slerped along a schedule, sampled with AID."""

from .graph import Workflow, workflow
from .layout import (
    LOAD,
    NEGATIVE,
    PROMPTS,
    SAMPLE,
    SAVE,
    SEQUENCE,
    aid_patch,
    checkpoint,
    columns,
    encoded_photos,
    models_line,
    prompt,
    prompt_batch,
    save_sequence,
)
from .models import SD15

FRAMES, STEPS, DENOISE = 7, 25, 0.7


@workflow("Picture morph img2img (SD1.5)")
def image_morph_sd15(w: Workflow):
    notes, load, pictures, prompts, sequence, sample, save = columns(315, 330, 400, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## Morph photo A into photo B (img2img, SD1.5)

Two pictures you load become the first and the last frame of a {FRAMES}-frame morph. Each is scaled and center-cropped
to 512x512 and VAE-encoded; *Slerp Latent* interpolates the two latents at the coefficients of a uniform *Beta
Coefficient Schedule*, with `shared_noise` on, so the KSampler gives every row the same noise from its seed (every row
gets `batch_index` 0: the noise a single latent gets from that seed). *Conditioning Interpolation Batch* takes prompt A
to prompt B along the same schedule, and *AID Attention Patch* lets each in-between frame attend to the end frames.
One KSampler at denoise {DENOISE} samples all {FRAMES} frames.

**What the end frames are**: img2img of photo A and of photo B at the chosen denoise. Frame 1 is what the KSampler
gives for photo A's latent alone with prompt A, the same seed, steps, cfg and denoise (frame {FRAMES} likewise for B),
bit for bit: *AID Attention Patch*'s `max_rows` ({2 * (FRAMES - 2)}) runs each end frame as its own model call, as
img2img of that photo alone does. With `max_rows` 0 (one call for the whole batch, faster on a GPU) they are equal up
to the last bits of floating-point rounding: a batch and a single image can go through different kernels.
**What they are not**: the untouched photos. At denoise {DENOISE} the model redraws much of each picture; lower
denoise keeps every frame closer to the photos (and the in-betweens closer to a cross-fade), higher gives cleaner
in-betweens that drift further from the photos.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Change**: load your photos in *Photo A* and *Photo B* (any sizes: both are brought to the same size, which the
latents must share); describe each in its prompt (one prompt for both works too); the KSampler's `denoise` and seed;
`frames`. *AID Attention Patch* `end_percent` 0.5 applies AID during the first half of the steps that run.

**SDXL and Flux**: the same graph works with other loaders. SDXL: an SDXL checkpoint in *Load Checkpoint* and 1024 in
both *Upscale Image* nodes. Flux: *Load Diffusion Model*, *DualCLIPLoader* (clip_l, t5xxl, type flux) and *Load VAE*
(ae) in place of *Load Checkpoint*, and cfg 1 with *FluxGuidance* after *Conditioning Interpolation Batch*, as in
`AID prompt morph (Flux)`.

**Expect** an animated WEBP and a grid of {FRAMES} frames in `output/inbetween/`.
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD15)
    schedule = w.node("InbetweenBetaCoefficientSchedule", load.next(250), frames=FRAMES, preset="uniform",
                      steps=STEPS, start=0.0, end=1.0)
    w.group("Load", [ckpt, schedule], color=LOAD)

    picture_nodes, _, latents = encoded_photos(w, pictures, ckpt["VAE"], 512)
    w.group("Pictures", picture_nodes, color=LOAD)

    a = prompt(w, prompts, ckpt["CLIP"], "Prompt A (photo A)", "a photo of a cat sitting on a sofa, soft light")
    b = prompt(w, prompts, ckpt["CLIP"], "Prompt B (photo B)", "a photo of a dog sitting on a sofa, soft light")
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [a, b, negative], color=PROMPTS)

    slerp = w.node("InbetweenSlerpLatent", sequence.next(154), latent_a=latents[0], latent_b=latents[1],
                   method="slerp", factor=0.5, schedule=schedule["schedule"], shared_noise=True)
    batch = prompt_batch(w, sequence, a["CONDITIONING"], b["CONDITIONING"], schedule["schedule"])
    # max_rows 2 * (frames - 2): each step runs end frame A, end frame B and the in-betweens as three model calls, so
    # the end frames are computed exactly as img2img of each photo alone is (bit for bit, not only up to rounding).
    patch = aid_patch(w, sequence, ckpt["MODEL"], schedule["schedule"], max_rows=2 * (FRAMES - 2))
    w.group("Sequence", [slerp, batch, patch], color=SEQUENCE)

    sampler = w.node("KSampler", sample.next(262), title=f"KSampler (img2img, denoise {DENOISE})", model=patch["MODEL"],
                     seed=42, steps=STEPS, cfg=7.0, sampler_name="euler", scheduler="normal",
                     positive=batch["CONDITIONING"], negative=negative["CONDITIONING"], latent_image=slerp["LATENT"],
                     denoise=DENOISE)
    decode = w.node("VAEDecode", sample.next(46), samples=sampler["LATENT"], vae=ckpt["VAE"])
    w.group("Sample", [sampler, decode], color=SAMPLE)
    w.group("Save", save_sequence(w, save, decode["IMAGE"], "image_morph", grid_columns=FRAMES), color=SAVE)
