"""Render the pictures the repository ships, all made by ComfyUI's front end or the pack's own nodes:

- workflows/<name>.jpg: each workflow's graph as the real front end draws it (headless Chromium), the thumbnail
  the template browser asks for next to <name>.json;
- web/docs/images/aid_graph.jpg: the main AID graph, larger, for the README and the node help pages;
- web/docs/images/beta_schedule_curve.png, web/docs/images/metrics_chart.png: the curve Beta Coefficient Schedule
  outputs (classic preset, 7 frames, 25 steps) and the chart Interpolation Metrics outputs for a 7-frame cross-fade
  between two flat pictures at those coefficients (pixel distance, so each bar is the step of t);
- web/docs/images/node_help.jpg: the front end with AID Attention Patch selected and its help page open;
- web/docs/images/icon.png: the registry icon, seven frames placed at Beta Coefficient Schedule's coefficients
  (classic preset, 4 steps), coloured from A to B by Slerp Latent.

    COMFYUI_PATH=/path/to/ComfyUI python -m tools.workflows.pictures     # needs Debian's chromium package
    ... python -m tools.workflows.pictures photo_morph_sdxl ...         # only these workflows' thumbnails
"""

import sys
import tempfile
from pathlib import Path

from .build import PACK_DIR, WORKFLOWS_DIR

# Served with the node help pages (WEB_DIRECTORY) and shown in the README.
DOCS_DIR = PACK_DIR / "web" / "docs" / "images"
README_GRAPH = "aid_text_interpolation_sd15"
THUMBNAIL_SCALE, README_SCALE = 0.5, 0.75  # screenshot pixels per CSS pixel of a 1600x1000 page
# Fit the graph into the canvas (the page less the front end's side bar and top menu) with this margin.
FIT_JS = """(() => {
    const canvas = window.app.canvas, nodes = window.app.graph._nodes, groups = window.app.graph._groups;
    const boxes = nodes.map(n => Array.from(n.boundingRect)).concat(groups.map(g => Array.from(g._bounding)));
    const left = Math.min(...boxes.map(b => b[0])), top = Math.min(...boxes.map(b => b[1]));
    const right = Math.max(...boxes.map(b => b[0] + b[2])), bottom = Math.max(...boxes.map(b => b[1] + b[3]));
    const rect = canvas.canvas.getBoundingClientRect(), margin = 24;
    const scale = Math.min((rect.width - 2 * margin) / (right - left), (rect.height - 2 * margin) / (bottom - top));
    canvas.ds.scale = scale;
    // Draw every node in full however far out the fit zooms (LiteGraph draws blank boxes below 8 px text).
    if ("min_font_size_for_lod" in canvas) canvas.min_font_size_for_lod = 0;
    canvas.ds.offset = [margin / scale - left + (rect.width / scale - 2 * margin / scale - (right - left)) / 2,
                        margin / scale - top];
    canvas.setDirty(true, true);
    canvas.draw(true, true);
    return {x: rect.x, y: rect.y, width: rect.width, height: Math.min(rect.height, (bottom - top) * scale + 2 * margin)};
})()"""


def screenshots(comfyui: Path, names: list[str]) -> None:
    """Every workflow's thumbnail and the help panel; with ``names``, only those workflows' thumbnails."""
    from browser import find_chromium
    from server import ComfyServer

    executable = find_chromium()
    if executable is None:
        sys.exit("no Chromium found: install Debian's chromium package")
    with tempfile.TemporaryDirectory() as base:
        install_other_packs(Path(base) / "custom_nodes")
        with ComfyServer(comfyui, Path(base), PACK_DIR, []) as server:
            _thumbnails(server, executable, names)


def install_other_packs(custom_nodes: Path) -> None:
    """The snapshots of other packs whose nodes a workflow uses (graph.OTHER_PACKS: ComfyUI-Distributed), extracted
    into ``custom_nodes`` where they are beside the project, so a thumbnail draws those nodes as users see them."""
    import tarfile

    from .distributed import SNAPSHOT

    if SNAPSHOT.is_file():
        custom_nodes.mkdir(parents=True, exist_ok=True)
        with tarfile.open(SNAPSHOT) as archive:
            archive.extractall(custom_nodes, filter="data")


def _thumbnails(server, executable: str, names: list[str]) -> None:
    """Every workflow's thumbnail and the help panel (only ``names``' thumbnails where given), drawn by ``server``."""
    import frontend

    browser = frontend.open_frontend(server, executable)
    try:
        for path in sorted(WORKFLOWS_DIR.glob("*.json")):
            if names and path.stem not in names:
                continue
            frontend.load_template(browser, path.stem)
            if frontend.open_dialogs(browser):
                frontend.close_dialogs(browser)
            clip = browser.evaluate(FIT_JS)
            browser.screenshot(path.with_suffix(".jpg"), clip, quality=70, scale=THUMBNAIL_SCALE)
            if path.stem == README_GRAPH:
                browser.screenshot(DOCS_DIR / "aid_graph.jpg", clip, quality=75, scale=README_SCALE)
            print(f"wrote {path.with_suffix('.jpg').relative_to(PACK_DIR)}")
        if not names:
            help_panel(browser)
    finally:
        browser.close()


def help_panel(browser) -> None:
    """The front end with AID Attention Patch selected and its help page open, as a user finds it."""
    import frontend

    frontend.show_node_help(browser, "InbetweenAIDAttentionPatch", ["Attention Interpolation of Diffusion"])
    browser.evaluate("window.app.canvas.ds.scale = 1.1; window.app.canvas.setDirty(true, true)")
    browser.screenshot(DOCS_DIR / "node_help.jpg", {"x": 0, "y": 0, "width": 1600, "height": 1000}, quality=75,
                       scale=0.6)
    print(f"wrote {(DOCS_DIR / 'node_help.jpg').relative_to(PACK_DIR)}")


def node_pictures() -> None:
    import comfy_host
    import torch
    from PIL import Image

    comfy_host.import_comfy_on_cpu()
    n = comfy_host.load_pack().nodes
    schedule, _, curve = n.schedule_nodes.BetaCoefficientSchedule.execute(
        7, "classic", 25, 2.0, 2.0, 0.0, 1.0).args
    t = torch.tensor(schedule.coefficients, dtype=torch.float32)
    first, last = torch.tensor([0.85, 0.55, 0.2]), torch.tensor([0.2, 0.45, 0.8])
    frames = (first + t[:, None] * (last - first))[:, None, None, :].expand(len(t), 64, 64, 3).contiguous()
    chart = n.metrics_nodes.InterpolationMetrics.execute(frames, "pixel").args[4]
    for image, name in ((curve, "beta_schedule_curve.png"), (chart, "metrics_chart.png")):
        pixels = (image[0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        Image.fromarray(pixels).save(DOCS_DIR / name, optimize=True)
        print(f"wrote {(DOCS_DIR / name).relative_to(PACK_DIR)}")


def icon() -> None:
    import comfy_host
    import torch
    from PIL import Image, ImageDraw

    n = comfy_host.load_pack().nodes
    schedule = n.schedule_nodes.BetaCoefficientSchedule.execute(7, "classic", 4, 2.0, 2.0,
                                                                 0.0, 1.0).args[0]
    # RGB as one-pixel three-channel latents: orange for A, blue for B.
    a, b = ({"samples": torch.tensor(rgb).reshape(1, 3, 1, 1)} for rgb in ((0.93, 0.53, 0.27), (0.31, 0.55, 0.9)))
    rows = n.latent_nodes.SlerpLatent.execute(a, b, "slerp", 0.5, schedule).args[0]["samples"]
    image = Image.new("RGB", (400, 400), (30, 30, 46))
    draw = ImageDraw.Draw(image)
    draw.line([(40, 200), (360, 200)], fill=(90, 90, 110), width=6)
    for t, colour in zip(schedule.coefficients, rows[:, :, 0, 0]):
        x = 40 + 320 * t
        fill = tuple(int(round(float(c) * 255)) for c in colour.clamp(0, 1))
        draw.ellipse([x - 26, 174, x + 26, 226], fill=fill, outline=(240, 240, 245), width=4)
    image.save(DOCS_DIR / "icon.png", optimize=True)
    print(f"wrote {(DOCS_DIR / 'icon.png').relative_to(PACK_DIR)}")


def main(names: list[str]) -> None:
    sys.path.insert(0, str(PACK_DIR / "tests" / "host"))
    import comfy_host

    unknown = [name for name in names if not (WORKFLOWS_DIR / f"{name}.json").exists()]
    if unknown:
        sys.exit(f"no such workflow: {', '.join(unknown)}")
    DOCS_DIR.mkdir(parents=True, exist_ok=True)
    screenshots(comfy_host.comfyui_path(), names)
    if not names:
        node_pictures()
        icon()


if __name__ == "__main__":
    main(sys.argv[1:])
