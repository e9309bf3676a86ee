"""AID on diffusion transformers: Flux, Qwen-Image and SD3.5, each the AID graph with its family's loaders, and the
Flux Redux morph between two pictures."""

from collections.abc import Callable

from .graph import Node, Output, Workflow, workflow
from .layout import (LOAD, NEGATIVE, PROMPTS, SAMPLE, SAVE, SEQUENCE, aid_patch, checkpoint, columns, flux_loaders,
                     models_line, prompt, prompt_batch, save_sequence)
from .models import (FLUX_CLIP_L, FLUX_DEV, FLUX_REDUX, FLUX_T5XXL, FLUX_VAE, QWEN_IMAGE, QWEN_TEXT_ENCODER, QWEN_VAE,
                     SD35_MEDIUM, SIGCLIP_VISION)

TRANSFORMER_SETTINGS = """**Settings that matter**
- *AID Attention Patch*: on a transformer every block attends over the frame's text and image tokens together;
  `layers` picks which of the endpoints' tokens join: `self + cross` all (default), `self` image, `cross` text.
  `end_percent` 0.5 applies AID during the first half of the steps.
- Keep the Beta schedule's `steps` equal to the KSampler's; frame 1 and the last frame are exactly what prompt A and
  prompt B give alone with the KSampler's seed."""


def _sequence(w: Workflow, col, model: Output, positive_a: Output, positive_b: Output, steps: int, size: int):
    """Schedule, conditioning batch, AID patch and shared-noise latent: the part every AID graph shares."""
    return _aid_sequence(w, col, model, steps, size, lambda schedule: prompt_batch(w, col, positive_a, positive_b,
                                                                                   schedule))


def _aid_sequence(w: Workflow, col, model: Output, steps: int, size: int, batch: Callable[[Output], Node]):
    """:func:`_sequence` with the conditioning batch made by ``batch(schedule)``."""
    schedule = w.node("InbetweenBetaCoefficientSchedule", col.next(250), title="Beta schedule (alpha = beta = steps)",
                      frames=7, preset="classic", steps=steps, start=0.0, end=1.0)
    batch = batch(schedule["schedule"])
    patch = aid_patch(w, col, model, schedule["schedule"])
    latent = w.node("InbetweenSharedNoiseLatent", col.next(130), width=size, height=size, frames=7,
                    schedule=schedule["schedule"])
    return [schedule, batch, patch, latent]


def _sample_and_save(w: Workflow, sample_col, save_col, model: Output, positive: Output, negative: Output,
                     latent: Output, vae: Output, steps: int, cfg: float, prefix: str,
                     sampler_name: str = "euler") -> None:
    sampler = w.node("KSampler", sample_col.next(262), model=model, seed=42, steps=steps, cfg=cfg,
                     sampler_name=sampler_name, scheduler="simple", positive=positive, negative=negative,
                     latent_image=latent, denoise=1.0)
    decode = w.node("VAEDecode", sample_col.next(46), samples=sampler["LATENT"], vae=vae)
    w.group("Sample", [sampler, decode], color=SAMPLE)
    w.group("Save", save_sequence(w, save_col, decode["IMAGE"], prefix, grid_columns=7), color=SAVE)


@workflow("AID prompt morph (Flux)")
def aid_flux(w: Workflow):
    notes, load, prompts, sequence, sample, save = columns(340, 400, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## AID between two prompts on Flux

Seven frames from prompt A to prompt B in one batch on Flux dev: every row starts from the same noise (*Shared Noise
Latent*), the prompts are interpolated at Beta(steps, steps) coefficients, and *AID Attention Patch* lets each
in-between frame attend to the endpoints' keys and values in Flux's joint text-image attention. Flux dev samples at
cfg 1 with *FluxGuidance* (3.5) on the conditioning batch; the negative prompt is not used at cfg 1.

**Models**:
{models_line(FLUX_DEV, FLUX_CLIP_L, FLUX_T5XXL, FLUX_VAE)}

Flux schnell works the same way with 4 steps (set the schedule's `steps` to 4 too) and no guidance.

**Change**: the two prompts, the seed, the number of frames.

{TRANSFORMER_SETTINGS}

**Expect** an animated WEBP and a grid of 7 frames in `output/inbetween/`.
""", notes)], color="#432")
    unet, clip, vae = flux_loaders(w, load)
    w.group("Load", [unet, clip, vae], color=LOAD)
    a = prompt(w, prompts, clip["CLIP"], "Prompt A (first frame)", "a red fox sitting in a snowy forest, photo")
    b = prompt(w, prompts, clip["CLIP"], "Prompt B (last frame)", "a snow owl sitting in a snowy forest, photo")
    negative = prompt(w, prompts, clip["CLIP"], "Negative (unused at cfg 1)", "")
    w.group("Prompts", [a, b, negative], color=PROMPTS)
    schedule, batch, patch, latent = _sequence(w, sequence, unet["MODEL"], a["CONDITIONING"], b["CONDITIONING"],
                                               steps=20, size=1024)
    guidance = w.node("FluxGuidance", sequence.next(58), conditioning=batch["CONDITIONING"], guidance=3.5)
    w.group("Sequence", [schedule, batch, patch, latent, guidance], color=SEQUENCE)
    _sample_and_save(w, sample, save, patch["MODEL"], guidance["CONDITIONING"], negative["CONDITIONING"],
                     latent["LATENT"], vae["VAE"], steps=20, cfg=1.0, prefix="aid_flux")


@workflow("AID prompt morph (Qwen-Image)")
def aid_qwen_image(w: Workflow):
    notes, load, prompts, sequence, sample, save = columns(340, 400, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## AID between two prompts on Qwen-Image

The AID graph on Qwen-Image: 7 frames from prompt A to prompt B in one batch, shared noise, Beta(steps, steps)
coefficients, and *AID Attention Patch* on the joint text-image attention of every block.

**Models**:
{models_line(QWEN_IMAGE, QWEN_TEXT_ENCODER, QWEN_VAE)}

**Change**: the two prompts (Qwen-Image follows long, descriptive prompts well), the seed, the number of frames.

{TRANSFORMER_SETTINGS}

**Expect** an animated WEBP and a grid of 7 frames in `output/inbetween/`.
""", notes)], color="#432")
    unet = w.node("UNETLoader", load.next(82), models=[QWEN_IMAGE], unet_name=QWEN_IMAGE.name, weight_dtype="default")
    shift = w.node("ModelSamplingAuraFlow", load.next(58), model=unet["MODEL"], shift=3.1)
    clip = w.node("CLIPLoader", load.next(106), models=[QWEN_TEXT_ENCODER], clip_name=QWEN_TEXT_ENCODER.name,
                  type="qwen_image", device="default")
    vae = w.node("VAELoader", load.next(58), models=[QWEN_VAE], vae_name=QWEN_VAE.name)
    w.group("Load", [unet, shift, clip, vae], color=LOAD)
    a = prompt(w, prompts, clip["CLIP"], "Prompt A (first frame)",
               "A cozy reading corner with a green armchair, a floor lamp and a stack of books, morning light")
    b = prompt(w, prompts, clip["CLIP"], "Prompt B (last frame)",
               "A cozy reading corner with a red armchair, a floor lamp and a sleeping cat, evening light")
    negative = prompt(w, prompts, clip["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [a, b, negative], color=PROMPTS)
    nodes = _sequence(w, sequence, shift["MODEL"], a["CONDITIONING"], b["CONDITIONING"], steps=20, size=1024)
    w.group("Sequence", nodes, color=SEQUENCE)
    _, batch, patch, latent = nodes
    _sample_and_save(w, sample, save, patch["MODEL"], batch["CONDITIONING"], negative["CONDITIONING"],
                     latent["LATENT"], vae["VAE"], steps=20, cfg=2.5, prefix="aid_qwen_image")


@workflow("AID prompt morph (SD3.5)")
def aid_sd35(w: Workflow):
    notes, load, prompts, sequence, sample, save = columns(340, 400, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## AID between two prompts on SD3.5

The AID graph on SD3.5 Medium (MMDiT-X: some blocks add an image-only attention, which AID treats as
self-attention): 7 frames from prompt A to prompt B in one batch, shared noise, Beta(steps, steps) coefficients,
*AID Attention Patch* on the joint attention of every block. SD3 and SD3.5 Large work the same way.

**Model** (this checkpoint includes the CLIP-L, CLIP-G and T5-XXL encoders):
{models_line(SD35_MEDIUM)}

**Change**: the two prompts, the seed, the number of frames.

{TRANSFORMER_SETTINGS}

**Expect** an animated WEBP and a grid of 7 frames in `output/inbetween/`.
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD35_MEDIUM)
    w.group("Load", [ckpt], color=LOAD)
    a = prompt(w, prompts, ckpt["CLIP"], "Prompt A (first frame)", "a lighthouse on a cliff at dawn, oil painting")
    b = prompt(w, prompts, ckpt["CLIP"], "Prompt B (last frame)", "a windmill on a cliff at dusk, oil painting")
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [a, b, negative], color=PROMPTS)
    nodes = _sequence(w, sequence, ckpt["MODEL"], a["CONDITIONING"], b["CONDITIONING"], steps=28, size=1024)
    w.group("Sequence", nodes, color=SEQUENCE)
    _, batch, patch, latent = nodes
    _sample_and_save(w, sample, save, patch["MODEL"], batch["CONDITIONING"], negative["CONDITIONING"],
                     latent["LATENT"], vae=ckpt["VAE"], steps=28, cfg=4.5, prefix="aid_sd35")


@workflow("Picture morph Redux (Flux)")
def image_morph_flux_redux(w: Workflow):
    notes, load, pictures, prompts, sequence, sample, save = columns(340, 330, 400, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## Morph picture A into picture B with Flux Redux

Seven frames in one batch on Flux dev, each conditioned on an image: *Image Condition Interpolation Batch* gives
row k the Redux tokens of picture A and picture B interpolated at the schedule's t_k (what *Apply Style Model* adds
for one picture), appended to the prompt. Every row starts from the same noise and *AID Attention Patch* lets each
in-between frame attend to the end frames' keys and values, the Redux tokens of both pictures included.

**What the end frames are**: frame 1 is exactly what *Apply Style Model* with picture A gives (the same prompt,
seed and settings), the last frame the same with picture B: **new generations conditioned on the pictures**, not
the pictures themselves. Redux carries their content and style, not their exact layout. To morph the photos
themselves, see `Picture morph img2img (SD1.5)` (img2img).

**Models**:
{models_line(FLUX_DEV, FLUX_CLIP_L, FLUX_T5XXL, FLUX_VAE, FLUX_REDUX, SIGCLIP_VISION)}

**Change**: the two pictures, the prompt (short: Redux does most of the work), the seed, the number of frames.
For a prompt per picture, feed *Conditioning Interpolation Batch* (same schedule) into the image node. For more
than two pictures, encode one picture per keyframe into `clip_vision_a`, leave `clip_vision_b` empty and use a
*Keyframe Schedule* (see `Keyframe pictures img2img (SD1.5)`).

**Settings that matter**
- `strength` and `strength_type` work as in *Apply Style Model*; `attn_bias` weighs the attention towards the
  image tokens through an attention mask, which AID carries to the end frames' keys as well.
- `method`: `lerp` or `slerp` of the Redux tokens; the end frames are exact either way.
- Keep the Beta schedule's `steps` equal to the KSampler's.

**Expect** an animated WEBP and a grid of 7 frames in `output/inbetween/`.
""", notes)], color="#432")
    unet, clip, vae = flux_loaders(w, load)
    redux = w.node("StyleModelLoader", load.next(58), models=[FLUX_REDUX], style_model_name=FLUX_REDUX.name)
    vision = w.node("CLIPVisionLoader", load.next(58), models=[SIGCLIP_VISION], clip_name=SIGCLIP_VISION.name)
    w.group("Load", [unet, clip, vae, redux, vision], color=LOAD)
    picture_nodes, encoded = [], []
    for label, file in (("A (first frame)", "picture_a.png"), ("B (last frame)", "picture_b.png")):
        image = w.node("LoadImage", pictures.next(330), title=f"Picture {label}", image=file)
        encode = w.node("CLIPVisionEncode", pictures.next(78), clip_vision=vision["CLIP_VISION"], image=image["IMAGE"],
                        crop="center")
        picture_nodes += [image, encode]
        encoded.append(encode["CLIP_VISION_OUTPUT"])
    w.group("Pictures", picture_nodes, color=PROMPTS)
    text = prompt(w, prompts, clip["CLIP"], "Prompt (every frame)", "a photo")
    negative = prompt(w, prompts, clip["CLIP"], "Negative (unused at cfg 1)", "")
    w.group("Prompt", [text, negative], color=PROMPTS)
    schedule, batch, patch, latent = _aid_sequence(
        w, sequence, unet["MODEL"], steps=20, size=1024, batch=lambda schedule: w.node(
            "InbetweenImageConditionInterpolationBatch", sequence.next(190), conditioning=text["CONDITIONING"],
            style_model=redux["STYLE_MODEL"], clip_vision_a=encoded[0], clip_vision_b=encoded[1], schedule=schedule,
            method="lerp", strength=1.0, strength_type="multiply"))
    guidance = w.node("FluxGuidance", sequence.next(58), conditioning=batch["CONDITIONING"], guidance=3.5)
    w.group("Sequence", [schedule, batch, patch, latent, guidance], color=SEQUENCE)
    _sample_and_save(w, sample, save, patch["MODEL"], guidance["CONDITIONING"], negative["CONDITIONING"],
                     latent["LATENT"], vae["VAE"], steps=20, cfg=1.0, prefix="image_morph_flux_redux")
