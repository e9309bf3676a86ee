"""The column layout every workflow shares (read me, load, prompts, sequence, sample, save, in reading order: left to
right, short columns stacked top to bottom so the graph opens readable in the template browser) and the pieces several
workflows repeat: a checkpoint loader, a prompt, decoding and saving a frame sequence."""

from .graph import GROUP_PADDING, GROUP_TITLE, Column, Node, Output, Slot, Workflow
from .models import FLUX_CLIP_L, FLUX_DEV, FLUX_T5XXL, FLUX_VAE, Model

NOTE_WIDTH = 440
GROUP_GAP = 40          # between the columns, so the groups drawn around them never touch
STACK_GAP = 24          # between two groups of one column, as between two nodes (Column.GAP)
PROMPT_HEIGHT = 130
SAVE_HEIGHT = 250       # a node that shows what it saved: room for the picture, small enough for the size budget
AID_PATCH_HEIGHT = 278  # AID Attention Patch's widgets with max_rows and the shares: the front end draws it 270 high
NEGATIVE = "blurry, low quality, watermark"

# group colours from the front end's palette: loaders, prompts, sequence (the pack's nodes), sampling, output
LOAD, PROMPTS, SEQUENCE, SAMPLE, SAVE = "#3f789e", "#8A8", "#a1309b", "#b58b2a", "#444"

# The size budget. The template browser of the newest front end (1.58) opens a template fitted to its nodes' bounds
# (title bars included, 10 canvas units around): scale = 0.75 * min(canvas width / W, canvas height / H). Below
# 8 / 14 (LiteGraph.Canvas.MinFontSizeForLOD over the node text size) it draws every node as an empty box. A layout
# aims to stay readable on a 1600x1000 canvas, or at least on 1920x1080 where its nodes cannot fit that.
FIT_ZOOM, FIT_PADDING, READABLE_SCALE = 0.75, 10, 8 / 14
CANVASES = ((1600, 1000), (1920, 1080))
FIT_MARGINS = (0.03, 0.005)  # above READABLE_SCALE: a comfortable one where the nodes allow, else a small one


def fit_scale(width: float, height: float, canvas: tuple[int, int]) -> float:
    """The scale the template browser opens a graph of nodes' bounds ``width`` x ``height`` at on ``canvas``."""
    return FIT_ZOOM * min(canvas[0] / max(width + 2 * FIT_PADDING, 300), canvas[1] / max(height + 2 * FIT_PADDING, 300))


def columns(*widths: int, top: int = 0, pack: bool = True) -> list[Column]:
    """The read-me column, then one column per width, in reading order. With ``pack`` (a workflow's layout) they are
    placed once complete: left to right, consecutive ones stacked top to bottom where that is what makes the graph fit
    the size budget (``packed``); without it, each at its own x, left to right."""
    x, result = 0, [Column(0, NOTE_WIDTH, top)]
    x += NOTE_WIDTH + GROUP_GAP
    for width in widths:
        result.append(Column(x, width, top))
        x += width + GROUP_GAP
    if pack:
        placed = {}

        def arrange():
            key = tuple(len(column.entries) for column in result)
            if placed.get("key") != key:
                placed["key"] = key
                packed(result, top)
        for column in result:
            column.arrange, column.layout = arrange, result
    return result


def beside(col: Column) -> Column:
    """A column right of ``col`` (a workflow's, from ``columns``), at its top and of its width, that the layout keeps
    there: one group's nodes in two columns, where one would be taller than the size budget allows."""
    if col.layout is None:  # not a packed layout: the nodes stay in ``col``
        return col
    right = Column(col.x + col.width + Column.GAP, col.width, col.top)
    right.arrange, right.layout, right.beside = col.arrange, col.layout, col
    col.layout.insert(col.layout.index(col) + 1, right)
    return right


def packed(cols: list[Column], top: int = 0) -> list[list[Column]]:
    """Place ``cols`` (in reading order) as stacks left to right, each stack consecutive blocks top to bottom, and
    return the stacks. A block is a column and those ``beside`` it: side by side, or one under the other as one
    column. The layout chosen is the one with the most stacks (then blocks side by side) that opens readable
    (``fit_scale``, with the first of ``FIT_MARGINS`` that any layout allows) on the first of ``CANVASES`` that any
    layout fits, the largest scale among those; where none does, the largest scale on the last.
    The scale counts the nodes' saved heights, the stacking the room Nodes 2.0 takes (``Slot.room``)."""
    blocks: list[list[Column]] = []
    for column in cols:
        if not column.entries:
            continue
        if column.beside is not None and blocks and column.beside in blocks[-1]:
            blocks[-1].append(column)
        else:
            blocks.append([column])

    def saved(column: Column) -> int:
        """The column's height to its lowest node's saved bottom."""
        last, height = column.entries[-1], column.extent[1]
        return height - (last.room - last.height if isinstance(last, Slot) else 0)

    def size(block: list[Column], side_by_side: bool) -> tuple[int, int, int]:
        """Width, height (room) and height (saved) of a block."""
        extents = [column.extent for column in block]
        if side_by_side:
            return (sum(width for width, _ in extents) + Column.GAP * (len(block) - 1),
                    max(height for _, height in extents), max(saved(column) for column in block))
        above = sum(height + Column.GAP for _, height in extents[:-1])
        return max(width for width, _ in extents), above + extents[-1][1], above + saved(block[-1])

    def bounds(stacks: list[list[int]], sizes: list[tuple[int, int, int]]) -> tuple[int, int]:
        width = sum(max(sizes[i][0] for i in stack) for stack in stacks) + GROUP_GAP * (len(stacks) - 1)
        height = max(sum(sizes[i][1] + GROUP_PADDING + STACK_GAP + GROUP_TITLE for i in stack[:-1]) + sizes[stack[-1]][2]
                     for stack in stacks)
        return width, height

    splittable = [index for index, block in enumerate(blocks) if len(block) > 1]
    layouts = []  # (stacks, which blocks stand side by side, their sizes)
    for cuts in range(2 ** max(len(blocks) - 1, 0)):
        stacks, current = [], [0]
        for index in range(1, len(blocks)):
            if cuts >> (index - 1) & 1:
                current.append(index)
            else:
                stacks.append(current)
                current = [index]
        stacks.append(current)
        for sides in range(2 ** len(splittable)):
            side = {index for bit, index in enumerate(splittable) if sides >> bit & 1}
            layouts.append((stacks, side, [size(block, i in side) for i, block in enumerate(blocks)]))
    for canvas, margin in ((canvas, margin) for canvas in CANVASES for margin in FIT_MARGINS):
        readable = [layout for layout in layouts
                    if fit_scale(*bounds(layout[0], layout[2]), canvas) >= READABLE_SCALE + margin]
        if readable:
            stacks, side, sizes = max(readable, key=lambda layout: (
                len(layout[0]), len(layout[1]), fit_scale(*bounds(layout[0], layout[2]), canvas)))
            break
    else:
        stacks, side, sizes = max(layouts, key=lambda layout: fit_scale(*bounds(layout[0], layout[2]), CANVASES[-1]))
    x = 0
    for stack in stacks:
        y = top
        for index in stack:
            left, below = x, y
            for column in blocks[index]:
                column.x, column.top = left, below
                if index in side:
                    left += column.extent[0] + Column.GAP
                else:
                    below += column.extent[1] + Column.GAP
            y += sizes[index][1] + GROUP_PADDING + STACK_GAP + GROUP_TITLE
        x += max(sizes[i][0] for i in stack) + GROUP_GAP
    return [sum((blocks[i] for i in stack), []) for stack in stacks]


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
    VAE-encoded: the nodes, the scaled pictures and their latents. Photo B's nodes stand right of photo A's."""
    nodes, scaled_pictures, latents = [], [], []
    photos = (("A (first frame)", "photo_a.png"), ("B (last frame)", "photo_b.png"))
    for col, (label, image) in zip((col, beside(col)), photos):
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
    webp = w.node("SaveAnimatedWEBP", col.next(SAVE_HEIGHT), images=images, filename_prefix=f"inbetween/{prefix}", fps=fps,
                  lossless=False, quality=90)
    nodes = [webp]
    if video:
        clip = w.node("CreateVideo", col.next(80), images=images, fps=fps)
        nodes += [clip, w.node("SaveVideo", col.next(SAVE_HEIGHT), video=clip["VIDEO"], filename_prefix=f"inbetween/{prefix}_video",
                               format="mp4", codec="h264")]
    grid = w.node("InbetweenImageGrid", col.next(110), images=images, columns=grid_columns, padding=4, pad_value=1.0)
    save = w.node("SaveImage", col.next(SAVE_HEIGHT), images=grid["IMAGE"], filename_prefix=f"inbetween/{prefix}_grid")
    return nodes + [grid, save]


def models_line(*models: Model) -> str:
    return "\n".join(f"- {model.markdown()}" for model in models)
