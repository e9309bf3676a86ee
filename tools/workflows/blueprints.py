"""Blueprints: the templates' graphs as single nodes of the node library (subgraphs/<name>.json).

Each takes the model, CLIP and VAE of the user's loaders and returns the frames (IMAGE), with the settings that
matter promoted to its node; one promoted ``steps`` feeds the schedule and the sampler alike, one ``frames`` both
schedules of the picture morph, so they cannot disagree. The values are the equivalent template's: the host suite
runs each blueprint and its template on the test checkpoints and compares their frames.
"""

from . import aid, attributes, keyframes, picture_morphs
from .graph import Column, Input, Node, Workflow, blueprint
from .layout import (
    NEGATIVE,
    PROMPTS,
    SAMPLE,
    SEQUENCE,
    aid_patch,
    columns,
    prompt_batch,
    sample_and_decode,
)

CATEGORY = "Inbetween"
SIZE = 512


def _start(w: Workflow, *widths: int) -> tuple:
    """The columns of the given widths (no read-me column: the blueprint's description says it), then the model, CLIP
    and VAE inputs."""
    return (*columns(*widths, pack=False)[1:], w.input("model", "MODEL"), w.input("clip", "CLIP"), w.input("vae", "VAE"))


def _text(w: Workflow, col: Column, clip: Input, title: str, text: Input):
    return w.node("CLIPTextEncode", col.next(130), title=title, text=text, clip=clip)


def _sampling(w: Workflow, steps: int, seed: int, cfg: float) -> dict:
    """The promoted sampler settings, as KSampler takes them."""
    return dict(seed=w.input("seed", "INT", seed), steps=w.input("steps", "INT", steps),
                cfg=w.input("cfg", "FLOAT", cfg), sampler_name="euler", scheduler="normal")


def _size(w: Workflow) -> dict:
    return dict(width=w.input("width", "INT", SIZE), height=w.input("height", "INT", SIZE))


def _aid_frames(w: Workflow, cols: tuple[Column, Column], model: Input, vae: Input, schedule: Node, batch: Node,
                negative: Node, sampling: dict, frames, max_rows: int = 0) -> None:
    """AID on the model, shared noise, one KSampler and the decode for the schedule's conditioning batch: the
    blueprint's frames. ``frames`` is Shared Noise Latent's widget, unused beside the schedule (the batch follows
    it): the template's value, so the two graphs are the same."""
    sequence, sample = cols
    patch = aid_patch(w, sequence, model, schedule["schedule"], max_rows=max_rows)
    latent = w.node("InbetweenSharedNoiseLatent", sequence.next(130), frames=frames, schedule=schedule["schedule"],
                    **_size(w))
    w.group("Sequence", [schedule, batch, patch, latent], color=SEQUENCE)
    sampled = sample_and_decode(w, sample, patch["MODEL"], batch["CONDITIONING"], negative["CONDITIONING"],
                                latent["LATENT"], vae, **sampling)
    w.group("Sample", sampled, color=SAMPLE)
    w.output("frames", sampled[1]["IMAGE"])


@blueprint("AID prompt morph", f"{CATEGORY}/AID",
           "Two prompts -> frames with AID attention interpolation: prompt A's picture, in-betweens that stay "
           "consistent with both ends, prompt B's picture, sampled in one batch. Template: AID prompt morph (SD1.5).")
def aid_prompt_morph(w: Workflow):
    prompts, sequence, sample, model, clip, vae = _start(w, 340, 340, 340)
    a = _text(w, prompts, clip, "Prompt A (first frame)", w.input("prompt_a", "STRING", aid.CAT_AND_DOG[0]))
    b = _text(w, prompts, clip, "Prompt B (last frame)", w.input("prompt_b", "STRING", aid.CAT_AND_DOG[1]))
    negative = _text(w, prompts, clip, "Negative", w.input("negative", "STRING", NEGATIVE))
    w.group("Prompts", [a, b, negative], color=PROMPTS)
    sampling = _sampling(w, aid.CAT_AND_DOG_STEPS, 42, 7.5)
    frames = w.input("frames", "INT", 7)
    schedule = w.node("InbetweenBetaCoefficientSchedule", sequence.next(250), title="Beta schedule (alpha = beta = steps)",
                      frames=frames, preset="classic", steps=sampling["steps"], start=0.0, end=1.0)
    batch = prompt_batch(w, sequence, a["CONDITIONING"], b["CONDITIONING"], schedule["schedule"])
    _aid_frames(w, (sequence, sample), model, vae, schedule, batch, negative, sampling, frames)


@blueprint("Keyframe story", f"{CATEGORY}/keyframes",
           "A prompt a line -> frames through every prompt with AID in each segment; loop leads the last prompt back "
           "to the first so the frames cycle. keyframes must count the lines. Template: Keyframe story loop (SD1.5).")
def keyframe_story(w: Workflow):
    prompts, sequence, sample, model, clip, vae = _start(w, 340, 340, 340)
    lines = w.node("InbetweenEncodeKeyframePrompts", prompts.next(260), title="Keyframe prompts (one a line)",
                   clip=clip, prompts=w.input("prompts", "STRING", "\n".join(keyframes.STORY)))
    negative = _text(w, prompts, clip, "Negative", w.input("negative", "STRING", NEGATIVE))
    w.group("Prompts", [lines, negative], color=PROMPTS)
    sampling = _sampling(w, keyframes.STORY_STEPS, 42, 7.5)
    schedule = keyframes._schedule(w, sequence, w.input("keyframes", "INT", len(keyframes.STORY)),
                                   w.input("frames_per_segment", "INT", keyframes.STORY_FRAMES),
                                   loop=w.input("loop", "BOOLEAN", True), steps=sampling["steps"])
    batch = keyframes._keyframe_batch(w, sequence, lines["keyframes"], schedule["schedule"])
    _aid_frames(w, (sequence, sample), model, vae, schedule, batch, negative, sampling,
                keyframes._length(len(keyframes.STORY), keyframes.STORY_FRAMES, loop=True), max_rows=4)


@blueprint("Attribute slider", f"{CATEGORY}/attributes",
           "Neutral and target prompts -> frames of the target's attribute at intensities alpha_start to alpha_end "
           "(1: the target, above 1: stronger, below 0: the opposite), one shared noise. Template: "
           "Attribute slider (SD1.5).")
def attribute_slider(w: Workflow):
    prompts, sequence, sample, model, clip, vae = _start(w, 340, 340, 340)
    pair = w.node("InbetweenEncodePromptPair", prompts.next(330), clip=clip,
                  neutral=w.input("neutral", "STRING", attributes.SMILE[0]),
                  target=w.input("target", "STRING", attributes.SMILE[1]), target_2="", target_3="")
    negative = _text(w, prompts, clip, "Negative", w.input("negative", "STRING", attributes.NEGATIVE))
    w.group("Prompts", [pair, negative], color=PROMPTS)
    frames = w.input("frames", "INT", 7)
    schedule = w.node("InbetweenBetaCoefficientSchedule", sequence.next(250), title="Alpha schedule", frames=frames,
                      preset="uniform",
                      start=w.input("alpha_start", "FLOAT", 0.0), end=w.input("alpha_end", "FLOAT", 1.5))
    delta = w.node("InbetweenEmbeddingDelta", sequence.next(130), neutral=pair["neutral"], target=pair["target"],
                   token_alignment="error")
    blend = w.node("InbetweenAlphaBlend", sequence.next(230), neutral=pair["neutral"], delta=delta["delta"], alpha=1.0,
                   strategy="all_tokens", token_count=7, magnitude=10.0, token_alignment="error",
                   schedule=schedule["schedule"])
    latent = w.node("InbetweenSharedNoiseLatent", sequence.next(130), frames=frames, schedule=schedule["schedule"],
                    **_size(w))
    w.group("Intensity series", [schedule, delta, blend, latent], color=SEQUENCE)
    sampled = sample_and_decode(w, sample, model, blend["CONDITIONING"], negative["CONDITIONING"], latent["LATENT"],
                                vae, **_sampling(w, 20, 42, 7.0))
    w.group("Sample", sampled, color=SAMPLE)
    w.output("frames", sampled[1]["IMAGE"])


@blueprint("Picture morph", f"{CATEGORY}/morphs",
           "Two pictures -> frames from picture A to picture B whose ends are the pictures themselves (FreeMorph: "
           "inversion, then sampling with the morph's attention); captions describe each picture. SD 2.1's settings "
           "as in the template Picture morph FreeMorph (SD2.1).")
def picture_morph(w: Workflow):
    setting = picture_morphs.SD21
    pictures, prompts, sequence, morph, sample, model, clip, vae = _start(w, 340, 340, 340, 340, 400)
    size = w.input("size", "INT", setting.size)
    scaled, latents, picture_nodes = [], [], []
    for label in ("a", "b"):
        scale = w.node("ImageScale", pictures.next(130), image=w.input(f"picture_{label}", "IMAGE"),
                       upscale_method="lanczos", width=size, height=size, crop="center")
        encoded = w.node("VAEEncode", pictures.next(46), pixels=scale["IMAGE"], vae=vae)
        picture_nodes += [scale, encoded]
        scaled.append(scale["IMAGE"])
        latents.append(encoded["LATENT"])
    w.group("Pictures", picture_nodes, color=PROMPTS)
    a = _text(w, prompts, clip, "Caption A (picture A)", w.input("caption_a", "STRING", picture_morphs.CAPTIONS[0]))
    b = _text(w, prompts, clip, "Caption B (picture B)", w.input("caption_b", "STRING", picture_morphs.CAPTIONS[1]))
    negative = _text(w, prompts, clip, "Negative", w.input("negative", "STRING", ""))
    w.group("Captions", [a, b, negative], color=PROMPTS)
    image = picture_morphs.morph_and_sample(
        w, (sequence, morph, sample), setting, model, vae, a, b, negative, scaled, latents,
        frames=w.input("frames", "INT", picture_morphs.FRAMES), steps=w.input("steps", "INT", setting.steps),
        strength=w.input("strength", "FLOAT", picture_morphs.STRENGTH),
        iterations=w.input("iterations", "INT", picture_morphs.ITERATIONS),
        noise_seed=w.input("seed", "INT", 42), cfg=w.input("cfg", "FLOAT", setting.cfg))
    w.output("frames", image)
