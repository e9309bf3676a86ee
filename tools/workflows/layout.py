"""The column layout every workflow shares (read me, load, prompts, sequence, sample, save, left to right) and the
pieces several workflows repeat: a checkpoint loader, a prompt, decoding and saving a frame sequence."""

from .graph import Column, Node, Output, Workflow
from .models import FLUX_CLIP_L, FLUX_DEV, FLUX_T5XXL, FLUX_VAE, Model

NOTE_WIDTH = 440
GROUP_GAP = 48          # between the columns, so the groups drawn around them never touch
PROMPT_HEIGHT = 130
AID_PATCH_HEIGHT = 278  # AID Attention Patch's widgets with max_rows and the shares: the front end draws it 270 high
NEGATIVE = "blurry, low quality, watermark"

# group colours from the front end's palette: loaders, prompts, sequence (the pack's nodes), sampling, output
LOAD, PROMPTS, SEQUENCE, SAMPLE, SAVE = "#3f789e", "#8A8", "#a1309b", "#b58b2a", "#444"


def columns(*widths: int, top: int = 0) -> list[Column]:
    """The read-me column, then one column per width, left to right."""
    x, result = 0, [Column(0, NOTE_WIDTH, top)]
    x += NOTE_WIDTH + GROUP_GAP
    for width in widths:
        result.append(Column(x, width, top))
        x += width + GROUP_GAP
    return result


def checkpoint(w: Workflow, col: Column, model: Model) -> Node:
    return w.node("CheckpointLoaderSimple", col.next(98), models=[model], ckpt_name=model.name)


def flux_loaders(w: Workflow, col: Column) -> tuple[Node, Node, Node]:
    """Flux dev's loaders: Load Diffusion Model, DualCLIPLoader (CLIP-L, T5-XXL, type flux), Load VAE."""
    unet = w.node("UNETLoader", col.next(82), models=[FLUX_DEV], unet_name=FLUX_DEV.name, weight_dtype="default")
    clip = w.node("DualCLIPLoader", col.next(130), models=[FLUX_CLIP_L, FLUX_T5XXL], clip_name1=FLUX_CLIP_L.name,
                  clip_name2=FLUX_T5XXL.name, type="flux", device="default")
    return unet, clip, w.node("VAELoader", col.next(58), models=[FLUX_VAE], vae_name=FLUX_VAE.name)


def encoded_photos(w: Workflow, col: Column, vae: Output, size: int) -> tuple[list[Node], list[Output], list[Output]]:
    """Photo A and photo B (photo_a.png, photo_b.png) loaded, scaled and center-cropped to ``size`` square and
    VAE-encoded: the nodes, the scaled pictures and their latents."""
    nodes, scaled_pictures, latents = [], [], []
    for label, image in (("A (first frame)", "photo_a.png"), ("B (last frame)", "photo_b.png")):
        photo = w.node("LoadImage", col.next(330), title=f"Photo {label}", image=image)
        scaled = w.node("ImageScale", col.next(130), image=photo["IMAGE"], upscale_method="lanczos", width=size,
                        height=size, crop="center")
        encoded = w.node("VAEEncode", col.next(46), pixels=scaled["IMAGE"], vae=vae)
        nodes += [photo, scaled, encoded]
        scaled_pictures.append(scaled["IMAGE"])
        latents.append(encoded["LATENT"])
    return nodes, scaled_pictures, latents


def prompt(w: Workflow, col: Column, clip: Output, title: str, text: str, height: int = PROMPT_HEIGHT) -> Node:
    return w.node("CLIPTextEncode", col.next(height), title=title, text=text, clip=clip)


def prompt_batch(w: Workflow, col: Column, a: Output, b: Output, schedule: Output, guide: Output | None = None) -> Node:
    """Conditioning Interpolation Batch: prompt A to prompt B along the schedule (lerp); with a guide, PAID."""
    return w.node("InbetweenConditioningInterpolationBatch", col.next(150), conditioning_a=a, conditioning_b=b,
                  schedule=schedule, method="lerp", token_alignment="error", **({"guide": guide} if guide else {}))


def aid_patch(w: Workflow, col: Column, model: Output, schedule: Output, max_rows: int = 0, **shares) -> Node:
    """AID Attention Patch as the paper runs it: fused outer, self + cross, the first half of the steps (``shares``:
    its ``share_index`` and ``share_count``)."""
    return w.node("InbetweenAIDAttentionPatch", col.next(AID_PATCH_HEIGHT), model=model, schedule=schedule,
                  mode="outer", fused=True, layers="self + cross", start_percent=0.0, end_percent=0.5,
                  apply_to_uncond=False, max_rows=max_rows, **shares)


def sample_and_decode(w: Workflow, col: Column, model: Output, positive: Output, negative: Output, latent: Output,
                      vae: Output, title: str | None = None, denoise: float = 1.0, **sampling) -> list[Node]:
    """A KSampler (seed, steps, cfg, sampler_name, scheduler in ``sampling``) and the VAE Decode of its output."""
    sampler = w.node("KSampler", col.next(262), title=title, model=model, positive=positive, negative=negative,
                     latent_image=latent, denoise=denoise, **sampling)
    return [sampler, w.node("VAEDecode", col.next(46), samples=sampler["LATENT"], vae=vae)]


def save_sequence(w: Workflow, col: Column, images: Output, prefix: str, grid_columns: int = 0,
                  fps: float = 6.0, video: bool = False) -> list[Node]:
    """An animated WEBP and an image grid of the frames, under ``inbetween/<prefix>`` and ``..._grid``; with
    ``video``, also an H.264 MP4 (core Create Video and Save Video) under ``..._video``."""
    webp = w.node("SaveAnimatedWEBP", col.next(330), images=images, filename_prefix=f"inbetween/{prefix}", fps=fps,
                  lossless=False, quality=90)
    nodes = [webp]
    if video:
        clip = w.node("CreateVideo", col.next(80), images=images, fps=fps)
        nodes += [clip, w.node("SaveVideo", col.next(330), video=clip["VIDEO"], filename_prefix=f"inbetween/{prefix}_video",
                               format="mp4", codec="h264")]
    grid = w.node("InbetweenImageGrid", col.next(110), images=images, columns=grid_columns, padding=4, pad_value=1.0)
    save = w.node("SaveImage", col.next(300), images=grid["IMAGE"], filename_prefix=f"inbetween/{prefix}_grid")
    return nodes + [grid, save]


def models_line(*models: Model) -> str:
    return "\n".join(f"- {model.markdown()}" for model in models)
