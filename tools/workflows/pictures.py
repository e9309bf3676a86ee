"""Render the pictures the repository ships, all made by ComfyUI's front end or the pack's own nodes:

- workflows/<name>.jpg: each workflow's graph alone (no menus, sidebar or canvas info) as the real front end draws
  it (headless Chromium) at a zoom where every node is drawn in full, 800 px wide: the thumbnail the template browser
  asks for next to <name>.json;
- web/docs/images/aid_graph.jpg: the main AID graph, larger, for the README and the node help pages;
- web/docs/images/beta_schedule_curve.png, web/docs/images/metrics_chart.png: the curve Beta Coefficient Schedule
  outputs (classic preset, 7 frames, 25 steps) and the chart Interpolation Metrics outputs for a 7-frame cross-fade
  between two flat pictures at those coefficients (pixel distance, so each bar is the step of t);
- web/docs/images/node_help.jpg: the front end with AID Attention Patch selected and its help page open;
- web/docs/images/icon.png: the registry icon, seven frames placed at Beta Coefficient Schedule's coefficients
  (classic preset, 4 steps), coloured from A to B by Slerp Latent.

    COMFYUI_PATH=/path/to/ComfyUI python -m tools.workflows.pictures     # needs Debian's chromium package
    ... python -m tools.workflows.pictures "Picture morph FreeMorph (SDXL)" ...   # only these workflows' thumbnails
"""

import sys
import tempfile
import time
from pathlib import Path

from .build import PACK_DIR, WORKFLOWS_DIR
from .graph import TITLE_HEIGHT

# Served with the node help pages (WEB_DIRECTORY) and shown in the README.
DOCS_DIR = PACK_DIR / "web" / "docs" / "images"
README_GRAPH = "AID prompt morph (SD1.5)"
PAGE = (1600, 1000)  # the browser's page, CSS pixels, as the host suite opens the front end
# Canvas scale of a thumbnail: above the front end's low-detail threshold (LiteGraph draws nodes as empty boxes below
# min_font_size_for_lod 8 / NODE_TEXT_SIZE 14 = 0.57), so every node, widget and note is drawn. The page grows to
# hold the graph at this scale; the picture is then scaled down to its width.
THUMBNAIL_ZOOM, MARGIN = 0.65, 24
THUMBNAIL_WIDTH, README_WIDTH = 800, 1200
# Focus mode hides the front end's tab bar, sidebar and Run button (its own menu button, top right, is hidden too), and
# the canvas info (the "T: 0.00s I: 0 N: 15" debug text) is a setting: the picture shows the graph alone.
FOCUS_JS = """(async (on) => {
    await window.app.extensionManager.setting.set("Comfy.Graph.CanvasInfo", false);
    if (window.app.extensionManager.focusMode !== on) window.app.extensionManager.toggleFocusMode();
    await new Promise(requestAnimationFrame);
    const menu = document.querySelector(".pi-bars")?.closest(".fixed");
    if (menu) menu.style.visibility = on ? "hidden" : "";
})"""
# Puts the graph's corner MARGIN px from the page's at THUMBNAIL_ZOOM; what the canvas then draws, for the checks: the
# low-detail mode, the canvas info, and which of the picture's corners and edges' middles the canvas (or a node's DOM
# widget on it, such as a prompt's text box at the graph's edge) does not show.
SHOW_JS = """(([left, top], zoom, margin, width, height) => {
    const canvas = window.app.canvas;
    canvas.ds.scale = zoom;
    canvas.ds.offset = [margin / zoom - left, margin / zoom - top];
    canvas.setDirty(true, true);
    canvas.draw(true, true);
    const points = [[2, 2], [width / 2, 2], [width - 2, 2], [2, height / 2], [width - 2, height / 2],
                    [2, height - 2], [width / 2, height - 2], [width - 2, height - 2]];
    return {lowQuality: canvas.low_quality, info: canvas.show_info,
            covered: points.filter(([x, y]) => {
                const shown = document.elementFromPoint(x, y);  // the canvas, or a node's own text box over it
                return shown !== canvas.canvas && !shown.closest(".dom-widget");
            })};
})"""


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

    browser = frontend.open_frontend(server, executable, *PAGE)
    try:
        browser.evaluate(f"{FOCUS_JS}(true)")
        for path in sorted(WORKFLOWS_DIR.glob("*.json")):
            if names and path.stem not in names:
                continue
            ui = frontend.load_template(browser, path.stem)
            if frontend.open_dialogs(browser):
                frontend.close_dialogs(browser)
            clip = show_graph(browser, ui)
            browser.screenshot(path.with_suffix(".jpg"), clip, quality=70, scale=THUMBNAIL_WIDTH / clip["width"])
            if path.stem == README_GRAPH:
                browser.screenshot(DOCS_DIR / "aid_graph.jpg", clip, quality=75, scale=README_WIDTH / clip["width"])
            print(f"wrote {path.with_suffix('.jpg').relative_to(PACK_DIR)}")
        resize_page(browser, *PAGE)
        if not names:
            browser.evaluate(f"{FOCUS_JS}(false)")  # the help panel is shown in the front end's whole window
            help_panel(browser)
    finally:
        browser.close()


def graph_box(ui: dict) -> tuple[float, float, float, float]:
    """Left, top, width and height of the saved graph ``ui`` in canvas units: its groups and its nodes, title bars
    included."""
    boxes = [group["bounding"] for group in ui["groups"]] + [
        [node["pos"][0], node["pos"][1] - TITLE_HEIGHT, node["size"][0], node["size"][1] + TITLE_HEIGHT]
        for node in ui["nodes"]]
    left, top = min(box[0] for box in boxes), min(box[1] for box in boxes)
    return (left, top, max(box[0] + box[2] for box in boxes) - left, max(box[1] + box[3] for box in boxes) - top)


def page_clip(ui: dict) -> dict:
    """The page region (CSS pixels) that shows the graph at THUMBNAIL_ZOOM with MARGIN around it."""
    _, _, width, height = graph_box(ui)
    return {"x": 0, "y": 0, "width": round(width * THUMBNAIL_ZOOM + 2 * MARGIN),
            "height": round(height * THUMBNAIL_ZOOM + 2 * MARGIN)}


def thumbnail_size(ui: dict) -> tuple[int, int]:
    clip = page_clip(ui)
    return THUMBNAIL_WIDTH, round(clip["height"] * THUMBNAIL_WIDTH / clip["width"])


def show_graph(browser, ui: dict) -> dict:
    """Grow the page to hold the loaded graph ``ui`` at THUMBNAIL_ZOOM and draw it there; the page region it fills."""
    (left, top, _, _), clip = graph_box(ui), page_clip(ui)
    resize_page(browser, max(PAGE[0], clip["width"]), max(PAGE[1], clip["height"]))
    drawn = browser.evaluate(f"{SHOW_JS}([{left}, {top}], {THUMBNAIL_ZOOM}, {MARGIN}, {clip['width']}, "
                             f"{clip['height']})")
    if drawn != {"lowQuality": False, "info": False, "covered": []}:
        raise RuntimeError(f"the canvas would not show the graph alone in full detail: {drawn}")
    time.sleep(0.5)  # the notes' and prompts' text boxes follow the canvas on its next frames
    return clip


def resize_page(browser, width: int, height: int) -> None:
    browser.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    browser.wait_for(f"window.app.canvas.canvas.clientWidth === {width} && window.app.canvas.canvas.clientHeight === "
                     f"{height}", timeout=10, what="the canvas to fill the page")


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
