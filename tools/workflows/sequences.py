"""Sequences without attention interpolation: prompt, noise and latent interpolation (SD1.5)."""

from .graph import Workflow, workflow
from .layout import (
    LOAD,
    PROMPTS,
    SAMPLE,
    SAVE,
    SAVE_HEIGHT,
    SEQUENCE,
    checkpoint,
    columns,
    models_line,
    prompt,
    prompt_batch,
    sample_and_decode,
    save_sequence,
)
from .models import SD15

NEGATIVE = "blurry, low quality, watermark, text"
SAMPLING = {"steps": 20, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal"}


@workflow("Prompt morph without AID (SD1.5)")
def text_interpolation_sd15(w: Workflow):
    notes, load, prompts, sequence, sample, save = columns(315, 400, 340, 315, 400)
    w.group("Read me", [w.note(f"""
## Text-embedding interpolation (the baseline)

Prompt A (a cat) and prompt B (a dog) go into *Conditioning Interpolation Batch* with a uniform 7-frame *Beta
Coefficient Schedule*; *Shared Noise Latent* gives all 7 rows the same noise, so one KSampler pass makes the whole
sequence and the end frames are exactly what A and B give alone. This is what the AID paper compares against:
`AID prompt morph (SD1.5)` adds attention interpolation, which makes the in-betweens more consistent.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Change**: the prompts; `method` (lerp, slerp, normalized_lerp); the schedule's `frames` and preset.

**Expect** 7 frames (WEBP and grid in `output/inbetween/`); plain text interpolation often jumps between two middle
frames, which is what AID fixes.
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD15)
    schedule = w.node("InbetweenBetaCoefficientSchedule", load.next(250), frames=7, preset="uniform", start=0.0, end=1.0)
    w.group("Load", [ckpt, schedule], color=LOAD)
    a = prompt(w, prompts, ckpt["CLIP"], "Prompt A", "a photo of a cat sitting on a wooden table, soft window light")
    b = prompt(w, prompts, ckpt["CLIP"], "Prompt B", "a photo of a dog sitting on a wooden table, soft window light")
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [a, b, negative], color=PROMPTS)
    batch = prompt_batch(w, sequence, a["CONDITIONING"], b["CONDITIONING"], schedule["schedule"])
    latent = w.node("InbetweenSharedNoiseLatent", sequence.next(130), width=512, height=512, frames=7,
                    schedule=schedule["schedule"])
    w.group("Sequence", [batch, latent], color=SEQUENCE)
    sampled = sample_and_decode(w, sample, ckpt["MODEL"], batch["CONDITIONING"], negative["CONDITIONING"],
                                latent["LATENT"], ckpt["VAE"], seed=42, **SAMPLING)
    decode = sampled[-1]
    w.group("Sample", sampled, color=SAMPLE)
    w.group("Save", save_sequence(w, save, decode["IMAGE"], "text_interpolation"), color=SAVE)


@workflow("Seed morph noise slerp (SD1.5)")
def noise_slerp_sd15(w: Workflow):
    notes, load, prompts, sequence, sample, save = columns(315, 400, 315, 315, 400)
    w.group("Read me", [w.note(f"""
## One prompt, initial noise slerped between two seeds

*Interpolated Noise* makes 9 rows of noise from seed 1 to seed 2 along the great circle (slerp), which keeps the
unit variance the sampler expects; *SamplerCustomAdvanced* samples them all with one prompt. Row 1 is exactly what
seed 1 gives, row 9 what seed 2 gives.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Change**: the prompt, the two seeds, the schedule's `frames`. The latent batch (*Empty Latent*, `batch_size`) must
equal the schedule's frames. Switch `method` to `lerp` to see why slerp matters: the middle frames lose contrast.

**Expect** 9 frames morphing between two compositions of the same prompt (WEBP and grid in `output/inbetween/`).
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD15)
    schedule = w.node("InbetweenBetaCoefficientSchedule", load.next(250), frames=9, preset="uniform", start=0.0, end=1.0)
    w.group("Load", [ckpt, schedule], color=LOAD)
    positive = prompt(w, prompts, ckpt["CLIP"], "Prompt", "a cozy cabin in a snowy forest at dusk, warm lights, highly detailed")
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [positive, negative], color=PROMPTS)
    noise = w.node("InbetweenInterpolatedNoise", sequence.next(190), seed_a=1, seed_b=2, schedule=schedule["schedule"],
                   method="slerp")
    latent = w.node("EmptyLatentImage", sequence.next(110), title="Empty Latent (batch = frames)", width=512,
                    height=512, batch_size=9)
    w.group("Sequence", [noise, latent], color=SEQUENCE)
    guider = w.node("CFGGuider", sample.next(100), model=ckpt["MODEL"], positive=positive["CONDITIONING"],
                    negative=negative["CONDITIONING"], cfg=7.0)
    sampler_select = w.node("KSamplerSelect", sample.next(60), sampler_name="euler")
    sigmas = w.node("BasicScheduler", sample.next(110), model=ckpt["MODEL"], scheduler="normal", steps=20, denoise=1.0)
    sampler = w.node("SamplerCustomAdvanced", sample.next(110), noise=noise["NOISE"], guider=guider["GUIDER"],
                     sampler=sampler_select["SAMPLER"], sigmas=sigmas["SIGMAS"], latent_image=latent["LATENT"])
    decode = w.node("VAEDecode", sample.next(46), samples=sampler["output"], vae=ckpt["VAE"])
    w.group("Sample", [guider, sampler_select, sigmas, sampler, decode], color=SAMPLE)
    w.group("Save", save_sequence(w, save, decode["IMAGE"], "noise_slerp"), color=SAVE)


def _two_generations(w: Workflow, load, prompts, sample, text: str, negative_text: str = NEGATIVE):
    """Checkpoint, one prompt, and two KSamplers that make images A (seed 1) and B (seed 2)."""
    ckpt = checkpoint(w, load, SD15)
    empty = w.node("EmptyLatentImage", load.next(110), width=512, height=512, batch_size=1)
    positive = prompt(w, prompts, ckpt["CLIP"], "Prompt", text)
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", negative_text)
    common = dict(model=ckpt["MODEL"], positive=positive["CONDITIONING"], negative=negative["CONDITIONING"],
                  latent_image=empty["LATENT"], denoise=1.0, **SAMPLING)
    a = w.node("KSampler", sample.next(262), title="KSampler A (seed 1)", seed=1, **common)
    b = w.node("KSampler", sample.next(262), title="KSampler B (seed 2)", seed=2, **common)
    w.group("Load", [ckpt, empty], color=LOAD)
    w.group("Prompts", [positive, negative], color=PROMPTS)
    w.group("Generate A and B", [a, b], color=SAMPLE)
    return ckpt, positive, negative, a, b


@workflow("Latent slide (SD1.5)")
def latent_slide_sd15(w: Workflow):
    notes, load, prompts, generate, sequence, refine, save = columns(315, 400, 315, 315, 315, 400)
    w.group("Read me", [w.note(f"""
## Translate from one generation into another

Two KSamplers make images A and B of one prompt with different seeds; *Latent Slide* (`slide`, 9 frames) moves a
window of A's width over `[A | B]`, so the picture translates from A into B; a KSampler at denoise 0.45 cleans the
seams.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Change**: the prompt (wide landscapes work best), `frames`, `mode` (`wipe` keeps every column in place and
switches it from A to B), the refining KSampler's `denoise`.

**Expect** 9 frames panning from A into B (WEBP and grid in `output/inbetween/`).
""", notes)], color="#432")
    ckpt, positive, negative, a, b = _two_generations(
        w, load, prompts, generate, "a wide mountain landscape with a lake, morning mist, oil painting")
    slide = w.node("InbetweenLatentSlide", sequence.next(130), latent_a=a["LATENT"], latent_b=b["LATENT"],
                   mode="slide", frames=9)
    w.group("Sequence", [slide], color=SEQUENCE)
    refined = sample_and_decode(w, refine, ckpt["MODEL"], positive["CONDITIONING"], negative["CONDITIONING"],
                                slide["LATENT"], ckpt["VAE"], title="Clean seams (denoise 0.45)", denoise=0.45, seed=3,
                                **SAMPLING)
    decode = refined[-1]
    w.group("Refine", refined, color=SAMPLE)
    w.group("Save", save_sequence(w, save, decode["IMAGE"], "latent_slide"), color=SAVE)


@workflow("Seed morph latent slerp (SD1.5)")
def slerp_latent_sd15(w: Workflow):
    notes, load, prompts, generate, sequence, refine, save = columns(315, 400, 315, 400, 315, 400)
    w.group("Read me", [w.note(f"""
## Refine a slerp between two generations

Two KSamplers make images A and B from different seeds; a uniform 7-frame *Beta Coefficient Schedule* drives *Slerp
Latent* to make the in-between latents, and a KSampler at denoise 0.6 turns each blend into a clean image. Slerp
Latent's `shared_noise` gives every row the same noise, so the first and last frames are A and B refined alone.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Change**: the prompt, the seeds of A and B, the schedule (`frames`, preset; its curve is previewed), the refining
`denoise` (lower keeps the blends closer to A and B, higher gives cleaner but freer frames).

**Expect** 7 PNG frames and an animated WEBP in `output/inbetween/`.
""", notes)], color="#432")
    ckpt, positive, negative, a, b = _two_generations(
        w, load, prompts, generate, "a watercolor painting of a lighthouse on a cliff, golden hour",
        "blurry, low quality, watermark")
    schedule = w.node("InbetweenBetaCoefficientSchedule", sequence.next(250), frames=7, preset="uniform", start=0.0,
                      end=1.0)
    slerp = w.node("InbetweenSlerpLatent", sequence.next(154), latent_a=a["LATENT"], latent_b=b["LATENT"],
                   method="slerp", factor=0.5, schedule=schedule["schedule"])
    curve = w.node("PreviewImage", sequence.next(280), title="Schedule curve", images=schedule["curve"])
    w.group("Sequence", [schedule, slerp, curve], color=SEQUENCE)
    refined = sample_and_decode(w, refine, ckpt["MODEL"], positive["CONDITIONING"], negative["CONDITIONING"],
                                slerp["LATENT"], ckpt["VAE"], title="Refine in-betweens (denoise 0.6)", denoise=0.6,
                                seed=3, **SAMPLING)
    decode = refined[-1]
    w.group("Refine", refined, color=SAMPLE)
    frames = w.node("SaveImage", save.next(SAVE_HEIGHT), images=decode["IMAGE"], filename_prefix="inbetween/slerp_latent_frames")
    webp = w.node("SaveAnimatedWEBP", save.next(SAVE_HEIGHT), images=decode["IMAGE"], filename_prefix="inbetween/slerp_latent",
                  fps=6.0, lossless=False, quality=90)
    w.group("Save", [frames, webp], color=SAVE)
