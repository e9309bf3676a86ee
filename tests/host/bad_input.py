"""Helpers of the bad-input suites: expect a node's input error, and check that inputs come back untouched."""

import copy
import dataclasses
import re
from contextlib import contextmanager

import pytest
import torch

import comfy_host


def expect_input_error(call, node: str, input: str, *shown: str):
    """``call()`` raises the pack's InbetweenInputError for ``node``/``input``; its message matches every regex in
    ``shown`` (what was expected and what arrived)."""
    with pytest.raises(comfy_host.load_pack().nodes.errors.InbetweenInputError) as info:
        call()
    err = info.value
    assert (err.node, err.input) == (node, input), str(err)
    text = str(err)
    assert text.startswith(f"{node}: input '{input}': "), text
    for pattern in shown:
        assert re.search(pattern, text), f"{pattern!r} not in {text!r}"
    return err


def assert_same(before, after, where="value"):
    """Deep equality that treats tensors bit for bit (dtype, shape, values, NaN where NaN was)."""
    if isinstance(before, torch.Tensor):
        assert isinstance(after, torch.Tensor) and before.dtype == after.dtype and before.shape == after.shape, where
        if before.is_floating_point():
            assert torch.equal(before.isnan(), after.isnan()), where
            before, after = before.nan_to_num(), after.nan_to_num()
        assert torch.equal(before, after), where
    elif isinstance(before, dict):
        assert isinstance(after, dict) and before.keys() == after.keys(), where
        for key in before:
            assert_same(before[key], after[key], f"{where}[{key!r}]")
    elif isinstance(before, (list, tuple)):
        assert type(before) is type(after) and len(before) == len(after), where
        for index, (x, y) in enumerate(zip(before, after)):
            assert_same(x, y, f"{where}[{index}]")
    elif dataclasses.is_dataclass(before) and not isinstance(before, type):
        for field in dataclasses.fields(before):
            assert_same(getattr(before, field.name), getattr(after, field.name), f"{where}.{field.name}")
    else:
        assert before == after, where


@contextmanager
def untouched(*values):
    """The values (LATENT dicts, CONDITIONING lists, tensors, deltas) are exactly the same after the block."""
    before = copy.deepcopy(values)
    yield
    assert_same(before, values, "input")
