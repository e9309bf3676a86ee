"""Damaged and foreign delta files, and file names that try to leave models/embedding_deltas: Load and Save Embedding
Delta answer with an input error naming the file and the problem, never a KeyError, JSONDecodeError or TypeError."""

import os

import pytest
import safetensors.torch
import torch

from bad_input import expect_input_error
from node_calls import conditioning, embedding_delta

LOAD, SAVE = "Load Embedding Delta", "Save Embedding Delta"
NOT_VALID = r"this file is not a valid embedding delta: "


def _delta(n):
    return embedding_delta(n, conditioning(1), conditioning(2))


def _write(n, folder, name, change_tensors=None, change_metadata=None):
    tensors, metadata = _delta(n).to_tensors()
    tensors.update(change_tensors or {})
    metadata.update(change_metadata or {})
    tensors = {key: value for key, value in tensors.items() if value is not None}
    metadata = {key: value for key, value in metadata.items() if value is not None}
    safetensors.torch.save_file(tensors, str(folder / name), metadata=metadata)
    return name


def _load(n, name):
    return n.delta_library_nodes.LoadEmbeddingDelta.execute(name).args


DAMAGED = [
    ({}, {"token_counts": "[77,"}, r"metadata token_counts/token_width/pooled_width cannot be read"),
    ({}, {"token_counts": None}, r"metadata key 'token_counts' is missing"),
    ({}, {"token_width": "wide"}, r"cannot be read: invalid literal for int\(\)"),
    ({}, {"token_counts": "[]"}, r"token_counts must list one positive token count per entry, got \[\]"),
    ({}, {"token_counts": '{"a": 1}'}, r"token_counts must list one positive token count"),
    ({}, {"token_counts": "[77, 77]"}, r"entry 1 has no tokens tensor \('entry\.1\.tokens'\)"),
    ({"entry.0.tokens": None}, {}, r"entry 0 has no tokens tensor"),
    ({"entry.0.tokens": torch.zeros(1, 77, 768, dtype=torch.int32)}, {},
     r"entry 0: expected a floating tokens tensor of shape \[1, 77, width\], found a torch.int32 tensor"),
    ({"entry.0.tokens": torch.zeros(77, 768, dtype=torch.float64)}, {},
     r"found a torch.float64 tensor of shape \(77, 768\)"),
    ({"entry.0.pooled": torch.zeros(2, 768, dtype=torch.float64)}, {},
     r"expected a floating pooled tensor of shape \[1, width\], found a torch.float64 tensor of shape \(2, 768\)"),
    ({"entry.0.target_mask": torch.ones(1, 70, dtype=torch.long)}, {},
     r"expected a target_mask tensor of shape \[1, 77\]"),
    ({"entry.0.tokens": torch.full((1, 77, 768), float("nan"), dtype=torch.float64)}, {},
     r"entry 0: tokens holds NaN or inf"),
    ({"entry.0.pooled": torch.zeros(1, 1280, dtype=torch.float64)}, {},
     r"its tensors are unknown encoder \(width 768, pooled 1280\) but its metadata says SD1\.x"),
]


@pytest.mark.parametrize("tensors, metadata, shown", DAMAGED)
def test_damaged_files_are_not_valid_deltas(n, delta_folder, tensors, metadata, shown):
    name = _write(n, delta_folder, "damaged.safetensors", tensors, metadata)
    expect_input_error(lambda: _load(n, name), LOAD, "delta_name", r"^Load Embedding Delta: input 'delta_name': "
                       r"damaged\.safetensors: " + NOT_VALID + ".*" + shown)


def test_files_that_are_not_safetensors_or_not_deltas(n, delta_folder):
    (delta_folder / "garbage.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all")
    expect_input_error(lambda: _load(n, "garbage.safetensors"), LOAD, "delta_name",
                       r"garbage\.safetensors: " + NOT_VALID + r"it cannot be read as \.safetensors")
    (delta_folder / "empty.safetensors").write_bytes(b"")
    expect_input_error(lambda: _load(n, "empty.safetensors"), LOAD, "delta_name", NOT_VALID)
    safetensors.torch.save_file({"emb_params": torch.zeros(2, 768)}, str(delta_folder / "ti.safetensors"))
    expect_input_error(lambda: _load(n, "ti.safetensors"), LOAD, "delta_name",
                       r"ti\.safetensors is not an embedding delta saved by this pack \(its metadata has format=None, "
                       r"expected 'comfyui-inbetween/embedding-delta'\)")
    _write(n, delta_folder, "future.safetensors", change_metadata={"version": "2"})
    expect_input_error(lambda: _load(n, "future.safetensors"), LOAD, "delta_name",
                       r"has format version '2'; this pack reads version 1")


def test_load_names_cannot_leave_the_folder(n, delta_folder):
    outside = _write(n, delta_folder.parent, "outside.safetensors")
    assert (delta_folder.parent / outside).is_file()
    for name in ("../outside.safetensors", "sub/../../outside.safetensors", str(delta_folder.parent / outside)):
        expect_input_error(lambda: _load(n, name), LOAD, "delta_name",
                           r"expected a file in models/embedding_deltas, got .*which is not there")
    expect_input_error(lambda: _load(n, "missing.safetensors"), LOAD, "delta_name", r"got 'missing\.safetensors'")


def test_save_names_cannot_leave_the_folder(n, delta_folder):
    delta = _delta(n)
    for prefix in ("../../escape", str(delta_folder.parent / "escape")):
        expect_input_error(lambda: n.delta_library_nodes.SaveEmbeddingDelta.execute(delta, prefix), SAVE,
                           "filename_prefix", r"expected a name inside models/embedding_deltas, got ")
    assert sorted(os.listdir(delta_folder.parent)) == ["embedding_deltas"]
    name = n.delta_library_nodes.SaveEmbeddingDelta.execute(delta, "sub/dir/smile").args[0]
    assert name == "sub/dir/smile_00001_.safetensors" and _load(n, name)[0].entries[0].tokens.shape == (1, 77, 768)


@pytest.mark.parametrize("prefix, shown", [
    ("smile\0x", r"expected a name without NUL characters, got 'smile\\x00x'"),
    ("s" * 300, r"expected a file name of at most 255 bytes with its counter and extension, got 319 bytes: sss"),
    ("sub/" + "é" * 120, r"at most 255 bytes with its counter and extension, got 259 bytes"),
])
def test_save_names_the_file_system_cannot_take(n, delta_folder, prefix, shown):
    """A NUL byte or a file name over 255 bytes (counter and extension included; UTF-8 counts bytes) stops at the
    node, before anything is written, instead of a raw SafetensorError."""
    expect_input_error(lambda: n.delta_library_nodes.SaveEmbeddingDelta.execute(_delta(n), prefix), SAVE,
                       "filename_prefix", shown)
    assert not any(files for _, _, files in os.walk(delta_folder))
