"""ComfyUI's own web front end (the comfyui-frontend-package the server serves) in headless Chromium: open it on a
running server, load a shipped workflow the way the template browser does, read back what the front end made of it."""

import json
import time
import urllib.request

from browser import Browser, BrowserError
from server import PACK_FOLDER_NAME

# A first visit would open the template browser and a minimap over the graph.
SETTINGS = {"Comfy.TutorialCompleted": True, "Comfy.Minimap.Visible": False, "Comfy.Graph.CanvasMenu": False}
# LiteGraph's canvas state of the loaded graph: what the layout checks read.
NODES_JS = """window.app.graph._nodes.map(n => ({id: n.id, type: n.type, title: n.title,
    min: Array.from(n.computeSize()), bounding: Array.from(n.boundingRect)}))"""


def open_frontend(server, executable: str, width: int = 1600, height: int = 1000, locale: str = "en") -> Browser:
    """The front end in ``locale`` (a user setting of the server, so every later page gets it unless set again)."""
    settings = {**SETTINGS, "Comfy.Locale": locale}
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


def open_dialogs(browser: Browser, settle: float = 1.0) -> list[str]:
    """Text of every dialog open now (the front end opens its warnings just after a load)."""
    time.sleep(settle)
    return browser.evaluate("[...document.querySelectorAll('.p-dialog')].map(d => d.innerText)")


def close_dialogs(browser: Browser) -> None:
    browser.evaluate("[...document.querySelectorAll('.p-dialog-close-button')].forEach(b => b.click())")
    browser.wait_for("document.querySelectorAll('.p-dialog').length === 0", timeout=10, what="dialogs to close")


def graph_to_prompt(browser: Browser) -> dict:
    return browser.evaluate("window.app.graphToPrompt().then(p => p.output)")


def canvas_nodes(browser: Browser) -> list[dict]:
    return browser.evaluate(NODES_JS)


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
