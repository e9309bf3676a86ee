"""Attribute control by embedding arithmetic: a delta between two prompts, applied at chosen intensities."""

from .graph import Workflow, workflow
from .layout import (
    LOAD,
    PROMPTS,
    SAMPLE,
    SAVE,
    SAVE_HEIGHT,
    SEQUENCE,
    aid_patch,
    checkpoint,
    columns,
    models_line,
    prompt,
    sample_and_decode,
    save_sequence,
)
from .models import PIXELSMILE_LORA, QWEN_IMAGE_EDIT, QWEN_TEXT_ENCODER, QWEN_VAE, SD15, SDXL

NEGATIVE = "blurry, low quality, watermark, text"
# Attribute slider (SD1.5)'s pair, and the Attribute slider blueprint's
SMILE = ("close-up portrait photo of a young woman, neutral expression, studio lighting",
         "close-up portrait photo of a young woman, smiling, studio lighting")


@workflow("Attribute slider (SD1.5)")
def attribute_intensity_sd15(w: Workflow):
    notes, load, prompts, delta_col, sample, save = columns(315, 400, 315, 315, 400)
    w.group("Read me", [w.note(f"""
## A smile from 0 to 1.5, in one batch (SD1.5)

*Encode Prompt Pair* encodes "..., neutral expression, ..." and "..., smiling, ..." with the same token layout;
*Embedding Delta* takes the difference; a uniform 7-frame schedule from 0 to 1.5 (alpha 0, 0.25, ..., 1.5) drives
*Alpha Blend*, whose output is one conditioning with one alpha per row. *Shared Noise Latent* gives every row the same
noise, so the rows differ only by the smile's intensity.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Change**: the neutral and target prompts (one attribute apart); the schedule's `start`/`end` (a negative start
gives the opposite expression); *Alpha Blend*'s `strategy` (`last_tokens`, `direction`).

**Expect** 7 frames: the first is the neutral prompt's image, the fifth the target's, the last exaggerated (grid and
WEBP in `output/inbetween/`).
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD15)
    schedule = w.node("InbetweenBetaCoefficientSchedule", load.next(250), title="Alpha schedule 0 -> 1.5", frames=7,
                      preset="uniform", start=0.0, end=1.5)
    w.group("Load", [ckpt, schedule], color=LOAD)
    pair = w.node("InbetweenEncodePromptPair", prompts.next(330), clip=ckpt["CLIP"], neutral=SMILE[0],
                  target=SMILE[1], target_2="", target_3="")
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [pair, negative], color=PROMPTS)
    delta = w.node("InbetweenEmbeddingDelta", delta_col.next(130), neutral=pair["neutral"], target=pair["target"],
                   token_alignment="error", neutral_text="neutral expression", target_text="smiling")
    blend = w.node("InbetweenAlphaBlend", delta_col.next(230), neutral=pair["neutral"], delta=delta["delta"], alpha=1.0,
                   strategy="all_tokens", token_count=7, magnitude=10.0, token_alignment="error",
                   schedule=schedule["schedule"])
    latent = w.node("InbetweenSharedNoiseLatent", delta_col.next(130), width=512, height=512, frames=7,
                    schedule=schedule["schedule"])
    w.group("Intensity series", [delta, blend, latent], color=SEQUENCE)
    sampled = sample_and_decode(w, sample, ckpt["MODEL"], blend["CONDITIONING"], negative["CONDITIONING"],
                                latent["LATENT"], ckpt["VAE"], seed=42, steps=20, cfg=7.0, sampler_name="euler",
                                scheduler="normal")
    decode = sampled[-1]
    w.group("Sample", sampled, color=SAMPLE)
    w.group("Save", save_sequence(w, save, decode["IMAGE"], "attribute_intensity", fps=4.0), color=SAVE)


@workflow("Attribute mix (SDXL)")
def multi_attribute_sdxl(w: Workflow):
    notes, load, prompts, delta_col, sample, save = columns(315, 400, 315, 315, 400)
    w.group("Read me", [w.note(f"""
## Two attributes at different weights (SDXL)

One *Encode Prompt Pair* encodes the neutral portrait, "smiling" and "wearing round glasses"; two *Embedding Delta*
nodes make the two directions and *Multi Attribute Blend* adds them to the neutral at 0.8 and 0.5 (the pooled CLIP-G
output too, which SDXL also reads).

**Model** (any SDXL checkpoint works):
{models_line(SDXL)}

**Change**: the weights (0 removes an attribute, above 1 exaggerates, negative reverses it); the prompts; a third and
fourth delta from `target_3` and *Multi Attribute Blend*'s free slots.

**Expect** one 1024x1024 portrait, smiling and wearing glasses (`output/inbetween/`).
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SDXL)
    latent = w.node("EmptyLatentImage", load.next(110), width=1024, height=1024, batch_size=1)
    w.group("Load", [ckpt, latent], color=LOAD)
    pair = w.node("InbetweenEncodePromptPair", prompts.next(360), clip=ckpt["CLIP"],
                  neutral="portrait photo of a man in a park, neutral expression",
                  target="portrait photo of a man in a park, smiling",
                  target_2="portrait photo of a man in a park, wearing round glasses", target_3="")
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [pair, negative], color=PROMPTS)
    smile = w.node("InbetweenEmbeddingDelta", delta_col.next(130), title="Smile delta", neutral=pair["neutral"],
                   target=pair["target"], token_alignment="error", neutral_text="neutral expression", target_text="smiling")
    glasses = w.node("InbetweenEmbeddingDelta", delta_col.next(130), title="Glasses delta", neutral=pair["neutral"],
                     target=pair["target_2"], token_alignment="error", neutral_text="neutral expression",
                     target_text="wearing round glasses")
    blend = w.node("InbetweenMultiAttributeBlend", delta_col.next(250), base=pair["neutral"], weight_1=0.8, weight_2=0.5,
                   weight_3=0.5, weight_4=0.5, token_alignment="error", delta_1=smile["delta"], delta_2=glasses["delta"])
    w.group("Attributes", [smile, glasses, blend], color=SEQUENCE)
    sampled = sample_and_decode(w, sample, ckpt["MODEL"], blend["CONDITIONING"], negative["CONDITIONING"],
                                latent["LATENT"], ckpt["VAE"], seed=42, steps=25, cfg=6.0, sampler_name="euler",
                                scheduler="normal")
    decode = sampled[-1]
    w.group("Sample", sampled, color=SAMPLE)
    save_image = w.node("SaveImage", save.next(420), images=decode["IMAGE"], filename_prefix="inbetween/multi_attribute")
    w.group("Save", [save_image], color=SAVE)


@workflow("Expression edit (Qwen-Image-Edit)")
def expression_qwen_image_edit(w: Workflow):
    _expression_graph(w, aid=False)


@workflow("Expression edit with AID (Qwen-Image-Edit)")
def expression_qwen_image_edit_aid(w: Workflow):
    _expression_graph(w, aid=True)


AID_EXPRESSION = """
**With AID**: *AID Attention Patch* on the model makes the five edits attend to the neutral and the most intense
edit (the series' endpoints), so the face, hair and background stay the same person across intensities while only
the expression moves. Its weights are relative to the schedule's ends: alpha 0 -> 1.5 blends like 0 -> 1. The first
and the last edit are exactly what the graph without AID gives."""


def _expression_graph(w: Workflow, aid: bool):
    notes, load, image_col, prompts, series, sample, save = columns(315, 315, 400, 315, 315, 400)
    w.group("Read me", [w.note(f"""
## PixelSmile-style expression editing (Qwen-Image-Edit){" with AID" if aid else ""}

Edits the expression of a portrait you load. *Encode Prompt Pair* gets the Qwen text encoder and the scaled image
and encodes "... neutral expression." and "... smiling happily." with the same vision tokens and length;
*ReferenceLatent* adds the image's latent; *Alpha Blend* with a 5-frame schedule from 0 to 1.5 makes the intensity
series; the latent is repeated to 5 rows with a fixed seed behaviour so every row starts from the same noise (keep
*One row per alpha*'s `amount` equal to the schedule's `frames`).

**Models**:
{models_line(QWEN_IMAGE_EDIT, QWEN_TEXT_ENCODER, QWEN_VAE, PIXELSMILE_LORA)}
- The PixelSmile LoRA (Apache-2.0) is trained on Qwen-Image-Edit-2511 for continuous expression control; it is
  what makes intermediate alphas give intermediate expressions. Bypass it (Ctrl+B) to try the base model.

**Change**: load your portrait in *Load Image*; the two prompts; the schedule's `end` (intensity) and `frames`.

**Expect** 5 edits of your portrait from neutral to an exaggerated smile (grid and WEBP in `output/inbetween/`).
{AID_EXPRESSION if aid else ""}""", notes)], color="#432")
    unet = w.node("UNETLoader", load.next(82), models=[QWEN_IMAGE_EDIT], unet_name=QWEN_IMAGE_EDIT.name,
                  weight_dtype="default")
    lora = w.node("LoraLoaderModelOnly", load.next(82), title="PixelSmile LoRA", models=[PIXELSMILE_LORA],
                  model=unet["MODEL"], lora_name=PIXELSMILE_LORA.name, strength_model=1.0)
    shift = w.node("ModelSamplingAuraFlow", load.next(58), model=lora["MODEL"], shift=3.0)
    clip = w.node("CLIPLoader", load.next(106), models=[QWEN_TEXT_ENCODER], clip_name=QWEN_TEXT_ENCODER.name,
                  type="qwen_image", device="default")
    vae = w.node("VAELoader", load.next(58), models=[QWEN_VAE], vae_name=QWEN_VAE.name)
    w.group("Load", [unet, lora, shift, clip, vae], color=LOAD)
    image = w.node("LoadImage", image_col.next(330), image="portrait.png")
    # 106 high: room for the resolution_steps widget newer front ends add (see graph.ADDED_WIDGETS).
    scaled = w.node("ImageScaleToTotalPixels", image_col.next(106), image=image["IMAGE"], upscale_method="area",
                    megapixels=1.0)
    encoded = w.node("VAEEncode", image_col.next(46), pixels=scaled["IMAGE"], vae=vae["VAE"])
    w.group("Portrait", [image, scaled, encoded], color=LOAD)
    pair = w.node("InbetweenEncodePromptPair", prompts.next(380), clip=clip["CLIP"],
                  neutral="Keep the person, pose, clothing, lighting and background exactly the same. "
                          "The person has a neutral expression.",
                  target="Keep the person, pose, clothing, lighting and background exactly the same. "
                         "The person is smiling happily.",
                  target_2="", target_3="", image=scaled["IMAGE"])
    negative = w.node("TextEncodeQwenImageEdit", prompts.next(160), title="Negative", clip=clip["CLIP"], prompt="",
                      vae=vae["VAE"], image=scaled["IMAGE"])
    w.group("Prompts", [pair, negative], color=PROMPTS)
    reference = w.node("ReferenceLatent", series.next(46), conditioning=pair["neutral"], latent=encoded["LATENT"])
    delta = w.node("InbetweenEmbeddingDelta", series.next(130), neutral=pair["neutral"], target=pair["target"],
                   token_alignment="error", neutral_text="neutral expression", target_text="smiling happily")
    schedule = w.node("InbetweenBetaCoefficientSchedule", series.next(250), title="Alpha schedule 0 -> 1.5", frames=5,
                      preset="uniform", start=0.0, end=1.5)
    blend = w.node("InbetweenAlphaBlend", series.next(230), neutral=reference["CONDITIONING"], delta=delta["delta"],
                   alpha=1.0, strategy="all_tokens", token_count=7, magnitude=10.0, token_alignment="error",
                   schedule=schedule["schedule"])
    model, series_nodes = shift["MODEL"], [reference, delta, schedule, blend]
    if aid:
        patch = aid_patch(w, series, shift["MODEL"], schedule["schedule"])
        model, series_nodes = patch["MODEL"], series_nodes + [patch]
    w.group("Intensity series", series_nodes, color=SEQUENCE)
    repeat = w.node("RepeatLatentBatch", sample.next(58), title="One row per alpha", samples=encoded["LATENT"], amount=5)
    same_noise = w.node("LatentBatchSeedBehavior", sample.next(58), samples=repeat["LATENT"], seed_behavior="fixed")
    sampler = w.node("KSampler", sample.next(262), model=model, seed=42, steps=20, cfg=2.5, sampler_name="euler",
                     scheduler="simple", positive=blend["CONDITIONING"], negative=negative["CONDITIONING"],
                     latent_image=same_noise["LATENT"], denoise=1.0)
    decode = w.node("VAEDecode", sample.next(46), samples=sampler["LATENT"], vae=vae["VAE"])
    w.group("Sample", [repeat, same_noise, sampler, decode], color=SAMPLE)
    prefix = "inbetween/expression_aid" if aid else "inbetween/expression"
    webp = w.node("SaveAnimatedWEBP", save.next(SAVE_HEIGHT), images=decode["IMAGE"], filename_prefix=prefix,
                  fps=4.0, lossless=False, quality=90)
    grid = w.node("InbetweenImageGrid", save.next(110), images=decode["IMAGE"], columns=0, padding=5, pad_value=1.0)
    grid_save = w.node("SaveImage", save.next(SAVE_HEIGHT), images=grid["IMAGE"], filename_prefix=f"{prefix}_grid")
    w.group("Save", [webp, grid, grid_save], color=SAVE)
