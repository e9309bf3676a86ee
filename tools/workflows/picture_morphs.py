"""Photo morphs whose first and last frames are the photos themselves: FreeMorph (ICCV 2025) on SD 2.1 768 (its own
setting), SDXL and Flux. Both photos are VAE-encoded; Picture Morph Latents inverts their slerped latents;
SamplerCustom samples them, noise off, with the model from Picture Morph Attention; Keep Picture Ends puts the photos
back as the ends. A picture story (SD1.5) does the same through three pictures in a loop, each picture a kept
keyframe (Picture Story Latents, Keep Picture Keyframes)."""

from dataclasses import dataclass

from .graph import Column, Node, Output, Workflow, workflow
from .layout import (
    LOAD,
    PROMPTS,
    SAMPLE,
    SAVE,
    SEQUENCE,
    checkpoint,
    columns,
    encoded_photos,
    flux_loaders,
    models_line,
    prompt,
    prompt_batch,
    save_sequence,
)
from .keyframes import PICTURES, picture_batch
from .models import FLUX_CLIP_L, FLUX_DEV, FLUX_T5XXL, FLUX_VAE, SD15, SD21_768, SDXL, Model

# FreeMorph's settings: 7 frames, strength 0.8 of 50 DDIM steps, 5 fixed-point iterations, its phase bounds.
FRAMES, STRENGTH, ITERATIONS, ATTENTION_BETA = 7, 0.8, 5, 20.0
MEAN_FROM, ENDS_FROM, LOW_FREQUENCIES, PURE_UNTIL, FUSED_UNTIL = 0.3, 0.6, 0.875, 0.2, 0.6
CAPTIONS = ("a photo of a cat sitting on a sofa, soft light", "a photo of a dog sitting on a sofa, soft light")


@dataclass(frozen=True)
class Setting:
    title: str         # the model, as the note's heading names it
    size: int
    steps: int
    scheduler: str
    sampler: str
    cfg: float
    values: str        # whose settings these are, for the note
    guidance: float | None = None  # FluxGuidance on the caption batch (cfg 1)

    @property
    def inversion_calls(self) -> int:
        return round(ITERATIONS * STRENGTH * self.steps)

    @property
    def sampled_steps(self) -> int:
        return round(STRENGTH * self.steps)


SD21 = Setting("SD 2.1 768, FreeMorph's own setting", 768, 50, "ddim_uniform", "ddim", 7.5,
               "FreeMorph's values")
SDXL_SETTING = Setting("SDXL", 1024, 50, "ddim_uniform", "ddim", 7.5, "FreeMorph's values")
FLUX = Setting("Flux dev", 1024, 30, "simple", "euler", 1.0, "FreeMorph's values but the steps and cfg", 3.5)


def _note(setting: Setting, model_text: str) -> str:
    s = setting
    cfg = (f"cfg 1 with *FluxGuidance* {s.guidance} on the caption batch\n  (inversion and sampling both read it; "
           "the negative prompt is unused at cfg 1)" if s.guidance else
           f"cfg {s.cfg} for sampling (the inversion runs at cfg 1, as FreeMorph's)")
    below_one = " Keep it below 1 on rectified flow." if s.guidance else ""
    return f"""
## Morph photo A into photo B, the photos as the ends (FreeMorph, {s.title})

{FRAMES} frames from photo A to photo B whose first and last frames are **the photos themselves**, the way FreeMorph
(ICCV 2025, no training) makes them. Each photo is scaled and center-cropped to {s.size}x{s.size} and VAE-encoded.
*Picture Morph Latents* slerps the two latents at a uniform schedule's {FRAMES} coefficients and inverts every frame
along the sampler's schedule with FreeMorph's attention phases, then gives the in-betweens one noise's high
frequencies. *SamplerCustom* samples those latents (add_noise off, the sigmas *Picture Morph Latents* returned) with
the model from *Picture Morph Attention*: the in-betweens attend to both photos only, then to themselves as well,
then plainly. *Keep Picture Ends* puts the scaled photos back as frame 1 and frame {FRAMES}.

**What the end frames are**: the photos exactly as encoded (scaled and cropped), pixel for pixel. `ends`
`regenerated` shows what the sampler made of them instead: the inversion's round trip, close but not exact.

{model_text}

**Settings that matter** ({s.values})
- *BasicScheduler*: {s.steps} steps, `{s.scheduler}`; *KSamplerSelect* `{s.sampler}`; {cfg}.
- `strength` {STRENGTH}: the last {s.sampled_steps} of the {s.steps} steps are inverted, then sampled. Higher: freer
  in-betweens, further from the photos; lower: closer to a cross-fade.{below_one}
- `iterations` {ITERATIONS}: fixed-point iterations per inverted step (1: plain inversion, faster, looser).
- `mean_from` {MEAN_FROM}, `ends_from` {ENDS_FROM}: inversion steps after these fractions give every frame the
  frames' mean attention, then each frame the mean of its attention to both photos.
- `low_frequencies` {LOW_FREQUENCIES}: the share of each in-between's spectrum kept; the rest comes from one noise
  (`noise_seed`) shared by all frames.
- *Picture Morph Attention*: Beta({ATTENTION_BETA:g}, {ATTENTION_BETA:g}) coefficients, `pure_until`
  {PURE_UNTIL}, `fused_until` {FUSED_UNTIL}.

**Cost**: inversion costs about iterations x strength model calls per step: {ITERATIONS} x {STRENGTH} x
{s.steps} = {s.inversion_calls} calls on the batch of {FRAMES} before sampling's {s.sampled_steps} steps. Lower
`iterations` or the steps for a quick draft.

**Change**: load your photos in *Photo A* and *Photo B* (any sizes: both are brought to {s.size}x{s.size}); describe
each in its caption; `noise_seed`; `frames` in both schedules (they must match).

**Expect** an animated WEBP and a grid of {FRAMES} frames in `output/inbetween/`.
"""


def _photo_morph(w: Workflow, setting: Setting, model_text: str, loaders, prefix: str) -> None:
    """The FreeMorph graph; ``loaders(w, column)`` gives (loader nodes, MODEL, CLIP, VAE)."""
    notes, load, pictures, prompts, sequence, morph, sample, save = columns(315, 330, 400, 340, 340, 340, 400)
    w.group("Read me", [w.note(_note(setting, model_text), notes)], color="#432")
    loader_nodes, model, clip, vae = loaders(w, load)
    w.group("Load", loader_nodes, color=LOAD)
    picture_nodes, scaled, latents = encoded_photos(w, pictures, vae, setting.size)
    w.group("Pictures", picture_nodes, color=LOAD)

    a = prompt(w, prompts, clip, "Caption A (photo A)", CAPTIONS[0])
    b = prompt(w, prompts, clip, "Caption B (photo B)", CAPTIONS[1])
    negative = prompt(w, prompts, clip, "Negative (unused at cfg 1)" if setting.guidance else "Negative", "")
    w.group("Captions", [a, b, negative], color=PROMPTS)
    ends = morph_and_sample(w, (sequence, morph, sample), setting, model, vae, a, b, negative, scaled, latents)
    w.group("Save", save_sequence(w, save, ends, prefix, grid_columns=FRAMES), color=SAVE)


def morph_and_sample(w: Workflow, cols: tuple[Column, Column, Column], setting: Setting, model, vae, a: Node,
                     b: Node, negative: Node, scaled: list, latents: list, frames=FRAMES, steps=None,
                     strength=STRENGTH, iterations=ITERATIONS, noise_seed=42, cfg=None) -> Output:
    """From the captions' encoders, the scaled pictures and their latents to the frames, the pictures as ends: the
    schedules, FreeMorph's inversion and attention, SamplerCustom (noise off), Keep Picture Ends. ``frames``,
    ``steps``... default to the setting's and may be a blueprint's inputs."""
    sequence, morph, sample = cols
    steps = setting.steps if steps is None else steps
    uniform = w.node("InbetweenBetaCoefficientSchedule", sequence.next(250), title="Morph schedule (uniform)",
                     frames=frames, preset="uniform", steps=steps, start=0.0, end=1.0)
    batch = prompt_batch(w, sequence, a["CONDITIONING"], b["CONDITIONING"], uniform["schedule"])
    positive, sequence_nodes = batch["CONDITIONING"], [uniform, batch]
    if setting.guidance:
        guidance = w.node("FluxGuidance", sequence.next(58), conditioning=positive, guidance=setting.guidance)
        positive, sequence_nodes = guidance["CONDITIONING"], sequence_nodes + [guidance]
    w.group("Sequence", sequence_nodes, color=SEQUENCE)

    sigmas = w.node("BasicScheduler", morph.next(110), model=model, scheduler=setting.scheduler, steps=steps,
                    denoise=1.0)
    latents_node = w.node("InbetweenPictureMorphLatents", morph.next(310), model=model, positive=positive,
                          latent_a=latents[0], latent_b=latents[1], schedule=uniform["schedule"],
                          sigmas=sigmas["SIGMAS"], strength=strength, iterations=iterations, mean_from=MEAN_FROM,
                          ends_from=ENDS_FROM, low_frequencies=LOW_FREQUENCIES, noise_seed=noise_seed)
    # The attention's own schedule stands with the attention it drives (the Sequence column is the tallest otherwise).
    attention_schedule = w.node("InbetweenBetaCoefficientSchedule", morph.next(250),
                                title=f"Attention schedule (Beta({ATTENTION_BETA:g}, {ATTENTION_BETA:g}))",
                                frames=frames, preset="custom", steps=steps,
                                alpha=ATTENTION_BETA, beta=ATTENTION_BETA, start=0.0, end=1.0)
    attention = w.node("InbetweenPictureMorphAttention", morph.next(180), model=model,
                       schedule=attention_schedule["schedule"], pure_until=PURE_UNTIL, fused_until=FUSED_UNTIL,
                       layers="self + cross", apply_to_uncond=False, max_rows=0)
    w.group("Morph (FreeMorph)", [sigmas, latents_node, attention_schedule, attention], color=SEQUENCE)

    sampler_select = w.node("KSamplerSelect", sample.next(58), sampler_name=setting.sampler)
    sampler = w.node("SamplerCustom", sample.next(240), title="SamplerCustom (add_noise off)",
                     model=attention["MODEL"], add_noise=False, noise_seed=0,
                     cfg=setting.cfg if cfg is None else cfg, positive=positive,
                     negative=negative["CONDITIONING"], sampler=sampler_select["SAMPLER"],
                     sigmas=latents_node["sigmas"], latent_image=latents_node["latent"])
    decode = w.node("VAEDecode", sample.next(46), samples=sampler["output"], vae=vae)
    ends = w.node("InbetweenKeepPictureEnds", sample.next(104), images=decode["IMAGE"], picture_a=scaled[0],
                  picture_b=scaled[1], ends="pictures")
    w.group("Sample", [sampler_select, sampler, decode, ends], color=SAMPLE)
    return ends["IMAGE"]


def _checkpoint_loader(model: Model):
    def loaders(w: Workflow, col) -> tuple[list[Node], Output, Output, Output]:
        ckpt = checkpoint(w, col, model)
        return [ckpt], ckpt["MODEL"], ckpt["CLIP"], ckpt["VAE"]
    return loaders


def _flux_loaders(w: Workflow, col) -> tuple[list[Node], Output, Output, Output]:
    unet, clip, vae = flux_loaders(w, col)
    return [unet, clip, vae], unet["MODEL"], clip["CLIP"], vae["VAE"]


@workflow("Picture morph FreeMorph (SD2.1)")
def photo_morph_sd21(w: Workflow):
    _photo_morph(w, SD21, f"""**Model** (v-prediction; any SD 2.x checkpoint works, at 512 for the 512 ones):
{models_line(SD21_768)}""", _checkpoint_loader(SD21_768), "photo_morph_sd21")


@workflow("Picture morph FreeMorph (SDXL)")
def photo_morph_sdxl(w: Workflow):
    _photo_morph(w, SDXL_SETTING, f"""**Model** (any SDXL checkpoint works; FreeMorph's setting, on SDXL at 1024):
{models_line(SDXL)}""", _checkpoint_loader(SDXL), "photo_morph_sdxl")


@workflow("Picture morph FreeMorph (Flux)")
def photo_morph_flux(w: Workflow):
    _photo_morph(w, FLUX, f"""**Models** (FreeMorph's method on Flux's rectified flow: this pack's extension of
the paper):
{models_line(FLUX_DEV, FLUX_CLIP_L, FLUX_T5XXL, FLUX_VAE)}""", _flux_loaders, "photo_morph_flux")


STORY = Setting("SD1.5", 512, 50, "ddim_uniform", "ddim", 7.5, "FreeMorph's values")
STORY_SEGMENT = 5  # frames per segment: a picture and 4 in-betweens


@workflow("Picture story FreeMorph (SD1.5)")
def photo_story_sd15(w: Workflow):
    s, keyframes = STORY, len(PICTURES)
    frames = keyframes * STORY_SEGMENT
    notes, load, pictures, prompts, sequence, morph, sample, save = columns(315, 330, 400, 340, 340, 340, 400)
    w.group("Read me", [w.note(f"""
## A loop through three pictures, each picture kept (FreeMorph, SD1.5)

Three pictures you load are the keyframes of a {frames}-frame loop, {STORY_SEGMENT} frames per segment (a picture
and {STORY_SEGMENT - 1} in-betweens), the last segment leading back to the first picture. Every segment is a
FreeMorph morph between its two pictures, and the pictures themselves are frames 1, {STORY_SEGMENT + 1} and
{2 * STORY_SEGMENT + 1}, pixel for pixel. Each picture is scaled and center-cropped to {s.size}x{s.size}; *Batch
Images* joins them in order and *VAE Encode* makes one latent per picture. *Picture Story Latents* slerps each
segment's two latents and inverts every frame with FreeMorph's attention phases: each frame within its segment, a
picture between two segments with the mean of both. *SamplerCustom* samples those latents (add_noise off, the sigmas
*Picture Story Latents* returned) with the model from *Picture Morph Attention* on the attention schedule: each
in-between attends to its segment's two pictures. *Keep Picture Keyframes* puts the scaled pictures back.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Settings that matter** ({s.values})
- Both *Keyframe Schedule*s: `keyframes` {keyframes} (one per picture), `frames_per_segment` {STORY_SEGMENT}, `loop`
  on; they must match. The first is uniform (where the latents and captions sit), the second Beta({ATTENTION_BETA:g},
  {ATTENTION_BETA:g}) per segment (the attention coefficients).
- *BasicScheduler*: {s.steps} steps, `{s.scheduler}`; *KSamplerSelect* `{s.sampler}`; cfg {s.cfg} for sampling (the
  inversion runs at cfg 1).
- `strength` {STRENGTH}, `iterations` {ITERATIONS}, `mean_from` {MEAN_FROM}, `ends_from` {ENDS_FROM},
  `low_frequencies` {LOW_FREQUENCIES}: as in `Picture morph FreeMorph (SD2.1)`.

**Cost**: {ITERATIONS} x {STRENGTH} x {s.steps} = {s.inversion_calls} model calls on the batch of {frames} (cfg 1)
before sampling's {s.sampled_steps} steps. The inversion runs the whole batch at once; for a longer story on a small
GPU, `max_rows` on *Picture Morph Attention* splits the sampling.

**Change**: the pictures and their captions (one a line, in the same order); more pictures: another *Batch Images*,
a caption line and `keyframes` in both schedules; `loop` off for an open story that ends at the last picture.

**Expect** an animated WEBP (it cycles) and a grid of {frames} frames in `output/inbetween/`.
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD15)
    w.group("Load", [ckpt], color=LOAD)
    picture_nodes, images, latents = picture_batch(w, pictures, ckpt["VAE"], s.size)
    w.group("Pictures", picture_nodes, color=LOAD)
    captions = w.node("InbetweenEncodeKeyframePrompts", prompts.next(220), title="Captions (one a line, one a picture)",
                      clip=ckpt["CLIP"], prompts="\n".join(text for _, text in PICTURES))
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", "")
    w.group("Captions", [captions, negative], color=PROMPTS)

    def schedule(title: str, preset: str) -> Node:
        return w.node("InbetweenKeyframeSchedule", sequence.next(300), title=title, keyframes=keyframes,
                      frames_per_segment=STORY_SEGMENT, loop=True, preset=preset, steps=s.steps, alpha=ATTENTION_BETA,
                      beta=ATTENTION_BETA, segment_frames="")

    uniform = schedule("Story schedule (uniform)", "uniform")
    batch = w.node("InbetweenKeyframeConditioningBatch", sequence.next(130), keyframes=captions["keyframes"],
                   schedule=uniform["schedule"], method="lerp", token_alignment="error")
    attention_schedule = schedule(f"Attention schedule (Beta({ATTENTION_BETA:g}, {ATTENTION_BETA:g}))",
                                  "custom")
    w.group("Sequence", [uniform, batch, attention_schedule], color=SEQUENCE)

    sigmas = w.node("BasicScheduler", morph.next(110), model=ckpt["MODEL"], scheduler=s.scheduler, steps=s.steps,
                    denoise=1.0)
    latents_node = w.node("InbetweenPictureStoryLatents", morph.next(310), model=ckpt["MODEL"],
                          positive=batch["CONDITIONING"], pictures=latents, schedule=uniform["schedule"],
                          sigmas=sigmas["SIGMAS"], strength=STRENGTH, iterations=ITERATIONS, mean_from=MEAN_FROM,
                          ends_from=ENDS_FROM, low_frequencies=LOW_FREQUENCIES, noise_seed=42)
    attention = w.node("InbetweenPictureMorphAttention", morph.next(180), model=ckpt["MODEL"],
                       schedule=attention_schedule["schedule"], pure_until=PURE_UNTIL, fused_until=FUSED_UNTIL,
                       layers="self + cross", apply_to_uncond=False, max_rows=0)
    w.group("Morph (FreeMorph)", [sigmas, latents_node, attention], color=SEQUENCE)

    sampler_select = w.node("KSamplerSelect", sample.next(58), sampler_name=s.sampler)
    sampler = w.node("SamplerCustom", sample.next(240), title="SamplerCustom (add_noise off)",
                     model=attention["MODEL"], add_noise=False, noise_seed=0, cfg=s.cfg, positive=batch["CONDITIONING"],
                     negative=negative["CONDITIONING"], sampler=sampler_select["SAMPLER"],
                     sigmas=latents_node["sigmas"], latent_image=latents_node["latent"])
    decode = w.node("VAEDecode", sample.next(46), samples=sampler["output"], vae=ckpt["VAE"])
    kept = w.node("InbetweenKeepPictureKeyframes", sample.next(104), images=decode["IMAGE"], pictures=images,
                  schedule=uniform["schedule"], ends="pictures")
    w.group("Sample", [sampler_select, sampler, decode, kept], color=SAMPLE)
    w.group("Save", save_sequence(w, save, kept["IMAGE"], "photo_story_sd15", grid_columns=STORY_SEGMENT),
            color=SAVE)
