"""The documentation matches the pack: every registered node has its help pages (English and each translation) and
no page names a node that is not there; tooltips and descriptions fit a tooltip; the translations cover every node,
input and output the pack declares and nothing else; every link and picture of the README, the guides and the node
pages resolves to a file of the repository. What the front end makes of the pages is test_frontend's.
"""

import docs_pages
import pytest

import comfy_host

NODES = comfy_host.load_pack().nodes.NODES
SCHEMAS = {node.GET_SCHEMA().node_id: node.GET_SCHEMA() for node in NODES}
README_LIMIT = 12 * 1024
# Category names the front end translates itself (its own nodeCategories): a pack's translation would rename
# ComfyUI's categories of that name too, so the pack leaves them to it.
FRONT_END_CATEGORIES = {"conditioning", "image", "latent", "noise"}


def _texts(schema) -> list[tuple[str, str]]:
    """(where, text) of the description and of every input and output tooltip."""
    texts = [("description", schema.description)]
    texts += [(f"input '{item.id}'", item.tooltip or "") for item in schema.inputs]
    texts += [(f"output {index}", item.tooltip or "") for index, item in enumerate(schema.outputs)]
    return texts


def test_every_node_has_a_page_and_every_page_a_node():
    assert docs_pages.page_node_ids() == set(SCHEMAS)
    for locale in docs_pages.TRANSLATED:
        assert docs_pages.translated_node_ids(locale) == set(SCHEMAS), locale


@pytest.mark.parametrize("node_id", sorted(SCHEMAS))
def test_page_titles_are_the_display_names(node_id):
    assert docs_pages.opening(docs_pages.english_page(node_id)).title == SCHEMAS[node_id].display_name
    for locale in docs_pages.TRANSLATED:
        translated = docs_pages.locale_messages(locale)["nodeDefs"][node_id]["display_name"]
        assert docs_pages.opening(docs_pages.translated_page(node_id, locale)).title == translated, locale


@pytest.mark.parametrize("node_id", sorted(SCHEMAS))
def test_tooltips_and_descriptions_fit_a_tooltip(node_id):
    for where, text in _texts(SCHEMAS[node_id]):
        assert len(text) <= docs_pages.TOOLTIP_LIMIT, f"{node_id} {where}: {len(text)} characters: {text}"


@pytest.mark.parametrize("locale", docs_pages.TRANSLATED)
def test_translations_cover_every_node_input_and_output(locale):
    messages = docs_pages.locale_messages(locale)
    assert set(messages["nodeDefs"]) == set(SCHEMAS)
    for node_id, schema in SCHEMAS.items():
        entry = messages["nodeDefs"][node_id]
        assert entry["display_name"].strip() and entry["description"].strip(), node_id
        assert len(entry["description"]) <= docs_pages.TOOLTIP_LIMIT, (node_id, entry["description"])
        inputs = {item.id for item in schema.inputs}
        assert set(entry["inputs"]) == inputs, node_id
        assert set(entry.get("outputs", {})) == {str(i) for i, item in enumerate(schema.outputs) if item.tooltip}
        for name, texts in [*entry["inputs"].items(), *entry.get("outputs", {}).items()]:
            assert texts["tooltip"].strip(), (node_id, name)
            assert len(texts["tooltip"]) <= docs_pages.TOOLTIP_LIMIT, (node_id, name, texts["tooltip"])
    categories = {part for schema in SCHEMAS.values() for part in schema.category.split("/")[1:]}
    assert set(messages["nodeCategories"]) == categories - FRONT_END_CATEGORIES


@pytest.mark.parametrize("path", docs_pages.node_pages(), ids=lambda path: str(path.relative_to(docs_pages.WEB_DOCS)))
def test_node_pages_list_inputs_and_outputs_as_the_node_declares_them(path):
    """Lists, not tables (a table is wider than the 275 px help panel), naming every input with its type, and every
    output where the page lists them, by the names the front end shows in the page's language."""
    assert not docs_pages.has_table(path), f"{path.name}: a table; the help panel is 275 px wide, write a list"
    schema = SCHEMAS[path.parent.name]
    locale = path.stem
    names = docs_pages.locale_messages(locale)["nodeDefs"][schema.node_id] if locale != "en" else {}
    declared = {"inputs": {item.id: (item.io_type, names.get("inputs", {}).get(item.id, {}).get("name", item.id))
                           for item in schema.inputs},
                "outputs": {item.display_name: (item.io_type, names.get("outputs", {}).get(str(index), {}).get(
                    "name", item.display_name)) for index, item in enumerate(schema.outputs)}}
    listed = docs_pages.io_lists(path)
    assert "inputs" in listed, f"{path.name}: no Inputs list"
    for section, items in listed.items():
        assert {ident: item.type for ident, item in items.items()} == {
            ident: kind for ident, (kind, _) in declared[section].items()}, section
        for ident, item in items.items():
            assert item.shown in (None, declared[section][ident][1]), (section, ident, item.shown)


@pytest.mark.parametrize("path", docs_pages.markdown_files(), ids=lambda path: str(path.relative_to(comfy_host.PACK_DIR)))
def test_links_and_pictures_resolve_to_repository_files(path):
    for reference in docs_pages.references(path):
        target = docs_pages.resolve(reference)
        if target is not None:
            assert target.is_file() or (not reference.picture and target.is_dir()), (
                f"{reference.target} -> {target} does not exist")
            assert comfy_host.PACK_DIR in target.parents or target == comfy_host.PACK_DIR


def test_readme_is_short():
    size = len((comfy_host.PACK_DIR / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; the detail belongs in docs/ and the node pages"
