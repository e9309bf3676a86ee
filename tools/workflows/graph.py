"""A workflow described in Python, turned into the UI format the front end saves and loads.

A node's widget values are given by name; the position of each value in ``widgets_values`` comes from
the server's ``/object_info`` (inputs in order, required then optional; a seed-like INT is followed by
its control value, an upload combo by its upload widget), so a node that gains an input needs no edit
here. Links are made by passing another node's output as an input. Groups are drawn around the nodes
they hold and the saved view starts with the whole graph below the front end's toolbar.

A blueprint (``@blueprint``, ``subgraphs/<name>.json``) is a workflow with inputs and outputs of its own
(``Workflow.input``, ``Workflow.output``): the front end shows it as one node, whose widgets are the promoted
settings, and offers it in the node library (ComfyUI v0.12 lists a pack's ``subgraphs/`` at /global_subgraphs).
"""

import math
import re
import uuid
from dataclasses import dataclass, field

UI_FORMAT_VERSION = 0.4
TITLE_HEIGHT = 30       # LiteGraph draws a node's title bar above its pos
GROUP_PADDING = 12
GROUP_TITLE = 36        # room for a group's title above its first node
# The saved view leaves this much canvas left of and above the graph: at its scale 0.8, 80 px on the left clear the
# front end's 56 px sidebar (1.3x on), 72 px above its toolbar and badges.
VIEW_MARGIN = (100, 90)
NOTE_TYPE = "MarkdownNote"
SAVE_NODES = ("SaveImage", "SaveAnimatedWEBP", "SaveAnimatedPNG", "SaveLatent", "SaveVideo", "SaveWEBM")
# Node type -> the height Nodes 2.0 (front end 1.58.1, setting Comfy.VueNodes.Enabled) draws its body at, title bar
# excluded, where that can exceed a saved size: it draws a node at least as tall as its rows, widgets and footer need,
# 8-52 px more than LiteGraph. Columns keep that room below a node and groups hold it, so neither renderer overlaps.
# Measured in headless Chromium (every workflow loaded with its nodes' saved heights set to 1: a node's DOM height less
# TITLE_HEIGHT); a node type missing here gets its saved height only, so measure a type when a workflow first uses it.
NODES_2_HEIGHTS = {
    "BasicScheduler": 118, "CFGGuider": 102, "CLIPLoader": 114, "CLIPTextEncode": 102, "CLIPVisionEncode": 82,
    "CLIPVisionLoader": 86, "CheckpointLoaderSimple": 126, "ControlNetApplyAdvanced": 198, "ControlNetLoader": 86,
    "CreateVideo": 82, "DualCLIPLoader": 142, "EmptyHunyuanLatentVideo": 146, "EmptyLatentImage": 118,
    "FluxGuidance": 62, "ImageBatch": 78, "ImageScale": 146, "ImageScaleBy": 90, "ImageScaleToTotalPixels": 118,
    "KSampler": 262, "KSamplerAdvanced": 346, "KSamplerSelect": 62, "LatentBatchSeedBehavior": 62,
    "LatentFromBatch": 90, "LoadImage": 350, "LoraLoaderModelOnly": 114, "ModelSamplingAuraFlow": 62,
    "ModelSamplingSD3": 62, "PreviewAny": 138, "ReferenceLatent": 54, "RepeatLatentBatch": 62, "SamplerCustom": 230,
    "SamplerCustomAdvanced": 114, "SaveAnimatedWEBP": 182, "SaveImage": 70, "SaveVideo": 126, "StyleModelLoader": 86,
    "TextEncodeQwenImageEdit": 142, "UNETLoader": 114, "VAEDecode": 54, "VAEEncode": 54, "VAELoader": 86,
    "Wan22ImageToVideoLatent": 166,
    "DistributedCollector": 106, "DistributedSeed": 86,  # ComfyUI-Distributed's (OTHER_PACKS)
    "InbetweenAIDAttentionPatch": 330, "InbetweenAIDCheckGatheredFrames": 106, "InbetweenAIDShareFrames": 78,
    "InbetweenAdaptiveBetaSchedule": 542, "InbetweenAlphaBlend": 238, "InbetweenBetaCoefficientSchedule": 294,
    "InbetweenConditioningInterpolationBatch": 174, "InbetweenEmbeddingDelta": 178,
    "InbetweenEncodeKeyframePrompts": 146, "InbetweenEncodePromptPair": 390,
    "InbetweenImageConditionInterpolationBatch": 222, "InbetweenImageGrid": 142, "InbetweenInterpolatedNoise": 178,
    "InbetweenInterpolationMetrics": 302, "InbetweenJoinClips": 114, "InbetweenKeepPictureEnds": 126,
    "InbetweenKeepPictureKeyframes": 126, "InbetweenKeyframeConditioningBatch": 154,
    "InbetweenKeyframeLatentBatch": 142, "InbetweenKeyframeSchedule": 330, "InbetweenLatentSlide": 154,
    "InbetweenMultiAttributeBlend": 278, "InbetweenPictureMorphAttention": 218, "InbetweenPictureMorphLatents": 326,
    "InbetweenPictureStoryLatents": 306, "InbetweenSharedNoiseLatent": 142, "InbetweenSlerpLatent": 190,
    "InbetweenWanClipsFromStills": 270,
}
# note_height's measures (canvas units)
NOTE_CHARACTER, NOTE_LINE, NOTE_BLOCK, NOTE_MARGIN = 5.6, 14, 20, 40
UPLOAD_KEYS = ("image_upload", "video_upload", "audio_upload", "animated_image_upload")
# Widgets a newer ComfyUI than the oldest tested one (v0.3.64) added at the end of a core node: the workflows leave
# them out, so every tested version loads them, and a newer front end gives them their default (v0.12.1: 1).
ADDED_WIDGETS = {"ImageScaleToTotalPixels": ("resolution_steps",)}


# title (its file's name) -> function that fills a Workflow; definition modules register with @workflow(title)
REGISTRY: dict = {}
# blueprint name (its file's, shown in the node library) -> Blueprint; modules register with @blueprint
BLUEPRINTS: dict = {}
# the ids the front end gives a subgraph's input and output nodes
SUBGRAPH_INPUT_ID, SUBGRAPH_OUTPUT_ID = -10, -20
# Node type -> its /object_info entry, for nodes of another pack that a workflow uses (ComfyUI-Distributed's), written
# from the snapshot the tests run (../shared/packs/): the workflows build on a server without that pack. A server
# that lists the type wins.
OTHER_PACKS: dict = {}


class WorkflowDefinitionError(ValueError):
    pass


def workflow(title: str):
    """Register ``define(w: Workflow)`` as the workflow ``workflows/<title>.json``. The file name is all the template
    browser shows of a pack's template: its card's title, its description (1.37: with '-' and '_' as spaces), and
    the order a user who sorts by name sees; so a title says what the workflow does, then its model in brackets."""
    if re.search(r'[\\/:*?"<>|_]', title):
        raise WorkflowDefinitionError(f"workflow title {title!r}: a character no Windows file name holds, or '_' "
                                      "(1.37's description shows it as a space): write the title as a user reads it")

    def register(define):
        if title in REGISTRY:
            raise WorkflowDefinitionError(f"two workflows are called {title}")
        REGISTRY[title] = define
        return define
    return register


@dataclass(frozen=True)
class Blueprint:
    define: object      # fills a Workflow, as a workflow's function
    category: str       # where the node library lists it
    description: str


def blueprint(name: str, category: str, description: str):
    """Register ``define(w: Workflow)`` as the blueprint ``subgraphs/<name>.json``, shown as ``name``."""
    def register(define):
        if name in BLUEPRINTS:
            raise WorkflowDefinitionError(f"two blueprints are called {name}")
        BLUEPRINTS[name] = Blueprint(define, category, description)
        return define
    return register


@dataclass(frozen=True)
class Output:
    node: "Node"
    name: str


@dataclass(frozen=True)
class Input:
    """Input ``index`` of a blueprint: a socket (``value`` None) or a promoted setting with its value."""
    name: str
    type: str
    index: int
    value: object = None


@dataclass
class Node:
    id: int
    type: str
    slot: "Slot"
    title: str | None
    values: dict            # widget values and links by input name
    properties: dict = field(default_factory=dict)
    control: str = "fixed"  # control-after-generate value of a seed widget

    def __getitem__(self, output_name: str) -> Output:
        return Output(self, output_name)

    @property
    def pos(self) -> tuple[int, int]:
        return self.slot.pos

    @property
    def size(self) -> tuple[int, int]:
        return self.slot.width, self.slot.height

    @property
    def bottom(self) -> int:
        """Where the node ends in either renderer: Nodes 2.0 may draw it taller than its saved size."""
        return self.pos[1] + self.slot.room


class Slot:
    """A node's place in a column: its saved ``height`` and the ``room`` the column keeps for it, which Workflow.node
    raises to the height Nodes 2.0 draws the node's type at; the position is known once the column is complete."""

    def __init__(self, column: "Column", height: int, width: int):
        self.column, self.height, self.width, self.room = column, height, width, height

    @property
    def pos(self) -> tuple[int, int]:
        return self.column.position(self)


class Column:
    """Nodes stacked top to bottom at one x, so a layout reads as columns and nodes never overlap."""

    GAP = 24

    def __init__(self, x: int, width: int, top: int = 0):
        self.x, self.width, self.top = x, width, top
        self.entries: list[Slot | int] = []  # slots and skipped heights, top to bottom
        self.arrange = None  # set by a layout that places its columns once they are complete (layout.columns)
        self.layout: list[Column] | None = None  # that layout's columns, in reading order
        self.beside: Column | None = None  # the column this one stays right of, at its top (layout.beside)

    def next(self, height: int, width: int | None = None) -> Slot:
        """The next node's slot; its title bar sits above its pos, so it is counted in the stacking."""
        slot = Slot(self, height, width or self.width)
        self.entries.append(slot)
        return slot

    def skip(self, height: int) -> "Column":
        self.entries.append(height)
        return self

    @property
    def extent(self) -> tuple[int, int]:
        """The column's width (its widest node's) and height: from its top to its lowest node's bottom in either
        renderer (``room``)."""
        height = sum(entry if isinstance(entry, int) else TITLE_HEIGHT + entry.room + self.GAP for entry in self.entries)
        if self.entries and isinstance(self.entries[-1], Slot):
            height -= self.GAP
        return max([self.width] + [entry.width for entry in self.entries if isinstance(entry, Slot)]), height

    def position(self, slot: Slot) -> tuple[int, int]:
        if self.arrange:
            self.arrange()
        y = self.top
        for entry in self.entries:
            if entry is slot:
                return self.x, y + TITLE_HEIGHT
            y += entry if isinstance(entry, int) else TITLE_HEIGHT + entry.room + self.GAP
        raise WorkflowDefinitionError("a slot of another column")


class Workflow:
    """Nodes, groups and notes of one workflow, in the order they are declared."""

    def __init__(self, name: str):
        self.name = name
        self.nodes: list[Node] = []
        self.groups: list[tuple[str, list[Node], str]] = []
        self.inputs: list[Input] = []
        self.outputs: list[tuple[str, Output]] = []

    def input(self, name: str, type: str, value=None) -> Input:
        """A blueprint input, passed to nodes as an input value: a socket of ``type`` (MODEL, IMAGE...) or, with
        ``value``, a promoted widget (INT, FLOAT, STRING, BOOLEAN, COMBO) shown on the blueprint's node; one input
        may feed several nodes' widgets (the steps of a schedule and of its sampler)."""
        if any(existing.name == name for existing in self.inputs):
            raise WorkflowDefinitionError(f"{self.name}: two inputs are called {name}")
        self.inputs.append(Input(name, type, len(self.inputs), value))
        return self.inputs[-1]

    def output(self, name: str, source: Output) -> None:
        self.outputs.append((name, source))

    def node(self, node_type: str, at: Slot, title: str | None = None, models: list | None = None,
             control: str = "fixed", **values) -> Node:
        """A node in the slot ``at`` (``Column.next``, canvas units); ``values`` maps input names to widget values or
        Outputs. The column keeps room for the height Nodes 2.0 draws the type at (``NODES_2_HEIGHTS``).

        ``models`` (model metadata: name, url, directory) lets the front end offer the download of a missing model.
        """
        properties = {"Node name for S&R": node_type}
        if models:
            properties["models"] = [model.as_metadata() for model in models]
        at.room = max(at.height, NODES_2_HEIGHTS.get(node_type, 0))
        node = Node(len(self.nodes) + 1, node_type, at, title, values, properties, control)
        self.nodes.append(node)
        return node

    def note(self, markdown: str, at: "Column | Slot", title: str = "Read me") -> Node:
        """A Markdown note; in a column, as tall as its text needs there (``note_height``)."""
        if isinstance(at, Column):
            at = at.next(note_height(markdown, at.width))
        return self.node(NOTE_TYPE, at, title=title, text=markdown.strip())

    def group(self, title: str, nodes: list[Node], color: str = "#3f789e") -> None:
        self.groups.append((title, list(nodes), color))

    # UI format ------------------------------------------------------------------------------------
    def to_ui(self, object_info: dict) -> dict:
        object_info = {**OTHER_PACKS, **object_info}
        self._check_save_prefixes()
        links, inputs = self._links(object_info)
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"comfyui-inbetween/workflows/{self.name}")),
            "revision": 0,
            "last_node_id": len(self.nodes),
            "last_link_id": len(links),
            "nodes": [self._node_ui(node, object_info, inputs[node.id], links) for node in self.nodes],
            "links": links,
            "groups": [self._group_ui(i + 1, *group) for i, group in enumerate(self.groups)],
            "config": {},
            "extra": {"ds": {"scale": 0.8, "offset": self._view_offset()}},
            "version": UI_FORMAT_VERSION,
        }

    def to_blueprint(self, object_info: dict, category: str, description: str) -> dict:
        """The blueprint file: one node of the subgraph's type, its promoted widgets holding the inputs' values, and
        the subgraph's definition (``definitions.subgraphs[0]``: name, category and description for the library)."""
        if not self.outputs:
            raise WorkflowDefinitionError(f"{self.name}: a blueprint needs an output")
        ui = self.to_ui(object_info)
        key = f"comfyui-inbetween/subgraphs/{self.name}"
        graph_id = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
        promoted = [i for i in self.inputs if i.value is not None]
        nodes = ui["nodes"]
        left = min(n["pos"][0] for n in nodes) - 260
        right = max(n["pos"][0] + n["size"][0] for n in nodes) + 80
        top = min(n["pos"][1] for n in nodes)

        def ends(items: list, x: int, kind: str) -> list:
            """The subgraph's inputs or outputs: (name, type, link ids) each, listed beside its input/output node."""
            return [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}/{kind}/{name}")), "name": name, "type": type_,
                     "linkIds": link_ids, "pos": [x + 20, top + 20 + 20 * index]}
                    for index, (name, type_, link_ids) in enumerate(items)]

        links = ui["links"]
        inputs = ends([(i.name, i.type, [l[0] for l in links if l[1] == SUBGRAPH_INPUT_ID and l[2] == i.index])
                       for i in self.inputs], left, "input")
        outputs = ends([(name, _output_type(source, object_info),
                         [l[0] for l in links if l[3] == SUBGRAPH_OUTPUT_ID and l[4] == index])
                        for index, (name, source) in enumerate(self.outputs)], right, "output")
        definition = {
            "id": graph_id, "version": 1,
            "state": {"lastGroupId": len(ui["groups"]), "lastNodeId": len(nodes), "lastLinkId": len(links),
                      "lastRerouteId": 0},
            "revision": 0, "config": {}, "name": self.name, "category": category, "description": description,
            "inputNode": {"id": SUBGRAPH_INPUT_ID, "bounding": [left, top, 160, 40 + 20 * len(self.inputs)]},
            "outputNode": {"id": SUBGRAPH_OUTPUT_ID, "bounding": [right, top, 160, 40 + 20 * len(self.outputs)]},
            "inputs": inputs, "outputs": outputs, "widgets": [], "nodes": nodes, "groups": ui["groups"],
            "links": [dict(zip(("id", "origin_id", "origin_slot", "target_id", "target_slot", "type"), link))
                      for link in links],
            "extra": {},
        }
        node = {"id": 1, "type": graph_id, "title": self.name, "pos": [0, 0], "size": [400, 60 + 24 * len(promoted)],
                "flags": {}, "order": 0, "mode": 0,
                "inputs": [{"name": i.name, "type": i.type, "link": None,
                            **({"widget": {"name": i.name}} if i.value is not None else {})} for i in self.inputs],
                "outputs": [{"name": o["name"], "type": o["type"], "links": []} for o in outputs],
                # "-1": a widget of the subgraph's own input of that name, as the front end saves a promoted one
                "properties": {"proxyWidgets": [["-1", i.name] for i in promoted]},
                "widgets_values": [i.value for i in promoted]}
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, key + "/root")), "revision": 0, "last_node_id": 1,
                "last_link_id": 0, "nodes": [node], "links": [], "groups": [], "definitions": {"subgraphs": [definition]},
                "config": {}, "extra": {"BlueprintDescription": description, "ds": {"scale": 1.0, "offset": [120, 120]}},
                "version": UI_FORMAT_VERSION}

    def _check_save_prefixes(self) -> None:
        # ComfyUI numbers files per prefix across save nodes: two nodes sharing one would number each other's files.
        prefixes = [node.values.get("filename_prefix") for node in self.nodes if node.type in SAVE_NODES]
        shared = {prefix for prefix in prefixes if prefixes.count(prefix) > 1}
        if shared:
            raise WorkflowDefinitionError(f"{self.name}: save nodes share the filename prefix {sorted(shared)}")

    def _links(self, object_info: dict):
        """Every Output passed as an input becomes a link [id, from, slot, to, slot, type], in declaration order."""
        links, inputs = [], {}
        for node in self.nodes:
            sockets = []
            for name, spec in _input_specs(node, object_info):
                value = node.values.get(name)
                if isinstance(value, Input):
                    if value.type != _type_name(spec):
                        raise WorkflowDefinitionError(f"{self.name}: input {value.name} ({value.type}) feeds "
                                                      f"{node.type}'s {name} ({_type_name(spec)})")
                    links.append([len(links) + 1, SUBGRAPH_INPUT_ID, value.index, node.id, len(sockets), value.type])
                    sockets.append({"name": name, "type": _type_name(spec), "link": len(links),
                                    **({"widget": {"name": name}} if _is_widget(spec) else {})})
                    continue
                if not isinstance(value, Output):
                    # Inside a blueprint every widget has its socket, as the front end saves a subgraph: 1.37, which
                    # maps a subgraph input's value onto the inner node by socket position, otherwise writes it into
                    # the wrong widget when the blueprint is added from the library (steps into the schedule's preset).
                    if not _is_widget(spec) or self.inputs:
                        sockets.append({"name": name, "type": _type_name(spec), "link": None,
                                        **({"widget": {"name": name}} if _is_widget(spec) else {})})
                    continue
                origin = object_info[value.node.type]
                if value.name not in origin["output_name"]:
                    raise WorkflowDefinitionError(f"{self.name}: node {value.node.id} ({value.node.type}) has no "
                                                  f"output '{value.name}'; it has {origin['output_name']}")
                slot = origin["output_name"].index(value.name)
                link_type = origin["output"][slot]
                link_id = len(links) + 1
                links.append([link_id, value.node.id, slot, node.id, len(sockets), link_type])
                socket = {"name": name, "type": _type_name(spec), "link": link_id}
                if _is_widget(spec):
                    socket["widget"] = {"name": name}
                sockets.append(socket)
            inputs[node.id] = sockets
        for index, (name, source) in enumerate(self.outputs):
            origin = object_info[source.node.type]
            slot = origin["output_name"].index(source.name)
            links.append([len(links) + 1, source.node.id, slot, SUBGRAPH_OUTPUT_ID, index, origin["output"][slot]])
        return links, inputs

    def _node_ui(self, node: Node, object_info: dict, sockets: list, links: list) -> dict:
        ui = {"id": node.id, "type": node.type, "pos": list(node.pos), "size": list(node.size), "flags": {},
              "order": node.id - 1, "mode": 0, "inputs": sockets, "outputs": [], "properties": node.properties,
              "widgets_values": self._widgets_values(node, object_info)}
        if node.title:
            ui["title"] = node.title
        if node.type != NOTE_TYPE:
            info = object_info[node.type]
            ui["outputs"] = [{"name": name, "type": out_type,
                              "links": [link[0] for link in links if link[1] == node.id and link[2] == slot]}
                             for slot, (name, out_type) in enumerate(zip(info["output_name"], info["output"]))]
        else:
            ui["properties"] = {}
            ui["color"], ui["bgcolor"] = "#432", "#653"
        return ui

    def _widgets_values(self, node: Node, object_info: dict) -> list:
        if node.type == NOTE_TYPE:
            return [node.values["text"]]
        values, unknown = [], set(node.values) - {name for name, _ in _input_specs(node, object_info)}
        if unknown:
            raise WorkflowDefinitionError(f"{self.name}: node {node.id} ({node.type}) has no input {sorted(unknown)}")
        specs = _input_specs(node, object_info)
        added = ADDED_WIDGETS.get(node.type, ())
        if added and [name for name, spec in specs if _is_widget(spec)][-len(added):] != list(added):
            if set(added) & {name for name, _ in specs}:
                raise WorkflowDefinitionError(f"{node.type}: the widgets {added} are no longer the node's last ones; "
                                              "leaving them out would shift the values of the others")
        for name, spec in specs:
            if not _is_widget(spec) or name in added:
                continue
            value = node.values.get(name)
            if isinstance(value, Input):  # a promoted widget: the blueprint's value
                value = value.value
            if value is None or isinstance(value, Output):  # a linked widget keeps its slot, holding the default
                value = _default(spec)
            if value is None:
                raise WorkflowDefinitionError(f"{self.name}: node {node.id} ({node.type}) needs a value for '{name}'")
            values.append(value)
            options = spec[1] if len(spec) > 1 else {}
            if options.get("control_after_generate") or (spec[0] == "INT" and name in ("seed", "noise_seed")):
                values.append(node.control)
            if any(options.get(key) for key in UPLOAD_KEYS):
                values.append("image")
        return values

    def _group_ui(self, group_id: int, title: str, nodes: list[Node], color: str) -> dict:
        left = min(n.pos[0] for n in nodes) - GROUP_PADDING
        top = min(n.pos[1] for n in nodes) - TITLE_HEIGHT - GROUP_TITLE
        right = max(n.pos[0] + n.size[0] for n in nodes) + GROUP_PADDING
        bottom = max(n.bottom for n in nodes) + GROUP_PADDING
        return {"id": group_id, "title": title, "bounding": [left, top, right - left, bottom - top], "color": color,
                "font_size": 24, "flags": {}}

    def _view_offset(self) -> list:
        """Canvas offset that puts the graph's top-left corner (group titles included) VIEW_MARGIN from the corner."""
        left = min([n.pos[0] for n in self.nodes] + [g["bounding"][0] for g in self._groups_bounds()])
        top = min([n.pos[1] - TITLE_HEIGHT for n in self.nodes] + [g["bounding"][1] for g in self._groups_bounds()])
        return [VIEW_MARGIN[0] - left, VIEW_MARGIN[1] - top]

    def _groups_bounds(self) -> list[dict]:
        return [self._group_ui(0, *group) for group in self.groups]


def note_height(markdown: str, width: int) -> int:
    """The height a note ``width`` wide needs for ``markdown``: its lines as wrapped at about NOTE_CHARACTER px a
    character (a heading counts twice, a link with its address), NOTE_LINE px each, NOTE_BLOCK px a paragraph,
    NOTE_MARGIN. Fitted to the text's height measured at width 440 for every shipped note in front ends 1.27, 1.37 and
    1.58.1 and in Nodes 2.0 (1.58.1), which draws a note as tall as its text needs: the text ends at 90% of it or
    less in Nodes 2.0, at 50-70% in the classic renderer. test_frontend.py checks both."""
    per_line = (width - 44) / NOTE_CHARACTER  # the widget's margins and the editor's padding
    lines, blocks = 0, 0
    for paragraph in re.split(r"\n\s*\n", markdown.strip()):
        blocks += 1
        for item in re.split(r"\n(?=\s*[-*] |\s*\d+\. |\|)", paragraph):  # list items and table rows start lines
            text = item.replace("\n", " ")  # a link counted with its address: Nodes 2.0 shows the Markdown as written
            heading = text.lstrip().startswith("#")
            lines += (2 if heading else 1) * math.ceil(len(text) * (1.6 if heading else 1) / per_line)
    return 10 * math.ceil((NOTE_LINE * lines + NOTE_BLOCK * blocks + NOTE_MARGIN) / 10)


def _output_type(source: Output, object_info: dict) -> str:
    origin = object_info[source.node.type]
    return origin["output"][origin["output_name"].index(source.name)]


def _input_specs(node: Node, object_info: dict) -> list[tuple[str, list]]:
    if node.type == NOTE_TYPE:
        return [("text", ["STRING", {"multiline": True}])]
    info = object_info.get(node.type)
    if info is None:
        raise WorkflowDefinitionError(f"node type {node.type} is not listed by the server's /object_info")
    order = info.get("input_order") or {section: list(info["input"].get(section, {})) for section in ("required", "optional")}
    return [(name, info["input"][section][name]) for section in ("required", "optional") for name in order.get(section, [])]


def _is_widget(spec: list) -> bool:
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return not options.get("forceInput") and (isinstance(spec[0], list) or spec[0] in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"))


def _default(spec: list):
    """The value the front end gives a new widget: the default, else a combo's first option."""
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if "default" in options:
        return options["default"]
    choices = spec[0] if isinstance(spec[0], list) else options.get("options")
    return choices[0] if choices else None


def _type_name(spec: list) -> str:
    return "COMBO" if isinstance(spec[0], list) else spec[0]
