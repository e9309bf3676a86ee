"""Attention Interpolation of Diffusion (AID, NeurIPS 2024), training-free.

Frames ``[A, t_1 .. t_{N-2}, B]`` are generated together. Inside every attention layer the
in-between row i (coefficient ``t``) has its own query ``Q_i`` and keys/values ``K_i, V_i``;
rows 0 and N-1 give the endpoints' ``K_A, V_A`` and ``K_B, V_B`` (same layer, same step).
``Attn(Q, K, V) = softmax(Q K^T / sqrt(d)) V`` and ``[X ; Y]`` joins along the token axis.

* outer, fused (AID-O, the default): ``(1-t) Attn(Q_i, [K_i;K_A], [V_i;V_A]) + t Attn(Q_i, [K_i;K_B], [V_i;V_B])``
* outer, pure:  ``(1-t) Attn(Q_i, K_A, V_A) + t Attn(Q_i, K_B, V_B)``
* inner, fused (AID-I): ``Attn(Q_i, [K_i;K_t], [V_i;V_t])`` with ``K_t = (1-t)K_A + tK_B``, ``V_t`` likewise
* inner, pure:  ``Attn(Q_i, K_t, V_t)``

Two ways to compute the joined attentions, one class each:

* :class:`LogSumExpAttention`: an attention over key set j gives ``O_j`` and the log-sum-exp
  ``L_j`` of its scores, and over the union
  ``Attn(Q, [K_1;K_2], [V_1;V_2]) = (e^{L_1} O_1 + e^{L_2} O_2) / (e^{L_1} + e^{L_2})``.
  Fused outer then needs three score blocks, against ``K_i``, ``K_A`` and ``K_B``, each computed
  once. The endpoint blocks are shared by every in-between row, so their queries are folded into
  one long query sequence against a single copy of ``K_A`` (resp. ``K_B``).
* :class:`JoinedKeyAttention`: joins the keys and calls any plain attention function (four score
  blocks for fused outer). It serves devices, dtypes and head sizes no log-sum-exp kernel covers,
  and keeps the caller's attention backend.

Masks. An attention may carry an additive bias ``M`` on its scores (a key-padding mask, Flux Redux's
``attn_bias``): ``Attn(Q, K, V; M) = softmax(Q K^T / sqrt(d) + M) V``. Each key set then brings its own
bias, ``[rows or 1, heads or 1, Tq or 1, Tk]``: an in-between row's own keys keep its own, each endpoint's
keys bring that endpoint's (its row of the mask, at the same query positions). Joined keys join their
biases; the log-sum-exp merge is exact with biases too. Inner mode blends keys, and so their weights:
``exp(M_t) = (1-t) exp(M_A) + t exp(M_B)``, i.e. ``M_t = logaddexp(M_A + log(1-t), M_B + log t)``, which is
``M_A`` at t=0 and ``M_B`` at t=1; a token present in both keeps bias 0, one only A has gets ``log(1-t)``.

Nothing here reads a tensor's values on the host: no ``.item()``, no data-dependent branch, no
tensor built from Python numbers. The code runs inside compiled graphs and CUDA graphs; callers
validate coefficients once, before sampling. Tensors use ``[batch, heads, tokens, head_dim]``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import torch

from .errors import ArgumentError

AID_MODES: tuple[str, ...] = ("outer", "inner")

Bias = Optional[torch.Tensor]
AttentionWithLse = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Bias], tuple[torch.Tensor, torch.Tensor]]
# (q, k, v, bias) -> out, [B, H, T, D]; bias additive, broadcastable to [B, H, Tq, Tk], or None.
Attention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Bias], torch.Tensor]


class KeySet(NamedTuple):
    """Keys and values ``[rows, H, Tk, D]`` and the additive bias their scores get, broadcastable to
    ``[rows, H, Tq, Tk]`` (``None``: no mask)."""

    keys: torch.Tensor
    values: torch.Tensor
    bias: Bias = None


def additive_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """An attention mask as ComfyUI's attention reads it, as a 4-D additive bias ``[B|1, H|1, Tq|1, Tk]``.

    ``[Tq, Tk]`` is one mask for every row, ``[B, Tq, Tk]`` one per row (Qwen-Image's ``[B, 1, Tk]`` is a
    key-padding mask), 4-D is taken as it is. A boolean mask keeps the keys where it is True: 0 there,
    ``-inf`` elsewhere, as ``scaled_dot_product_attention`` reads it.
    """
    if mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, -float("inf"))
    if mask.dim() == 2:
        mask = mask.unsqueeze(0)
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    return mask


def cpu_flash_lse(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: Bias = None):
    """The CPU kernel ``scaled_dot_product_attention`` itself runs (so ``O`` equals SDPA bit for bit)."""
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, attn_mask=bias)[:2]
    return out, lse.float()


def cuda_flash_lse(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: Bias = None):
    """FlashAttention-2 (fp16/bf16, sm80+); its log-sum-exp is ``[B, H, Tq]`` float32, natural log.
    It takes no bias: :func:`choose_lse_kernel` never picks it for a masked attention."""
    if bias is not None:
        raise ArgumentError("cuda_flash_lse", "bias", "FlashAttention takes no bias; use cuda_efficient_lse")
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention(q, k, v)[:2]
    return out, lse


# The memory-efficient kernel reads its bias in rows aligned to this many elements, as PyTorch's own
# scaled_dot_product_attention prepares it (pad the key axis, then view the first Tk columns).
_EFFICIENT_BIAS_ALIGNMENT = 8


def _efficient_bias(bias: torch.Tensor, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``bias`` in q's dtype with aligned strides, expanded to ``[B, H, Tq, Tk]`` (strides only: no host read)."""
    bias = bias.to(q.dtype)
    if bias.stride(-1) != 1 or any(stride % _EFFICIENT_BIAS_ALIGNMENT for stride in bias.stride()[:-1]):
        tokens = bias.shape[-1]
        bias = torch.nn.functional.pad(bias, (0, _EFFICIENT_BIAS_ALIGNMENT - tokens % _EFFICIENT_BIAS_ALIGNMENT))
        bias = bias[..., :tokens]
    return bias.expand(q.shape[0], q.shape[1], q.shape[2], k.shape[2])


def cuda_efficient_lse(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: Bias = None):
    """Memory-efficient attention (fp32/fp16/bf16), with an additive ``attn_bias`` when masked.

    Its log-sum-exp is padded to a multiple of 32 queries with +inf; unsliced, the merge would
    weigh the padding and turn into NaN.
    """
    if bias is not None:
        bias = _efficient_bias(bias, q, k)
    out, lse = torch.ops.aten._scaled_dot_product_efficient_attention(q, k, v, bias, True)[:2]
    return out, lse[..., : q.shape[-2]]


LSE_KERNELS: dict[str, AttentionWithLse] = {
    "cpu_flash": cpu_flash_lse,
    "cuda_flash": cuda_flash_lse,
    "cuda_efficient": cuda_efficient_lse,
}
_CPU_FLASH = hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu")
_HALF = (torch.float16, torch.bfloat16)


def choose_lse_kernel(device_type: str, dtype: torch.dtype, head_dim: int,
                      cuda_capability: tuple[int, int] | None = None, masked: bool = False) -> str | None:
    """Name of the log-sum-exp kernel for this device type, dtype and head size, or ``None``.

    A pure function of static facts, so under ``torch.compile`` it is decided at trace time.
    ``cuda_capability`` is the NVIDIA compute capability, read once per model call by the caller
    (``None`` off NVIDIA, e.g. ROCm, where the constraints differ). ``None`` means: join the keys
    and use a plain attention (:class:`JoinedKeyAttention`). The limits are PyTorch's own for these
    kernels: flash needs sm80+, fp16/bf16, head size a multiple of 8 up to 256, and takes no mask
    (``masked``: the attention has a bias); memory-efficient needs sm50+, head size a multiple of 8
    (4 in fp32) up to 128, and takes a bias.
    """
    if device_type == "cpu":
        return "cpu_flash" if _CPU_FLASH and dtype.is_floating_point else None
    if device_type != "cuda" or cuda_capability is None:
        return None
    if not masked and dtype in _HALF and head_dim % 8 == 0 and head_dim <= 256 and cuda_capability >= (8, 0):
        return "cuda_flash"
    alignment = 4 if dtype == torch.float32 else 8
    if (dtype in _HALF or dtype == torch.float32) and head_dim % alignment == 0 and head_dim <= 128 \
            and cuda_capability >= (5, 0):
        return "cuda_efficient"
    return None


def merge_attention(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Attention over the union of key sets from per-set results ``(O_j, L_j)``, in float32.

    ``O = sum_j w_j O_j`` with ``w_j = exp(L_j - logsumexp_j L_j)``: the softmax over all keys
    splits into per-set softmaxes weighted by each set's share of the total mass.
    """
    weights = torch.softmax(torch.stack([lse.float() for _, lse in parts]), dim=0).unsqueeze(-1)
    return sum(weights[j] * out.float() for j, (out, _) in enumerate(parts))


def _fold_rows(x: torch.Tensor) -> torch.Tensor:
    """``[M, H, T, D] -> [1, H, M*T, D]``: M rows' queries as one sequence against shared keys."""
    rows, heads, tokens, dim = x.shape
    return x.transpose(0, 1).reshape(1, heads, rows * tokens, dim)


def _unfold_rows(x: torch.Tensor, rows: int) -> torch.Tensor:
    """Inverse of :func:`_fold_rows` for outputs ``[1, H, M*T, D]`` and log-sum-exps ``[1, H, M*T]``."""
    heads = x.shape[1]
    return x.reshape(heads, rows, -1, *x.shape[3:]).transpose(0, 1)


def _fold_keys(keys: KeySet, rows: int) -> KeySet:
    """An endpoint's key set for the folded queries of ``rows`` rows: a bias per query position
    ``[1, H|1, Tq, Te]`` is repeated for every row, ``[1, H|1, M*Tq, Te]``; one for all queries stays."""
    if keys.bias is None or keys.bias.shape[2] == 1:
        return keys
    return keys._replace(bias=_fold_rows(keys.bias.expand(rows, -1, -1, -1)))


def _lerp_endpoints(end_a: KeySet, end_b: KeySet, t_rows: torch.Tensor) -> KeySet:
    """``K_t = (1-t) K_A + t K_B``, ``V_t`` likewise, and their bias ``M_t`` (module docstring), per in-between row:
    ``[M, H, Te, D]`` each."""
    keys, values = (((1 - t_rows) * a.float() + t_rows * b.float()).to(a.dtype)
                    for a, b in zip(end_a[:2], end_b[:2]))
    if end_a.bias is None and end_b.bias is None:
        return KeySet(keys, values)
    bias_a, bias_b = (torch.zeros((), device=keys.device) if end.bias is None else end.bias.float()
                      for end in (end_a, end_b))
    # log(1-t) and log(t) are -inf at the endpoints, where logaddexp returns the other term exactly.
    bias = torch.logaddexp(bias_a + torch.log1p(-t_rows), bias_b + torch.log(t_rows))
    return KeySet(keys, values, bias.to(keys.dtype))


class LogSumExpAttention:
    """AID from partial attentions merged by their log-sum-exps (three score blocks for fused outer)."""

    def __init__(self, kernel: AttentionWithLse):
        self.kernel = kernel

    def _attend(self, q: torch.Tensor, keys: KeySet):
        return self.kernel(q, keys.keys, keys.values, keys.bias)

    def outer(self, q_mid, own: KeySet, end_a: KeySet, end_b: KeySet, t_rows, fused):
        rows = q_mid.shape[0]
        # [M, H, Tq, D] -> [1, H, M*Tq, D]: every in-between query against one copy of K_A (resp. K_B).
        folded = _fold_rows(q_mid)
        out_a, lse_a = self._attend(folded, _fold_keys(end_a, rows))
        out_b, lse_b = self._attend(folded, _fold_keys(end_b, rows))
        part_a = (_unfold_rows(out_a, rows), _unfold_rows(lse_a, rows))
        part_b = (_unfold_rows(out_b, rows), _unfold_rows(lse_b, rows))
        if not fused:
            return (1 - t_rows) * part_a[0].float() + t_rows * part_b[0].float()
        out_own, lse_own = self._attend(q_mid, own)
        # merge([own, A]) = (1 - s_A) O_own + s_A O_A with s_A = sigmoid(L_A - L_own), B likewise; both
        # merges share O_own, so it is read once: one pass over each block.
        share_a = torch.sigmoid(part_a[1].float() - lse_own.float()).unsqueeze(-1)
        share_b = torch.sigmoid(part_b[1].float() - lse_own.float()).unsqueeze(-1)
        own_weight = (1 - t_rows) * (1 - share_a) + t_rows * (1 - share_b)
        return (own_weight * out_own.float() + ((1 - t_rows) * share_a) * part_a[0].float()
                + (t_rows * share_b) * part_b[0].float())

    def inner(self, q_mid, own: KeySet, end_a: KeySet, end_b: KeySet, t_rows, fused):
        blend = self._attend(q_mid, _lerp_endpoints(end_a, end_b, t_rows))
        if not fused:
            return blend[0]
        return merge_attention([self._attend(q_mid, own), blend])


class JoinedKeyAttention:
    """AID by joining keys along the token axis and calling a plain attention (four blocks for fused outer)."""

    def __init__(self, attention: Attention):
        self.attention = attention

    def _attend(self, q: torch.Tensor, keys: KeySet) -> torch.Tensor:
        return self.attention(q, keys.keys, keys.values, keys.bias)

    def outer(self, q_mid, own: KeySet, end_a: KeySet, end_b: KeySet, t_rows, fused):
        rows = q_mid.shape[0]
        if fused:
            # [M, H, Tk, D] own keys joined with the endpoint's, expanded per row: [M, H, Tk + Te, D].
            to_a = self._attend(q_mid, _join(own, end_a, q_mid))
            to_b = self._attend(q_mid, _join(own, end_b, q_mid))
        else:
            folded = _fold_rows(q_mid)
            to_a = _unfold_rows(self._attend(folded, _fold_keys(end_a, rows)), rows)
            to_b = _unfold_rows(self._attend(folded, _fold_keys(end_b, rows)), rows)
        return (1 - t_rows) * to_a.float() + t_rows * to_b.float()

    def inner(self, q_mid, own: KeySet, end_a: KeySet, end_b: KeySet, t_rows, fused):
        blend = _lerp_endpoints(end_a, end_b, t_rows)
        if fused:
            blend = _join(own, blend, q_mid)
        return self._attend(q_mid, blend)


def _join(own: KeySet, other: KeySet, q: torch.Tensor) -> KeySet:
    """Each row's keys and values joined with ``other``'s (one row, expanded, or one per row), and their biases:
    a key set without one gets zeros, both ``[M, H|1, Tq|1, *]`` (the host's attention takes a full batch)."""
    rows = own.keys.shape[0]
    keys, values = (torch.cat([mine, theirs.expand(rows, -1, -1, -1)], dim=2)
                    for mine, theirs in zip(own[:2], other[:2]))
    if own.bias is None and other.bias is None:
        return KeySet(keys, values)
    biases = [torch.zeros(1, 1, 1, end.keys.shape[2], dtype=q.dtype, device=q.device) if end.bias is None
              else end.bias.to(q.dtype) for end in (own, other)]
    heads, queries = (max(bias.shape[axis] for bias in biases) for axis in (1, 2))
    bias = torch.cat([b.expand(rows, heads, queries, -1) for b in biases], dim=-1)
    return KeySet(keys, values, bias)


def select_backend(q: torch.Tensor, cuda_capability: tuple[int, int] | None, masked: bool,
                   fallback: Attention) -> LogSumExpAttention | JoinedKeyAttention:
    """The log-sum-exp kernel for q's (``[B, H, T, D]``) device, dtype and head size (and a mask, when ``masked``),
    else ``fallback`` on joined keys. Only static facts decide, so under ``torch.compile`` it is a trace-time choice;
    ``cuda_capability`` is read by the caller, once (see :func:`choose_lse_kernel`)."""
    name = choose_lse_kernel(q.device.type, q.dtype, q.shape[-1], cuda_capability, masked)
    if name is None:
        return JoinedKeyAttention(fallback)
    return LogSumExpAttention(LSE_KERNELS[name])


def default_backend(q: torch.Tensor, masked: bool = False) -> LogSumExpAttention | JoinedKeyAttention:
    """:func:`select_backend` for q's own device, with PyTorch's SDPA as the fallback."""
    capability = torch.cuda.get_device_capability(q.device) if q.device.type == "cuda" and not torch.version.hip \
        else None
    return select_backend(q, capability, masked, _sdpa)


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: Bias = None) -> torch.Tensor:
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)


def attention_with_lse(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       bias: Bias = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``O = softmax(q k^T / sqrt(d) + bias) v`` and ``L = logsumexp(q k^T / sqrt(d) + bias)`` per query, by q's
    kernel.

    q ``[B, H, Tq, D]``, k and v ``[B, H, Tk, D]``, bias additive, broadcastable to ``[B, H, Tq, Tk]`` (or
    ``None``) -> O ``[B, H, Tq, D]`` in q's dtype and L ``[B, H, Tq]`` in float32.
    """
    backend = default_backend(q, bias is not None)
    if not isinstance(backend, LogSumExpAttention):
        raise ArgumentError("attention_with_lse", "q", f"no log-sum-exp kernel for {q.device.type} {q.dtype} "
                                                        f"with head size {q.shape[-1]}")
    return backend.kernel(q, k, v, bias)


def interpolated_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, t, mode: str = "outer",
                           fused: bool = True, backend: LogSumExpAttention | JoinedKeyAttention | None = None,
                           endpoint_tokens: slice = slice(None), mask: torch.Tensor | None = None) -> torch.Tensor:
    """AID attention of the in-between rows of one sequence (formulas in the module docstring).

    ``q`` ``[N, H, Tq, D]`` and ``k``, ``v`` ``[N, H, Tk, D]`` hold rows ``[A, ..., B]``; ``t`` holds
    the N-2 in-between coefficients (a float32 tensor on q's device, or numbers). Their finiteness
    is not checked here, which would read them on the host: validate them once, before sampling.
    ``endpoint_tokens`` picks which of the endpoints' keys/values join (all by default; on a joint
    text-image sequence, its image or its text tokens), while each row keeps all of its own.
    ``mask``: the attention's mask as :func:`additive_bias` reads it, of the N rows (or one for all).
    ``backend`` defaults to :func:`default_backend`. Returns ``[N-2, H, Tq, D]`` in q's dtype.
    """
    where = "interpolated_attention"
    if mode not in AID_MODES:
        raise ArgumentError(where, "mode", f"must be one of {AID_MODES}, got {mode!r}")
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.dim() != 4:
            raise ArgumentError(where, name, f"must be [rows, heads, tokens, head_dim], got shape {tuple(x.shape)}")
    rows = q.shape[0]
    if rows < 3 or k.shape[0] != rows or v.shape[0] != rows:
        raise ArgumentError(where, "q", f"need the same N >= 3 rows [A, in-betweens, B] in q, k, v, got "
                                        f"{q.shape[0]}, {k.shape[0]}, {v.shape[0]}")
    if not isinstance(t, torch.Tensor):
        t = torch.tensor(t, dtype=torch.float32, device=q.device)
    if t.shape != (rows - 2,):
        raise ArgumentError(where, "t", f"{rows} rows have {rows - 2} in-betweens but t has shape {tuple(t.shape)}")
    bias = None if mask is None else additive_bias(mask, q.dtype)
    if bias is not None and (bias.dim() != 4 or bias.shape[0] not in (1, rows) or bias.shape[-1] != k.shape[2]):
        raise ArgumentError(where, "mask", f"must cover {rows} rows (or 1) and {k.shape[2]} keys, got shape "
                                           f"{tuple(mask.shape)}")
    row_bias = (lambda rows_: None) if bias is None else (lambda rows_: bias if bias.shape[0] == 1 else bias[rows_])
    end_a, end_b = (KeySet(k[r, :, endpoint_tokens], v[r, :, endpoint_tokens],
                           None if bias is None else row_bias(r)[..., endpoint_tokens])
                    for r in (slice(0, 1), slice(rows - 1, rows)))
    own = KeySet(k[1:-1], v[1:-1], row_bias(slice(1, rows - 1)))
    return attention_between(q[1:-1], own, end_a, end_b, t, mode, fused, backend)


def attention_between(q_mid: torch.Tensor, own: KeySet, end_a: KeySet, end_b: KeySet, t: torch.Tensor,
                      mode: str = "outer", fused: bool = True,
                      backend: LogSumExpAttention | JoinedKeyAttention | None = None) -> torch.Tensor:
    """AID attention of in-between rows whose endpoints' keys and values are given apart from them.

    The same formulas as :func:`interpolated_attention`, for rows that were not computed in one batch
    with their endpoints (a long sequence in chunks, the endpoints' keys/values kept from an earlier
    call): ``q_mid`` ``[M, H, Tq, D]``, ``own`` its rows' :class:`KeySet` ``[M, H, Tk, D]``, ``end_a`` and
    ``end_b`` the endpoints' ``[1, H, Te, D]`` (biases ``[M|1, H|1, Tq|1, Tk]`` and ``[1, H|1, Tq|1, Te]``),
    ``t`` ``[M]`` float32 on q's device. Returns ``[M, H, Tq, D]`` in q's dtype. Values are not checked
    (see the module docstring).
    """
    own, end_a, end_b = KeySet(*own), KeySet(*end_a), KeySet(*end_b)
    masked = any(keys.bias is not None for keys in (own, end_a, end_b))
    backend = backend or default_backend(q_mid, masked)
    t_rows = t.float().reshape(-1, 1, 1, 1)  # one coefficient per in-between row, over [H, Tq, D]
    out = getattr(backend, mode)(q_mid, own, end_a, end_b, t_rows, fused)
    return out.to(q_mid.dtype)
