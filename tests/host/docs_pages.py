"""The pack's documentation as the tests read it: the node help pages ComfyUI's front end shows, the translations it
loads, and the links and pictures of every Markdown file.

Node pages live in ``web/docs`` (``WEB_DIRECTORY`` ``web``): ``<NodeId>/<locale>.md``, English (``en``) included,
since every front end tested fetches ``/extensions/<pack folder>/docs/<NodeId>/<locale>.md`` first and only then the
flat ``<NodeId>.md`` (a 404 first, were the English page flat). It resolves a relative picture against
``/extensions/<pack folder>/docs/`` whatever page shows it (so ``images/x.png`` is ``web/docs/images/x.png`` on every
page); a relative link it leaves to the browser, which resolves it against ComfyUI's own address, so node pages link
elsewhere only by absolute address (the repository's files on GitHub).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from comfy_host import PACK_DIR

WEB_DOCS = PACK_DIR / "web" / "docs"
LOCALES_DIR = PACK_DIR / "locales"
TRANSLATED = ("zh",)
# What a tooltip shows at once: one or two sentences. The detail lives on the node page.
TOOLTIP_LIMIT = 200
# [project.urls] Repository (read with a pattern: tomllib needs Python 3.11, the pack supports 3.10).
REPOSITORY = re.search(r'^Repository\s*=\s*"([^"]+)"', (PACK_DIR / "pyproject.toml").read_text(), re.M)[1].rstrip("/")

_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_SRC = re.compile(r"<(?:img|video|source)\b[^>]*\bsrc=[\"']([^\"']+)[\"']", re.IGNORECASE)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def english_page(node_id: str) -> Path:
    return translated_page(node_id, "en")


def translated_page(node_id: str, locale: str) -> Path:
    return WEB_DOCS / node_id / f"{locale}.md"


def translated_node_ids(locale: str) -> set[str]:
    return {path.parent.name for path in WEB_DOCS.glob(f"*/{locale}.md")}


def page_node_ids() -> set[str]:
    """Node ids that have an English page."""
    return translated_node_ids("en")


def node_pages() -> list[Path]:
    """Every node page, English and translated."""
    return sorted(WEB_DOCS.glob("*/*.md"))


def locale_messages(locale: str) -> dict:
    """``locales/<locale>/main.json``, the file ComfyUI's ``/i18n`` route merges into the front end's messages."""
    return json.loads((LOCALES_DIR / locale / "main.json").read_text(encoding="utf-8"))


def plain(markdown: str) -> str:
    """Inline Markdown as the rendered page reads: links and pictures as their text, no emphasis or code marks,
    whitespace collapsed."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    # Code spans as they are; elsewhere no emphasis marks (the pages emphasise with asterisks only).
    parts = re.split(r"`([^`]*)`", text)
    text = "".join(part if index % 2 else part.replace("*", "") for index, part in enumerate(parts))
    return " ".join(text.split())


@dataclass(frozen=True)
class PageOpening:
    title: str
    sentence: str


def opening(path: Path) -> PageOpening:
    """A page's title (its ``#`` heading) and the first sentence of its first paragraph, as rendered text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    title = next(line[2:].strip() for line in lines if line.startswith("# "))
    start = lines.index(f"# {title}") + 1
    paragraph = []
    for line in lines[start:]:
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line)
    text = plain(" ".join(paragraph))
    match = re.match(r"(.+?[.。:：])(\s|$)", text)
    return PageOpening(plain(title), match.group(1) if match else text)


# A page's Inputs and Outputs are lists, "- **name** (TYPE): text": the help panel of newer front ends is 275 px wide
# and a table there scrolls sideways. A translated page shows the name the front end shows in its language, then the
# input's id ("- **关键帧数** `keyframes` (INT)：..."). One item may name several ("**alpha**, **beta** (FLOAT)"), each
# with its type or one type after the last for all, or a numbered run ("**weight_1** ... **weight_4** (FLOAT)").
_IO_SECTIONS = {"Inputs": "inputs", "输入": "inputs", "Outputs": "outputs", "输出": "outputs"}
_IO_UNIT = r"\*\*([^*]+)\*\*(?: `(\w+)`)?(?: \(([A-Z_]+)\))?"
_IO_ITEM = re.compile(rf"- ((?:{_IO_UNIT}(?:, |、| \.\.\. | … )?)+)[:：]")
_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Listed:
    type: str
    shown: str | None  # the name the page shows; None inside a numbered run, which shows its ends only


def io_lists(path: Path) -> dict[str, dict[str, Listed]]:
    """The Inputs and Outputs lists of a node page, by section ("inputs", "outputs") and id; a section only where the
    page lists it (a page may describe a single output in prose). A type is "" where the item gives none."""
    found: dict[str, dict[str, Listed]] = {}
    section = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            section = _IO_SECTIONS.get(line.lstrip("#").strip())
            continue
        if section is None or not line.startswith("- "):
            continue
        item = _IO_ITEM.match(line)
        if item is None:
            raise ValueError(f"{path}: {line[:60]!r} is not '- **name** (TYPE): ...'")
        units = re.findall(_IO_UNIT, item[1])
        if not any(kind for *_, kind in units[:-1]):  # one type after the last name, for all of them
            units = [(shown, ident, units[-1][2]) for shown, ident, _ in units]
        listed = {ident or shown: Listed(kind, shown) for shown, ident, kind in units}
        if "..." in item[1] or "…" in item[1]:
            (first, ends), (last, _) = listed.items()
            stem = first.rstrip("0123456789")
            run = range(int(first[len(stem):]) + 1, int(last[len(stem):]))
            listed = {first: ends, **{f"{stem}{n}": Listed(ends.type, None) for n in run}, last: listed[last]}
        found.setdefault(section, {}).update(listed)
    return found


def has_table(path: Path) -> bool:
    """Whether a Markdown file holds a table (its delimiter row, outside code)."""
    return bool(_TABLE_DELIMITER.search(_FENCE.sub("", path.read_text(encoding="utf-8"))))


@dataclass(frozen=True)
class Reference:
    source: Path
    target: str
    picture: bool


def references(path: Path) -> list[Reference]:
    """Every link and picture a Markdown file holds, outside code."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", path.read_text(encoding="utf-8")))
    found = [Reference(path, target, True) for target in _IMAGE.findall(text) + _HTML_SRC.findall(text)]
    return found + [Reference(path, target, False) for target in _LINK.findall(text)]


def is_node_page(path: Path) -> bool:
    return WEB_DOCS in path.parents


def resolve(reference: Reference) -> Path | None:
    """The repository file a reference points at, None for an address outside the repository (checked nowhere:
    no network here). Raises ValueError for a reference the front end could not follow."""
    target = reference.target.split("#", 1)[0]
    if target.startswith(REPOSITORY + "/"):
        parts = urllib.parse.unquote(target[len(REPOSITORY) + 1:]).split("/")
        if len(parts) < 3 or parts[0] not in ("blob", "tree", "raw"):
            raise ValueError(f"{reference.target}: expected {REPOSITORY}/blob/<branch>/<path>")
        return PACK_DIR.joinpath(*parts[2:])
    if re.match(r"[a-z]+:", target):
        return None
    if not target:
        return reference.source  # an anchor on the same page
    if is_node_page(reference.source):
        if not reference.picture:
            raise ValueError(f"{reference.target}: the help panel cannot follow a relative link; link to "
                             f"{REPOSITORY}/blob/main/<path>")
        return WEB_DOCS / urllib.parse.unquote(target)
    return (reference.source.parent / urllib.parse.unquote(target)).resolve()


def markdown_files() -> list[Path]:
    """The README, the guides and the node pages."""
    files = [PACK_DIR / "README.md", *sorted((PACK_DIR / "docs").glob("*.md")), *sorted(WEB_DOCS.rglob("*.md"))]
    return [path for path in files if path.exists()]
