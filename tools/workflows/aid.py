"""Attention interpolation (AID / PAID) workflows: a prompt pair as one batch, AID on the model, one KSampler."""

from .graph import Workflow, workflow
from .layout import (
    LOAD,
    NEGATIVE,
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
    prompt_batch,
    save_sequence,
)
from .models import SD15, SD15_SCRIBBLE_CONTROLNET, SDXL, Model

AID_SETTINGS = """**Settings that matter**
- *Beta schedule*: `frames` (7) and `steps`; keep its `steps` equal to the KSampler's so *classic* uses Beta(steps, steps).
- *AID Attention Patch*: `outer` is the paper's best; `end_percent` 0.5 applies AID during the first half of the steps
  (raise it for in-betweens closer to the endpoints, lower it for more freedom).
- Frame 1 and the last frame are exactly what prompt A and prompt B give alone, with the KSampler's seed."""


def _aid_graph(w: Workflow, note: str, model: Model, prompt_a: str, prompt_b: str, steps: int, cfg: float,
               size: int, prefix: str, guide: str | None = None, scribble: bool = False, frames: int = 7,
               max_rows: int = 0, grid_columns: int = 7, fps: float = 6.0, video: bool = False) -> None:
    """Load -> prompts -> conditioning batch + AID patch + shared-noise latent -> KSampler -> WEBP and grid (and an
    MP4 with ``video``)."""
    # a ControlNet's loader and hint get a column of their own before Sample, so the packed layout fits its budget
    notes, load, prompts, sequence, control, sample, save = columns(315, 400, 340, 315, 315, 400)
    w.group("Read me", [w.note(note, notes)], color="#432")
    ckpt = checkpoint(w, load, model)
    schedule = w.node("InbetweenBetaCoefficientSchedule", load.next(250), title="Beta schedule (alpha = beta = steps)",
                      frames=frames, preset="classic", steps=steps, start=0.0, end=1.0)
    w.group("Load", [ckpt, schedule], color=LOAD)
    if scribble:
        controlnet = w.node("ControlNetLoader", control.next(60), models=[SD15_SCRIBBLE_CONTROLNET],
                            control_net_name=SD15_SCRIBBLE_CONTROLNET.name)
        hint = w.node("LoadImage", control.next(330), title="Scribble / edge map", image="example.png")
        w.group("ControlNet", [controlnet, hint], color=LOAD)

    a = prompt(w, prompts, ckpt["CLIP"], "Prompt A (first frame)", prompt_a)
    b = prompt(w, prompts, ckpt["CLIP"], "Prompt B (last frame)", prompt_b)
    texts = [a, b]
    if guide:
        texts.append(prompt(w, prompts, ckpt["CLIP"], "Guide (in-between frames)", guide))
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", texts + [negative], color=PROMPTS)

    batch = prompt_batch(w, sequence, a["CONDITIONING"], b["CONDITIONING"], schedule["schedule"],
                         texts[2]["CONDITIONING"] if guide else None)
    patch = aid_patch(w, sequence, ckpt["MODEL"], schedule["schedule"], max_rows=max_rows)
    latent = w.node("InbetweenSharedNoiseLatent", sequence.next(130), width=size, height=size, frames=frames,
                    schedule=schedule["schedule"])
    w.group("Sequence", [batch, patch, latent], color=SEQUENCE)

    positive, negative_out, sampling = batch["CONDITIONING"], negative["CONDITIONING"], []
    if scribble:
        apply = w.node("ControlNetApplyAdvanced", sample.next(190), positive=positive, negative=negative_out,
                       control_net=controlnet["CONTROL_NET"], image=hint["IMAGE"], strength=0.8, start_percent=0.0,
                       end_percent=1.0, vae=ckpt["VAE"])
        positive, negative_out, sampling = apply["positive"], apply["negative"], [apply]
    sampler = w.node("KSampler", sample.next(262), model=patch["MODEL"], seed=42, steps=steps, cfg=cfg,
                     sampler_name="euler", scheduler="normal", positive=positive, negative=negative_out,
                     latent_image=latent["LATENT"], denoise=1.0)
    decode = w.node("VAEDecode", sample.next(46), samples=sampler["LATENT"], vae=ckpt["VAE"])
    w.group("Sample", sampling + [sampler, decode], color=SAMPLE)
    w.group("Save", save_sequence(w, save, decode["IMAGE"], prefix, grid_columns=grid_columns, fps=fps, video=video),
            color=SAVE)


# The reference prompt pair and steps (AID prompt morph (SD1.5), the AID prompt morph blueprint).
CAT_AND_DOG = ("a photo of a cat sitting on a wooden table, soft window light",
               "a photo of a dog sitting on a wooden table, soft window light")
CAT_AND_DOG_STEPS = 25


@workflow("AID prompt morph (SD1.5)")
def aid_text_interpolation_sd15(w: Workflow):
    _aid_graph(w, f"""
## AID between two prompts (SD1.5)

The reference setting of the AID paper (*Attention Interpolation of Text-to-Image Diffusion*): 7 frames from prompt A
to prompt B, sampled **in one batch**. Every row starts from the same noise (*Shared Noise Latent*), the prompts are
interpolated at Beta(steps, steps) coefficients (dense in the middle, where text interpolation changes fastest), and
*AID Attention Patch* lets each in-between frame attend to the endpoints' keys and values, so the in-betweens stay
consistent with the first and the last frame.

**Model** (any SD1.5 checkpoint works; pick yours in *Load Checkpoint*):
{models_line(SD15)}

**Change**: the two prompts (keep them alike apart from what should change), the seed, the number of frames.

{AID_SETTINGS}

**Expect** an animated WEBP and a grid of 7 frames in `output/inbetween/`. Compare with the baseline
`Prompt morph without AID (SD1.5)` (no AID): AID's in-betweens drift less and the steps are more even.
""", SD15, *CAT_AND_DOG, steps=CAT_AND_DOG_STEPS, cfg=7.5, size=512, prefix="aid_text_interpolation")


@workflow("PAID prompt morph through a middle (SD1.5)")
def paid_guided_sd15(w: Workflow):
    _aid_graph(w, f"""
## PAID: in-betweens guided by a third prompt (SD1.5)

The AID graph with a **guide** prompt plugged into *Conditioning Interpolation Batch*: the in-between frames are
conditioned on the guide ("a griffin, half lion half eagle") while AID blends in the endpoints' attention by t, so
the sequence travels from the lion through the griffin to the eagle. The end frames stay exactly prompt A and B.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Change**: prompts A and B, and the guide: describe what the middle of the sequence should look like.

{AID_SETTINGS}

**Expect** 7 frames (WEBP and grid in `output/inbetween/`): lion, griffin-like in-betweens, eagle.
""", SD15, "a photo of a lion, nature documentary", "a photo of an eagle, nature documentary", steps=25, cfg=7.5,
               size=512, prefix="paid_guided", guide="a photo of a griffin, half lion half eagle, nature documentary")


@workflow("AID prompt morph with ControlNet (SD1.5)")
def aid_controlnet_sd15(w: Workflow):
    _aid_graph(w, f"""
## AID with a ControlNet (SD1.5)

The AID graph with a scribble ControlNet applied to the whole conditioning batch: every frame follows the structure
of the hint image while AID interpolates the content from prompt A to prompt B.

**Models**:
{models_line(SD15, SD15_SCRIBBLE_CONTROLNET)}

**Change**: load your own scribble or edge map in *Scribble / edge map* (white lines on black), or pick another
ControlNet and a matching hint; `strength` in *Apply ControlNet* sets how strictly frames follow it.

{AID_SETTINGS}

**Expect** 7 frames with the same outline, apple to orange (WEBP and grid in `output/inbetween/`).
""", SD15, "a red apple on a white plate, studio photo", "an orange on a white plate, studio photo", steps=25, cfg=7.5,
               size=512, prefix="aid_controlnet", scribble=True)


@workflow("AID prompt morph (SDXL)")
def aid_sdxl(w: Workflow):
    _aid_graph(w, f"""
## AID on SDXL

The AID graph on an SDXL checkpoint at 1024x1024; the pooled outputs interpolate with the prompts.

**Model** (any SDXL checkpoint works):
{models_line(SDXL)}

**Change**: the two prompts, the seed, the number of frames. Seven 1024x1024 frames in one batch need the memory of
a batch of 7: lower `frames` or the size on a small GPU.

{AID_SETTINGS}

**Expect** 7 frames from the sailing boat to the steam train (WEBP and grid in `output/inbetween/`).
""", SDXL, "a watercolor painting of a sailing boat at sunrise", "a watercolor painting of a steam train at sunrise",
               steps=30, cfg=7.0, size=1024, prefix="aid_sdxl")


@workflow("AID adaptive schedule (SD1.5)")
def aid_adaptive_sd15(w: Workflow):
    notes, load, prompts, explore, save, report = columns(315, 360, 360, 360, 360)
    w.group("Read me", [w.note(f"""
## Adaptive Beta Schedule: the sequence chooses its coefficients (SD1.5)

*Adaptive Beta Schedule* samples the frames itself (AID outer, first half of the steps): it renders t = 0, 0.5 and 1,
then keeps splitting the interval whose frames differ most, refits the Beta prior, and finally keeps the `frames`
explored frames whose steps are most even. *Interpolation Metrics* scores the result.

**Model** (any SD1.5 checkpoint works):
{models_line(SD15)}

**Change**: the prompts; `exploration_budget` and `frames` (these defaults keep a first run short: 6 explored
coefficients, 5 frames, about 4 sampling runs of batch 3; the paper explores 16 for 7 frames); `distance`
(`pixel` always works, `clip_vision` and `lpips` are perceptual, see the README).

**Expect** the frames as WEBP and grid, the metrics chart, and two text panels: the adaptive report (explored
coefficients, fitted Beta, chosen frames) and the metrics summary. The `schedule` output reproduces these frames in
`AID prompt morph (SD1.5)` with the same seed.
""", notes)], color="#432")
    ckpt = checkpoint(w, load, SD15)
    w.group("Load", [ckpt], color=LOAD)
    a = prompt(w, prompts, ckpt["CLIP"], "Prompt A (first frame)", "a photo of a cat sitting on a wooden table, soft window light")
    b = prompt(w, prompts, ckpt["CLIP"], "Prompt B (last frame)", "a photo of a dog sitting on a wooden table, soft window light")
    negative = prompt(w, prompts, ckpt["CLIP"], "Negative", NEGATIVE)
    w.group("Prompts", [a, b, negative], color=PROMPTS)
    adaptive = w.node("InbetweenAdaptiveBetaSchedule", explore.next(560), title="Adaptive Beta Schedule",
                      model=ckpt["MODEL"], vae=ckpt["VAE"], positive_a=a["CONDITIONING"], positive_b=b["CONDITIONING"],
                      negative=negative["CONDITIONING"], seed=42, steps=12, cfg=7.5, sampler_name="dpmpp_2m",
                      scheduler="karras", width=512, height=512, frames=5, exploration_budget=6, attention="AID outer",
                      aid_end_percent=0.5, token_alignment="error", distance="pixel")
    adaptive_report = w.node("PreviewAny", explore.next(300), title="Adaptive report", source=adaptive["report"])
    w.group("Explore and sample", [adaptive, adaptive_report], color=SEQUENCE)
    w.group("Save", save_sequence(w, save, adaptive["images"], "aid_adaptive"), color=SAVE)
    metrics = w.node("InbetweenInterpolationMetrics", report.next(280), images=adaptive["images"], distance="pixel")
    summary = w.node("PreviewAny", report.next(200), title="Metrics summary", source=metrics["summary"])
    chart = w.node("SaveImage", report.next(SAVE_HEIGHT), images=metrics["chart"], filename_prefix="inbetween/aid_adaptive_metrics")
    w.group("Metrics", [metrics, summary, chart], color=SAMPLE)


@workflow("AID long sequence (SD1.5)")
def aid_long_sequence_sd15(w: Workflow):
    _aid_graph(w, f"""
## A long AID sequence: 25 frames, 4 rows at a time (SD1.5)

A two-second morph from prompt A to prompt B: 25 frames with AID, saved as an animated WEBP, an MP4 video and a grid.
In one batch (as in `AID prompt morph (SD1.5)`) 25 frames would be one model call of 50 rows (each frame has a
positive and a negative row). **`max_rows` 4** on *AID Attention Patch* carries out every model call in parts:
endpoint A, then endpoint B (each exactly the call that sampling that prompt alone makes, so **the first and the last
frame are exactly what prompt A and prompt B give alone**, bit for bit), every attention layer keeping their keys and
values for this call; then the 23 in-between frames two at a time (4 rows), each attending to the kept keys and
values. The in-betweens are the one-batch frames up to the kernels' rounding.

**Model** (any SD1.5 checkpoint works; pick yours in *Load Checkpoint*):
{models_line(SD15)}

**Memory**: the model never holds more than 4 rows at once, whatever the number of frames, plus the endpoints' kept
keys and values (positive pass, every attention layer, both endpoints: about 95 MiB in fp16 at 512x512). Raise
`max_rows` on a large GPU for fewer, larger calls; 0 samples all 50 rows in one batch.

**Time**: each step computes every frame once (the endpoints once per step, not once per part), the work of the
one-batch path in 14 model calls per step instead of 1; 2.8x less than the reference implementation, which samples
`[A, t, B]` once per in-between frame (69 frames' rows for 23 in-betweens). Each call has a fixed cost, which shows
on a small model or a CPU (see the README's benchmarks).

**Change**: the two prompts, the seed; `frames` in *Beta schedule* and *Shared Noise Latent* (keep them equal); `fps`
in *Save Animated WEBP* and *Create Video*.

{AID_SETTINGS.replace("(7)", "(25)")}

**Expect** in `output/inbetween/`: a 2-second animated WEBP and MP4 (12 fps) and a grid of the 25 frames.
""", SD15, "a photo of a cat sitting on a wooden table, soft window light",
               "a photo of a dog sitting on a wooden table, soft window light", steps=25, cfg=7.5, size=512,
               prefix="aid_long_sequence", frames=25, max_rows=4, grid_columns=5, fps=12.0, video=True)
