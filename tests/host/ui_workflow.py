"""Convert a UI-format workflow (what users open, what we ship in ``workflows/``) to the API format
``POST /prompt`` takes, the way ComfyUI's front end does it, using the server's ``/object_info``.

The front end gives every widget input of a node one entry in ``widgets_values``, in the order of
the node's inputs (required, then optional); an INT named ``seed``/``noise_seed`` or any input
with ``control_after_generate`` is followed by its control value ("fixed", "randomize", ...), and
an upload combo by its upload widget. A linked (converted) widget keeps its slot in
``widgets_values`` but takes its value from the link. Reroutes pass their link through, bypassed
nodes pass the input of the same type through, muted nodes disappear, primitive nodes become the
value they hold, and notes are ignored. Widgets missing at the end of ``widgets_values`` (a workflow
saved where the node had fewer) keep their default, as the front end keeps a new widget's.
"""

import dataclasses
from dataclasses import dataclass

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
FRONTEND_ONLY = {"Note", "MarkdownNote"}
MODE_MUTED, MODE_BYPASS = 2, 4
SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = -10, -20  # a subgraph's input and output nodes
UPLOAD_WIDGET_KEYS = ("image_upload", "video_upload", "audio_upload", "animated_image_upload")


class WorkflowError(ValueError):
    pass


@dataclass(frozen=True)
class Link:
    id: int
    origin_id: int
    origin_slot: int
    target_id: int
    target_slot: int
    type: str


def _links(workflow: dict) -> dict[int, Link]:
    links = {}
    for raw in workflow.get("links", []):
        if isinstance(raw, dict):
            link = Link(raw["id"], raw["origin_id"], raw["origin_slot"], raw["target_id"], raw["target_slot"], raw["type"])
        else:
            link = Link(*raw[:6])
        links[link.id] = link
    return links


def _node_label(node: dict) -> str:
    title = node.get("title")
    label = f"node {node['id']} ({node['type']}"
    return label + (f", titled '{title}')" if title else ")")


def _input_specs(info: dict) -> list[tuple[str, object, dict]]:
    """(name, type, options) for every input, in the order the front end builds widgets."""
    order = info.get("input_order") or {section: list(info["input"].get(section, {})) for section in ("required", "optional")}
    specs = []
    for section in ("required", "optional"):
        inputs = info["input"].get(section, {})
        for name in order.get(section, []):
            spec = inputs[name]
            input_type = spec[0]
            options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            specs.append((name, input_type, options))
    return specs


def _is_widget(input_type, options: dict) -> bool:
    if options.get("forceInput"):
        return False
    return isinstance(input_type, list) or input_type in WIDGET_TYPES


def _choices(input_type, options: dict) -> list:
    return input_type if isinstance(input_type, list) else options.get("options") or []


def _extra_widget_values(name: str, input_type, options: dict) -> int:
    extra = 0
    if options.get("control_after_generate") or (input_type == "INT" and name in ("seed", "noise_seed")):
        extra += 1
    if any(options.get(key) for key in UPLOAD_WIDGET_KEYS):
        extra += 1
    return extra


def _check_widget_value(node: dict, name: str, input_type, options: dict, value, unlisted_files=frozenset()) -> None:
    where = f"{_node_label(node)}: widget '{name}'"
    choices = input_type if isinstance(input_type, list) else options.get("options") if input_type == "COMBO" else None
    if choices is not None and name in unlisted_files:
        if not isinstance(value, str) or "." not in value:
            raise WorkflowError(f"{where}: expected a file name, got {value!r}")
        return
    if choices is not None:
        if value not in choices:
            shown = choices if len(choices) <= 12 else choices[:12] + ["..."]
            raise WorkflowError(f"{where}: {value!r} is not one of {shown}")
        return
    if input_type == "BOOLEAN":
        if not isinstance(value, bool):
            raise WorkflowError(f"{where}: expected a boolean, got {value!r}")
        return
    if input_type == "STRING":
        if not isinstance(value, str):
            raise WorkflowError(f"{where}: expected a string, got {value!r}")
        return
    if input_type in ("INT", "FLOAT"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WorkflowError(f"{where}: expected a number, got {value!r}")
        if input_type == "INT" and float(value) != int(value):
            raise WorkflowError(f"{where}: expected an integer, got {value!r}")
        low, high = options.get("min"), options.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise WorkflowError(f"{where}: {value!r} is outside [{low}, {high}]")


def expand_subgraphs(workflow: dict) -> dict:
    """The workflow with each node of a subgraph's type (a blueprint's node) replaced by the subgraph's nodes, as the
    front end flattens it for the server: links from the subgraph's input node come from what feeds the outer node's
    input of that name, or, for a promoted widget (``proxyWidgets`` ``["-1", name]``), from a primitive holding the
    outer node's value; links to its output node leave from the inner node that feeds it. One level deep."""
    definitions = {graph["id"]: graph for graph in workflow.get("definitions", {}).get("subgraphs", [])}
    links = {link.id: list(dataclasses.astuple(link)) for link in _links(workflow).values()}
    nodes = [node for node in workflow["nodes"] if node["type"] not in definitions]
    next_id = [max([n["id"] for n in workflow["nodes"]] + [l[0] for l in links.values()]) + 1]

    def new_id() -> int:
        next_id[0] += 1
        return next_id[0] - 1

    for outer in (node for node in workflow["nodes"] if node["type"] in definitions):
        graph = definitions[outer["type"]]
        if any(inner["type"] in definitions for inner in graph["nodes"]):
            raise WorkflowError(f"{_node_label(outer)}: nested subgraphs are not supported by this converter")
        ids = {inner["id"]: new_id() for inner in graph["nodes"]}
        inner_nodes = {}
        for inner in graph["nodes"]:
            copied = {**inner, "id": ids[inner["id"]], "inputs": [dict(i) for i in inner.get("inputs", [])]}
            inner_nodes[inner["id"]] = copied
            nodes.append(copied)
        outer_inputs = {i["name"]: i for i in outer.get("inputs", [])}
        # widgets_values follows proxyWidgets: [node id, widget] each, "-1" for the subgraph's own inputs
        proxies = [tuple(proxy) for proxy in outer.get("properties", {}).get("proxyWidgets", [])]
        # (inner node, inner link id) -> its input entry, found before any link id is renumbered
        sockets = {(inner["id"], i["link"]): i for inner in graph["nodes"] for i in inner_nodes[inner["id"]]["inputs"]
                   if i.get("link") is not None}
        feeds = {}  # output slot of the outer node -> [node, slot] inside
        for raw in graph.get("links", []):
            link = _links({"links": [raw]})[raw["id"]]
            if link.target_id == SUBGRAPH_OUTPUT:
                feeds[link.target_slot] = [ids[link.origin_id], link.origin_slot]
                continue
            if link.origin_id == SUBGRAPH_INPUT:
                name = graph["inputs"][link.origin_slot]["name"]
                fed = outer_inputs.get(name, {}).get("link")
                if fed is not None:
                    origin = links[fed][1:3]
                elif ("-1", name) in proxies:
                    primitive = {"id": new_id(), "type": "PrimitiveNode", "mode": 0, "inputs": [],
                                 "widgets_values": [outer["widgets_values"][proxies.index(("-1", name))]]}
                    nodes.append(primitive)
                    origin = [primitive["id"], 0]
                else:
                    raise WorkflowError(f"{_node_label(outer)}: input '{name}' is not connected")
            else:
                origin = [ids[link.origin_id], link.origin_slot]
            link_id = new_id()
            links[link_id] = [link_id, *origin, ids[link.target_id], link.target_slot, link.type]
            sockets[(link.target_id, link.id)]["link"] = link_id
        for link in links.values():
            if link[1] == outer["id"]:
                link[1:3] = feeds[link[2]]
        for link_id in [l[0] for l in links.values() if l[3] == outer["id"]]:
            del links[link_id]
    return {**workflow, "nodes": nodes, "links": list(links.values()), "definitions": {}}


def ui_to_api(workflow: dict, object_info: dict, overrides: dict | None = None,
              unlisted_files: frozenset[str] = frozenset()) -> dict:
    """Return the API-format prompt for a UI-format workflow; WorkflowError names any bad node.

    ``overrides`` replaces the value of any unlinked widget of that name on every node (tests use it
    to put the test checkpoint and small image sizes into the workflows we ship). ``unlisted_files``
    names file-list combo widgets (``unet_name``, ``image``...) whose value only has to be a file
    name: for validating workflows whose models the test server does not have.
    """
    overrides = overrides or {}
    if workflow.get("definitions", {}).get("subgraphs"):
        raise WorkflowError("subgraphs are not supported by this converter")
    nodes = {node["id"]: node for node in workflow["nodes"]}
    links = _links(workflow)

    for node in nodes.values():
        if node["type"] in FRONTEND_ONLY or node["type"] in ("Reroute", "PrimitiveNode"):
            continue
        if node["type"] not in object_info:
            raise WorkflowError(f"{_node_label(node)}: unknown node type; the server does not list it in /object_info")

    def resolve(link_id: int):
        """Follow a link back to a real producer: ("link", [id, slot]), ("value", v) or None (muted)."""
        seen = set()
        while True:
            if link_id in seen:
                raise WorkflowError(f"link {link_id} loops through reroutes/bypassed nodes")
            seen.add(link_id)
            link = links.get(link_id)
            if link is None:
                raise WorkflowError(f"link {link_id} is used by a node but missing from 'links'")
            origin = nodes.get(link.origin_id)
            if origin is None:
                raise WorkflowError(f"link {link_id} starts at node {link.origin_id}, which does not exist")
            if origin["type"] == "PrimitiveNode":
                return "value", origin["widgets_values"][0]
            if origin["type"] == "Reroute" or origin.get("mode") == MODE_BYPASS:
                upstream = _pass_through_input(origin, link)
                if upstream is None:
                    return None
                link_id = upstream
                continue
            if origin.get("mode") == MODE_MUTED:
                return None
            return "link", [str(origin["id"]), link.origin_slot]

    def _pass_through_input(node: dict, link: Link):
        candidates = [i for i in node.get("inputs", []) if i.get("link") is not None]
        if node["type"] != "Reroute":
            candidates = [i for i in candidates if i.get("type") == link.type]
        return candidates[0]["link"] if candidates else None

    prompt = {}
    for node in nodes.values():
        if node["type"] in FRONTEND_ONLY or node["type"] in ("Reroute", "PrimitiveNode"):
            continue
        if node.get("mode") in (MODE_MUTED, MODE_BYPASS):
            continue
        info = object_info[node["type"]]
        linked = {i["name"]: i["link"] for i in node.get("inputs", []) if i.get("link") is not None}
        values = node.get("widgets_values") or []
        if isinstance(values, dict):
            raise WorkflowError(f"{_node_label(node)}: dict-style widgets_values are not supported")

        inputs, position = {}, 0
        for name, input_type, options in _input_specs(info):
            if _is_widget(input_type, options):
                if position < len(values):
                    value = values[position]
                    position += 1 + _extra_widget_values(name, input_type, options)
                elif "default" in options or _choices(input_type, options):
                    # A widget the workflow's ComfyUI did not have: the front end keeps its default.
                    value = options["default"] if "default" in options else _choices(input_type, options)[0]
                else:
                    raise WorkflowError(f"{_node_label(node)}: widgets_values has {len(values)} entries, "
                                        f"no value for widget '{name}', which has no default")
                if name not in linked:
                    value = overrides.get(name, value)
                    _check_widget_value(node, name, input_type, options, value, unlisted_files)
                    inputs[name] = value
                    continue
            if name in linked:
                resolved = resolve(linked[name])
                if resolved is not None:
                    inputs[name] = resolved[1]
        if position != len(values):
            raise WorkflowError(f"{_node_label(node)}: widgets_values has {len(values)} entries but the node's "
                                f"widgets take {position}")
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs,
                                   "_meta": {"title": node.get("title") or info.get("display_name") or node["type"]}}
    return prompt
