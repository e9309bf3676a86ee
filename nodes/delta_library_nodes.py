"""Save and load embedding deltas as .safetensors in ComfyUI's ``models/embedding_deltas`` folder.

The folder is registered with ``folder_paths`` like any model folder, so ``extra_model_paths.yaml``
can add more locations under the name ``embedding_deltas`` and the file list refreshes with
ComfyUI's own model lists.
"""

import os

import folder_paths
import safetensors
import safetensors.torch
from comfy_api.latest import io

from .delta_type import AttributeDelta, DeltaFileError, DeltaIO
from .errors import InbetweenInputError

FOLDER = "embedding_deltas"
EXTENSION = ".safetensors"
# The longest file name the usual file systems take (ext4, APFS, NTFS: 255).
MAX_NAME_BYTES = 255


def register_folder() -> None:
    """Add models/embedding_deltas (keeping locations users configured) and make sure .safetensors is listed."""
    default = os.path.join(folder_paths.models_dir, FOLDER)
    if FOLDER not in folder_paths.folder_names_and_paths:
        folder_paths.folder_names_and_paths[FOLDER] = ([default], {EXTENSION})
        return
    paths, extensions = folder_paths.folder_names_and_paths[FOLDER]
    extensions.add(EXTENSION)
    if default not in paths:
        paths.append(default)


register_folder()


def save_delta(delta: AttributeDelta, path: str) -> None:
    tensors, metadata = delta.to_tensors()
    safetensors.torch.save_file(tensors, path, metadata=metadata)


def load_delta(path: str, source: str) -> AttributeDelta:
    try:
        with safetensors.safe_open(path, framework="pt") as handle:
            metadata = handle.metadata()
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (OSError, safetensors.SafetensorError) as err:
        raise DeltaFileError(f"{source}: this file is not a valid embedding delta: it cannot be read as "
                             f".safetensors ({err})") from err
    return AttributeDelta.from_tensors(tensors, metadata, source)


class SaveEmbeddingDelta(io.ComfyNode):
    """Writes a delta to models/embedding_deltas/<prefix>_00001_.safetensors, never overwriting a file."""

    DISPLAY_NAME = "Save Embedding Delta"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenSaveEmbeddingDelta",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/attributes",
            description=(
                "Saves an embedding delta (encoder and prompt texts as metadata) to models/embedding_deltas as "
                ".safetensors, numbered like ComfyUI's save nodes: a library of attribute directions."
            ),
            inputs=[
                DeltaIO.Input("delta", tooltip="The delta to save."),
                io.String.Input("filename_prefix", default="smile",
                                tooltip="File name prefix inside models/embedding_deltas; subfolders allowed "
                                        "(e.g. sdxl/smile)."),
            ],
            outputs=[io.String.Output(display_name="file", tooltip="The saved file's name, as Load Embedding "
                                                                   "Delta lists it.")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, delta, filename_prefix) -> io.NodeOutput:
        if "\0" in filename_prefix:
            raise InbetweenInputError(cls.DISPLAY_NAME, "filename_prefix", f"expected a name without NUL characters, "
                                                                           f"got {filename_prefix!r}")
        root = folder_paths.get_folder_paths(FOLDER)[0]
        try:
            folder, filename, counter, subfolder, _ = folder_paths.get_save_image_path(filename_prefix, root)
        except Exception as err:  # folder_paths raises a bare Exception for paths that leave the folder
            raise InbetweenInputError(cls.DISPLAY_NAME, "filename_prefix", f"expected a name inside models/{FOLDER}, "
                                                                           f"got {filename_prefix!r}: {err}") from err
        name = f"{filename}_{counter:05}_{EXTENSION}"
        if len(os.fsencode(name)) > MAX_NAME_BYTES:
            raise InbetweenInputError(cls.DISPLAY_NAME, "filename_prefix", f"expected a file name of at most "
                                      f"{MAX_NAME_BYTES} bytes with its counter and extension, got "
                                      f"{len(os.fsencode(name))} bytes: {name[:40]}...")
        os.makedirs(folder, exist_ok=True)
        save_delta(delta, os.path.join(folder, name))
        return io.NodeOutput(os.path.join(subfolder, name) if subfolder else name)


class LoadEmbeddingDelta(io.ComfyNode):
    """Reads a delta saved by Save Embedding Delta."""

    DISPLAY_NAME = "Load Embedding Delta"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="InbetweenLoadEmbeddingDelta",
            display_name=cls.DISPLAY_NAME,
            category="inbetween/attributes",
            description=(
                "Loads an embedding delta from models/embedding_deltas. Blending it into a conditioning from another "
                "text encoder stops with both encoders named."
            ),
            inputs=[io.Combo.Input("delta_name", options=folder_paths.get_filename_list(FOLDER),
                                   tooltip="A file in models/embedding_deltas.")],
            outputs=[DeltaIO.Output(display_name="delta", tooltip="The loaded delta."),
                     io.String.Output(display_name="summary", tooltip="Encoder, prompts, token counts and norms.")],
        )

    @classmethod
    def execute(cls, delta_name) -> io.NodeOutput:
        # get_full_path resolves the name inside the folder's locations only ("../x" and "/x" stay inside).
        path = folder_paths.get_full_path(FOLDER, delta_name)
        if path is None:
            raise InbetweenInputError(cls.DISPLAY_NAME, "delta_name", f"expected a file in models/{FOLDER}, got "
                                                                      f"{delta_name!r}, which is not there")
        try:
            delta = load_delta(path, delta_name)
        except DeltaFileError as err:
            raise InbetweenInputError(cls.DISPLAY_NAME, "delta_name", str(err)) from err
        return io.NodeOutput(delta, delta.summary())
