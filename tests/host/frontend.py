"""ComfyUI's own web front end (the comfyui-frontend-package the server serves) in headless Chromium: open it on a
running server, load a shipped workflow the way the template browser does, read back what the front end made of it."""

import json
import time
import urllib.request

import pytest
from browser import Browser, BrowserError, find_chromium
from server import PACK_FOLDER_NAME

NO_CHROMIUM = "front-end test skipped: no Chromium found (install Debian's chromium package; .ci/run does)"
# A first visit would open the template browser and a minimap over the graph. Settings are the server's, shared by
# every page: the classic renderer unless a page asks for Nodes 2.0.
SETTINGS = {"Comfy.TutorialCompleted": True, "Comfy.Minimap.Visible": False, "Comfy.Graph.CanvasMenu": False,
            "Comfy.VueNodes.Enabled": False}
# The template browser of the newest front end opens a template fitted to its nodes: scale = 0.75 * min(canvas width /
# W, canvas height / H), W and H the bounds of the nodes' boundingRect (title bars included) and 10 canvas units around.
# Below 8 / 14 (LiteGraph.Canvas.MinFontSizeForLOD over the node text size) it draws every node as an empty box. Every
# template opens readable on a 1600x1000 canvas, but the ones below.
READABLE_SCALE, FIT_CANVAS, LARGE_CANVAS = 8 / 14, (1600, 1000), (1920, 1080)
# Workflows whose nodes do not fit 1600x1000 readable (packed as tight as their columns allow; see the developer
# guide): name -> the scale each opens at, at least, on a 1920x1080 canvas. READABLE_SCALE where that is readable; the
# others have more nodes than a 1920x1080 canvas holds readable in columns (two or three pictures with their scaling,
# five clips' groups, two models' loaders) and open at the largest scale their layout allows.
LARGE_TEMPLATES = {
    "Expression edit (Qwen-Image-Edit)": READABLE_SCALE, "Expression edit with AID (Qwen-Image-Edit)": READABLE_SCALE,
    "Picture morph Redux (Flux)": READABLE_SCALE, "Picture morph img2img (SD1.5)": READABLE_SCALE,
    "Picture morph FreeMorph (SD2.1)": READABLE_SCALE, "Picture morph FreeMorph (SDXL)": READABLE_SCALE,
    "Picture morph FreeMorph (Flux)": 0.52, "Picture story FreeMorph (SD1.5)": 0.52,
    "AID video prompt morph (Wan 2.1 T2V)": 0.49, "AID video prompt morph (Wan 2.2 TI2V 5B)": 0.49,
    "Video morph FreeMorph and Wan 2.1 FLF2V": 0.49, "Video story loop (Wan 2.2 I2V)": 0.51,
}


def fit_scale(ui: dict, canvas: tuple[int, int]) -> float:
    """The scale the template browser opens the workflow ``ui`` at on ``canvas``, from its nodes' saved geometry."""
    left = min(node["pos"][0] for node in ui["nodes"]) - 10
    top = min(node["pos"][1] for node in ui["nodes"]) - 30 - 10
    right = max(node["pos"][0] + node["size"][0] for node in ui["nodes"]) + 10
    bottom = max(node["pos"][1] + node["size"][1] for node in ui["nodes"]) + 10
    return 0.75 * min(canvas[0] / max(right - left, 300), canvas[1] / max(bottom - top, 300))


# LiteGraph's canvas state of the loaded graph: what the layout checks read.
NODES_JS = """window.app.graph._nodes.map(n => ({id: n.id, type: n.type, title: n.title,
    min: Array.from(n.computeSize()), bounding: Array.from(n.boundingRect)}))"""


def chromium() -> str:
    """The Chromium to drive, or the test skips by name (the one way the browser tests find it)."""
    executable = find_chromium()
    if executable is None:
        pytest.skip(NO_CHROMIUM)
    return executable


def open_frontend(server, executable: str, width: int = 1600, height: int = 1000, locale: str = "en",
                  settings: dict | None = None) -> Browser:
    """The front end in ``locale`` with ``settings`` (user settings of the server, so every later page gets them
    unless set again)."""
    settings = {**SETTINGS, "Comfy.Locale": locale, **(settings or {})}
    request = urllib.request.Request(server.url + "/settings", data=json.dumps(settings).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()
    browser = Browser(executable, width, height)
    try:
        browser.goto(server.url)
        browser.wait_for("!!(window.app && window.app.graph && window.app.canvas && window.app.extensionManager)",
                         what="the front end's app")
        # What a fresh front end logs while starting (no user files yet, no internet) belongs to no workflow.
        time.sleep(3)
        browser.evaluate("1")
        browser.console.clear()
    except Exception:
        browser.close()
        raise
    return browser


def load_template(browser: Browser, name: str) -> dict:
    """Fetch workflows/<name>.json from the server's template route and load it as the template browser does."""
    return browser.evaluate(f"""(async () => {{
        const response = await fetch(window.comfyAPI.api.api.apiURL(
            "/workflow_templates/{PACK_FOLDER_NAME}/{name}.json"));
        const workflow = await response.json();
        await window.app.loadGraphData(workflow, true, true, "{name}");
        return workflow;
    }})()""")


def open_templates(browser: Browser, names: list[str], settle: float = 1.5) -> dict:
    """Open each template as the newest front end's template browser does (fitted to the graph, openSource
    "template"), one after another: name -> [canvas scale, whether LiteGraph draws low quality, canvas width, height]
    ``settle`` seconds after each load."""
    return browser.evaluate(f"""(async () => {{
        const seen = {{}};
        for (const name of {json.dumps(names)}) {{
            const response = await fetch(window.comfyAPI.api.api.apiURL(
                `/workflow_templates/{PACK_FOLDER_NAME}/${{name}}.json`));
            await window.app.loadGraphData(await response.json(), true, true, name, {{openSource: "template"}});
            await new Promise(resolve => setTimeout(resolve, {int(settle * 1000)}));
            const canvas = window.app.canvas;
            seen[name] = [canvas.ds.scale, canvas.low_quality, canvas.canvas.clientWidth, canvas.canvas.clientHeight];
        }}
        return seen;
    }})()""", timeout=60 + len(names) * (settle + 3))


def overflowing_notes(browser: Browser) -> list:
    """The Markdown notes of the loaded graph whose text is taller than the note shows: [id, text height, shown
    height] each (the editor's content against its widget's element, canvas units)."""
    return browser.evaluate("""window.app.graph._nodes.filter(n => n.type === "MarkdownNote").map(n => {
        const element = n.widgets[0].element;
        const editor = element.querySelector(".ProseMirror") || element;
        return [n.id, editor.scrollHeight, element.clientHeight];
    }).filter(([, content, shown]) => content > shown + 1)""")


def open_dialogs(browser: Browser, settle: float = 1.0) -> list[str]:
    """Text of every dialog open now (the front end opens its warnings just after a load)."""
    time.sleep(settle)
    return browser.evaluate("[...document.querySelectorAll('.p-dialog')].map(d => d.innerText)")


def missing_models(browser: Browser) -> tuple[list[str], str | None]:
    """Dialogs open after a load, less the one that lists missing models, and the text that lists them: front end
    1.37's Missing Models dialog, or the newest front end's right panel (its Issues tab), opened by the "View details"
    button of the warning it shows instead of a dialog; the panel is closed again."""
    dialogs = open_dialogs(browser)
    listing = [text for text in dialogs if "models" in text.lower() and "download" in text.lower()]
    others = [text for text in dialogs if text not in listing]
    if dialogs:
        return others, listing[0] if listing else None
    details = "[...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'View details')"
    if not browser.evaluate(f"!!{details}"):
        return others, None
    browser.evaluate(f"{details}.click()")
    panel = """[...document.querySelectorAll('div')].filter(d => d.innerText && d.innerText.includes('Missing Models')
        && d.innerText.includes('Download')).sort((a, b) => a.innerText.length - b.innerText.length)[0]"""
    text = browser.wait_for(f"{panel}?.innerText", timeout=10, what="the missing models in the right panel")
    browser.evaluate("""document.querySelector('button[aria-pressed="true"][aria-label="Toggle properties panel"]')
        .click()""")
    browser.wait_for(f"!{panel}", timeout=10, what="the right panel to close")
    return others, text


def close_dialogs(browser: Browser) -> None:
    browser.evaluate("[...document.querySelectorAll('.p-dialog-close-button')].forEach(b => b.click())")
    browser.wait_for("document.querySelectorAll('.p-dialog').length === 0", timeout=10, what="dialogs to close")


def graph_to_prompt(browser: Browser) -> dict:
    return browser.evaluate("window.app.graphToPrompt().then(p => p.output)")


def canvas_nodes(browser: Browser) -> list[dict]:
    return browser.evaluate(NODES_JS)


def unknown_node_types(browser: Browser) -> list[str]:
    """Types of the graph's nodes (subgraphs' included) that the front end has no definition for: the placeholders it
    draws for a missing node type."""
    return browser.evaluate("""(() => {
        const graphs = [window.app.graph, ...(window.app.graph.subgraphs?.values() ?? [])];
        return graphs.flatMap(graph => graph._nodes ?? graph.nodes)
            .filter(node => !node.subgraph && !window.LiteGraph.registered_node_types[node.type])
            .map(node => node.type);
    })()""")


def read_me_edge(browser: Browser) -> dict:
    """Where the "Read me" note's left edge is drawn in the page (CSS pixels), the right edge of the side toolbar
    over the canvas, and what the page shows just right of the note's edge, halfway down its visible part (the
    topmost element there: the canvas or a node, not the toolbar)."""
    return browser.evaluate("""(() => {
        const canvas = window.app.canvas, box = canvas.canvas.getBoundingClientRect();
        const note = window.app.graph._nodes.find(n => n.title === "Read me");
        const [x, y] = canvas.ds.convertOffsetToCanvas([note.pos[0], note.pos[1]]);
        const bottom = canvas.ds.convertOffsetToCanvas([note.pos[0], note.pos[1] + note.size[1]])[1];
        const left = box.left + x, middle = box.top + (Math.max(y, 0) + Math.min(bottom, box.height)) / 2;
        const right = box.left + canvas.ds.convertOffsetToCanvas([note.pos[0] + note.size[0], note.pos[1]])[0];
        const bar = document.querySelector(".side-tool-bar-container").getBoundingClientRect();
        const shown = document.elementFromPoint(left + 2, middle);
        return {note_left: left, note_right: right, toolbar_right: bar.right, probe: [left + 2, middle],
                under_toolbar: !!shown?.closest(".side-tool-bar-container"),
                shown: shown ? shown.tagName + "." + shown.className : null};
    })()""")


def node_search_add(browser: Browser, query: str, at: tuple[float, float] = (800, 600)) -> list[dict]:
    """Add a node as a user does: double-click the empty canvas at ``at``, type ``query`` in the node search box,
    press Enter on the first result. Returns the nodes added (id, type, title, whether it holds a subgraph)."""
    before = set(browser.evaluate("window.app.graph._nodes.map(n => String(n.id))"))
    # After a node was added and removed, the newest front end sometimes lets a double-click pass without opening
    # the search box; a user double-clicks again.
    for attempt in range(3):
        browser.click(*at, count=2)
        try:
            browser.wait_for("document.activeElement?.tagName === 'INPUT'", timeout=5, what="the node search box")
            break
        except BrowserError:
            if attempt == 2:
                raise
    browser.type_text(query)
    time.sleep(1.5)  # the search box lists its results as they come
    browser.press("Enter", key_code=13)
    browser.wait_for(f"window.app.graph._nodes.length > {len(before)}", timeout=20, what=f"'{query}' to be added")
    nodes = browser.evaluate("""window.app.graph._nodes.map(n => ({id: String(n.id), type: n.type, title: n.title,
        subgraph: n.subgraph?.name ?? null}))""")
    return [node for node in nodes if node["id"] not in before]


def vue_geometry(browser: Browser) -> dict:
    """Nodes 2.0's drawn nodes (each node's DOM element, title included) and the canvas's groups, as rectangles
    [x, y, width, height] in graph units."""
    return browser.evaluate("""(() => {
        const canvas = window.app.canvas, box = canvas.canvas.getBoundingClientRect();
        const scale = canvas.ds.scale, [ox, oy] = canvas.ds.offset;
        const graph = r => [(r.left - box.left) / scale - ox, (r.top - box.top) / scale - oy,
                            r.width / scale, r.height / scale];
        const titles = Object.fromEntries(window.app.graph._nodes.map(n => [String(n.id), n.title]));
        return {
            nodes: [...document.querySelectorAll(".lg-node[data-node-id]")].map(e => ({
                id: e.getAttribute("data-node-id"), title: titles[e.getAttribute("data-node-id")],
                rect: graph(e.getBoundingClientRect())})),
            groups: window.app.graph._groups.map(g => ({title: g.title, rect: Array.from(g._bounding)})),
            count: window.app.graph._nodes.length,
        };
    })()""")


def show_node_help(browser: Browser, node_type: str, expected: list[str], timeout: float = 30.0) -> dict:
    """Put a node of ``node_type`` alone on the canvas, select it and press the selection toolbox's info button, as a
    user does; wait until the help panel's text holds every string of ``expected`` (whitespace collapsed). Returns
    the panel's text and the node's title and description as the front end shows them."""
    node = browser.evaluate(f"""(() => {{
        window.app.graph.clear();
        const node = window.LiteGraph.createNode({json.dumps(node_type)});
        window.app.graph.add(node);
        node.pos = [400, 200];
        window.app.canvas.selectNode(node);
        window.app.canvas.setDirty(true, true);
        return {{title: node.title, description: node.constructor.nodeData?.description ?? null}};
    }})()""")
    button = "document.querySelector('[data-testid=\"info-button\"]')"
    browser.wait_for(f"!!{button}", timeout=timeout, what="the selection toolbox's info button")
    browser.evaluate(f"{button}.click()")
    panel = "[...document.querySelectorAll('.node-help-content')].map(e => e.innerText).join(' ').replace(/\\s+/g, ' ')"
    checks = " && ".join(f"text.includes({json.dumps(text)})" for text in expected)
    try:
        browser.wait_for(f"(() => {{ const text = {panel}; return {checks}; }})()", timeout=timeout,
                         what=f"{node_type}'s help page")
    except BrowserError:
        pass  # the caller's assertion says what the panel showed instead
    return {**node, "panel": browser.evaluate(panel)}
