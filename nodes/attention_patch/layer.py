"""AID in one attention layer, the core every model family's adapter shares.

An adapter (:mod:`.unet`, :mod:`.transformer`) brings the layer's q, k, v in the heads-first layout
``[B, H, T, D]``, its mask as an additive bias, and the host's own attention; :func:`interpolate` keeps the
endpoints a later part of the model call needs and returns AID's output for each in-between segment of the
call's plan; :func:`splice` puts those rows among the rows the host's attention computed. Rows are selected
by contiguous slices, so nothing on this path reads a tensor on the host.
"""

from __future__ import annotations

from typing import Callable, Hashable

import torch
from einops import rearrange

from ...inbetween import aid
from ..errors import InbetweenInputError
from .config import NODE_NAME
from .plan import CallPlan, KeptEndpoint

# (q, k, v, bias) [B, H, T, D] -> [B, H, T, D]: a plain attention in the heads-first layout, with an additive
# bias [B|1, H|1, Tq|1, Tk] or None.
HeadsFirstAttention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]
# Rows of the layer's batch and what they come out as.
Rows = tuple[slice, torch.Tensor]


def heads_first(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``[N, T, H*D]`` (or ``[N, T, H, D]``, as SD3 passes its values) ``-> [N, H, T, D]``, a view."""
    return x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)


def heads_last(x: torch.Tensor) -> torch.Tensor:
    return rearrange(x, "n h t d -> n t (h d)")


def host_attention(call, heads: int, **kwargs) -> HeadsFirstAttention:
    """The host's attention ``call`` (ComfyUI's ``optimized_attention``, or the attention function an override
    received) in the heads-first layout, with the options the layer passes it (precision, transformer options)."""
    def attention(q, k, v, bias=None):
        return call(q, k, v, heads, mask=bias, skip_reshape=True, skip_output_reshape=True, **kwargs)
    return attention


# The host attention functions (ComfyUI's, by module and name) that give every row the same bits on the CPU
# whatever else is in the batch (tests/host/test_aid_long.py shows it); ComfyUI's sub-quadratic and split
# attention choose their chunking by the batch's memory, and no GPU kernel has been shown to.
BATCH_INVARIANT_ON_CPU = {("comfy.ldm.modules.attention", "attention_pytorch")}


def rows_apart(plan: CallPlan, attention, device: torch.device) -> bool:
    """Whether a layer computes only ``plan.host_rows`` with the host's ``attention`` (``None``: an unknown one,
    such as another pack's override) instead of every row, the interpolated ones then thrown away.

    Always where no endpoint is among those rows (the in-between parts of a split call); with endpoints, only where
    the backend gives them the bits it gives them in the whole batch, so end frames stay plain sampling's.
    """
    if plan.host_rows is None:
        return False
    if not plan.endpoint_bits:
        return True
    name = (getattr(attention, "__module__", None), getattr(attention, "__name__", None))
    return device.type == "cpu" and name in BATCH_INVARIANT_ON_CPU


def interpolate(plan: CallPlan, layer: Hashable, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                host: HeadsFirstAttention, bias: torch.Tensor | None = None,
                endpoint_tokens: slice = slice(None)) -> list[Rows]:
    """AID's output ``[M, H, Tq, D]`` for each segment of ``plan`` (segments over the same rows averaged), and each of
    its ``means`` runs' weighted means of the host's attention outputs on those rows (in float32), with the rows
    they replace.

    q ``[B, H, Tq, D]``, k and v ``[B, H, Tk, D]`` of the plan's batch; ``bias`` the attention's additive mask
    ``[B|1, H|1, Tq|1, Tk]`` or ``None``: each row's own keys keep its own rows of it, each endpoint's keys bring
    the endpoint's. ``endpoint_tokens``: which of the endpoints' tokens join. ``layer`` names this attention
    among the model's, for the endpoint keys/values kept across the parts of a split model call. ``host``
    computes joined-key AID where no log-sum-exp kernel serves q's device, dtype and head size.
    """
    # Clones: a view would keep the whole batch's tensors alive until the model call ends. A layer's name is
    # unique in the model; an AID patch another patch wrapped may keep the same values twice.
    for row, kept in plan.captures:
        plan.kept[layer, kept] = _endpoint(row, k, v, bias, endpoint_tokens, clone=True)
    backend = aid.select_backend(q, plan.cuda_capability, bias is not None, host)
    out = []
    for segment in plan.segments:
        rows = segment.rows
        own = aid.KeySet(k[rows], v[rows], _bias_rows(bias, rows))
        end_a, end_b = (_kept(plan, layer, end) if isinstance(end, KeptEndpoint)
                        else _endpoint(end, k, v, bias, endpoint_tokens) for end in (segment.a, segment.b))
        out.append((rows, aid.attention_between(q[rows], own, end_a, end_b, segment.t, plan.mode, plan.fused,
                                                backend)))
    out = _averaged(out)
    for mix in plan.means:
        rows = mix.rows
        outputs = host(q[rows], k[rows], v[rows], _bias_rows(bias, rows)).float()
        out.append((rows, torch.einsum("ij,jhtd->ihtd", mix.weights, outputs).to(q.dtype)))
    return out


def _averaged(pieces: list[Rows]) -> list[Rows]:
    """One piece per rows: pieces over the same rows averaged in float32."""
    groups: dict[tuple[int, int], list[Rows]] = {}
    for rows, rows_out in pieces:
        groups.setdefault((rows.start, rows.stop), []).append((rows, rows_out))
    return [group[0] if len(group) == 1
            else (group[0][0], torch.stack([x.float() for _, x in group]).mean(dim=0).to(group[0][1].dtype))
            for group in groups.values()]


def splice(pieces: list[Rows], base: torch.Tensor | None = None) -> torch.Tensor:
    """The layer's output from ``pieces`` in row order, rows no piece covers taken from ``base``."""
    by_start = {rows.start: (rows, rows_out) for rows, rows_out in pieces}
    out, done = [], 0
    for start in sorted(by_start):
        rows, rows_out = by_start[start]
        if rows.start > done:
            out.append(base[done : rows.start])
        out.append(rows_out)
        done = rows.stop
    if base is not None and done < base.shape[0]:
        out.append(base[done:])
    return out[0] if len(out) == 1 else torch.cat(out)


def shifted(rows: slice, offset: int) -> slice:
    return slice(rows.start + offset, rows.stop + offset)


def _bias_rows(bias: torch.Tensor | None, rows: slice) -> torch.Tensor | None:
    """Rows ``rows`` of a per-row bias; a bias of one row serves every row."""
    return bias if bias is None or bias.shape[0] == 1 else bias[rows]


def _endpoint(row: int, k, v, bias, tokens: slice, clone: bool = False) -> aid.KeySet:
    """The keys, values ``[1, H, Te, D]`` and bias of the endpoint in row ``row`` of this batch."""
    rows = slice(row, row + 1)
    row_bias = _bias_rows(bias, rows)
    keys = aid.KeySet(k[rows, :, tokens], v[rows, :, tokens], None if row_bias is None else row_bias[..., tokens])
    return aid.KeySet(*(None if x is None else x.clone() for x in keys)) if clone else keys


def _kept(plan: CallPlan, layer: Hashable, end: KeptEndpoint) -> aid.KeySet:
    kept = plan.kept.get((layer, end))
    if kept is None:
        raise InbetweenInputError(NODE_NAME, "max_rows", f"attention layer {layer} ran for the in-between frames "
                                  "but not for their endpoints in this model call, so it has no endpoint "
                                  "keys/values to attend to; set max_rows to 0")
    return kept
