"""The front end's template browser (the dialog of front end 1.37 on: All, Basics, ..., Extensions; 1.37 and the
newest front end, as the front-end test runs them) as a user opens it: the pack's category under Extensions holds a card for every workflow, titled with the name the README and the
guides use for it, and every card's thumbnail loads (the browser shows its own placeholder picture for one that does
not).

What the front end reads for a custom-node pack's template, in 1.37.11 and 1.58.1 alike: only the names the server
lists at /workflow_templates; a card's title is the file name, its description (1.37; 1.58 shows none) the file name with
'-' and '_' as spaces, in the server's order (ComfyUI globs the folder unsorted) unless the user sorts by name. It reads no title,
description or order from the pack (no index.json, no locale keys: those are for its own templates), so the names
are the titles.

What a user sees on opening one: the newest front end fits the view to the template's nodes, and every template opens
drawn in full (not as the empty boxes LiteGraph draws below scale 8/14) on a 1600x1000 page, the large ones listed in
frontend.LARGE_TEMPLATES on 1920x1080 or at the scale listed there.
"""

import json
import re

import frontend
import pytest
from conftest import WORKFLOWS
from PIL import Image
from server import PACK_FOLDER_NAME
from test_frontend import browser, front_end_server  # noqa: F401  (fixtures: each front end in headless Chromium)

SHIPPED = sorted(path.stem for path in WORKFLOWS.glob("*.json"))
README = WORKFLOWS.parent / "README.md"
# 1.37 marks the dialog by a class, the newest (1.58) by its dialog key.
DIALOG = '.workflow-template-selector-dialog, [data-dialog-key="global-workflow-template-selector"]'
CARD = '[data-testid^="template-workflow-"]'
# Opens the browser as its sidebar button does and picks the pack's category in its navigation.
OPEN_JS = f"""(async () => {{
    await window.app.extensionManager.command.execute("Comfy.BrowseTemplates");
    for (let i = 0; i < 200 && !document.querySelector({json.dumps(DIALOG)}); i++)
        await new Promise(resolve => setTimeout(resolve, 100));
    const dialog = document.querySelector({json.dumps(DIALOG)});
    if (!dialog) return null;
    for (let i = 0; i < 200; i++) {{
        const item = [...dialog.querySelectorAll("nav *")].find(e => e.children.length === 0
            && e.textContent.trim() === {json.dumps(PACK_FOLDER_NAME)});
        if (item) {{ item.click(); return true; }}
        await new Promise(resolve => setTimeout(resolve, 100));
    }}
    return false;
}})()"""
# The cards as they are shown, scrolling each into view: the browser loads a page of cards, then more as the user
# scrolls, and loads a card's picture when it comes into view.
CARDS_JS = f"""(async () => {{
    const seen = new Map();
    for (let round = 0; round < 20; round++) {{
        const cards = [...document.querySelectorAll({json.dumps(CARD)})];
        if (cards.length === seen.size) break;
        for (const card of cards.slice(seen.size)) {{
            card.scrollIntoView();
            const image = () => card.querySelector("img");
            for (let i = 0; i < 300 && !(image() && image().complete && image().naturalWidth); i++)
                await new Promise(resolve => setTimeout(resolve, 50));
            seen.set(card.dataset.testid, {{
                name: card.dataset.testid.replace("template-workflow-", ""),
                title: card.querySelector("h3")?.innerText.trim(),
                description: card.querySelector("p")?.innerText.trim(),
                picture: image() ? [image().src, image().naturalWidth, image().naturalHeight] : null}});
        }}
        await new Promise(resolve => setTimeout(resolve, 500));
    }}
    return [...seen.values()];
}})()"""


@pytest.fixture(scope="module")
def cards(browser):
    opened = browser.evaluate(OPEN_JS)
    if opened is None:
        pytest.skip("template browser test skipped: this front end's template browser is the older dialog (front end "
                    "1.27); the dialog with an Extensions category comes with 1.37")
    assert opened, f"the template browser has no category {PACK_FOLDER_NAME}"
    return browser.evaluate(CARDS_JS)


def test_the_pack_category_shows_every_workflow_by_its_name(cards):
    assert sorted(card["name"] for card in cards) == SHIPPED
    for card in cards:
        assert card["title"] == card["name"], card
        if "description" in card:  # 1.37 shows one, 1.58 none
            assert card["description"] == re.sub(r"[-_]", " ", card["name"]), card


def test_every_card_shows_its_thumbnail(cards):
    """Each card's picture is its workflow's thumbnail (the browser fetches it into a blob), not the placeholder."""
    for card in cards:
        with Image.open(WORKFLOWS / f"{card['name']}.jpg") as thumbnail:
            assert card["picture"][1:] == list(thumbnail.size), f"{card['name']}: its thumbnail is not shown: {card}"


def test_every_template_the_readme_names_is_a_card(cards):
    """A user who reads the README's "Which workflow for what" table finds a card titled with each name it gives."""
    table = README.read_text().split("## Which workflow for what", 1)[1].split("\n## ", 1)[0]
    named = {name for row in table.splitlines() if row.startswith("| ")
             for name in re.findall(r"`([^`]+)`", row.rsplit("|", 2)[-2])}
    titles = {card["title"] for card in cards}
    assert len(named) > 20 and named <= titles, sorted(named - titles)


@pytest.mark.parametrize("canvas", [frontend.FIT_CANVAS, frontend.LARGE_CANVAS], ids=lambda size: "x".join(map(str, size)))
def test_every_template_opens_readable(newest_frontend_server, canvas):
    """The newest front end's template browser opens a template fitted to its graph (1.58: fitToBounds at zoom 0.75),
    and below scale 8/14 draws every node and note as an empty box. On a 1600x1000 page every template opens drawn in
    full, but the large ones (frontend.LARGE_TEMPLATES), which on a 1920x1080 page open at least at the scale listed
    there: readable, or for the few with a column taller than that page allows, as large as their layout makes it."""
    names = [name for name in SHIPPED if (name in frontend.LARGE_TEMPLATES) == (canvas == frontend.LARGE_CANVAS)]
    page = frontend.open_frontend(newest_frontend_server, frontend.chromium(), *canvas)
    try:
        opened = frontend.open_templates(page, names)
    finally:
        page.close()
    for name in names:
        scale, low_quality, width, height = opened[name]
        assert (width, height) == canvas, f"{name}: the canvas is {width}x{height}, not the page"
        least = frontend.LARGE_TEMPLATES.get(name, frontend.READABLE_SCALE)
        assert scale >= least - 0.002, f"{name}: opens at scale {scale:.3f} on {width}x{height}, below {least:.3f}"
        if least >= frontend.READABLE_SCALE:
            assert not low_quality, f"{name}: opens at scale {scale:.3f} on {width}x{height}, drawn as empty boxes"
