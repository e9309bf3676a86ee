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

Nothing here reads a tensor's values on the host: no ``.item()``, no data-dependent branch, no
tensor built from Python numbers. The code runs inside compiled graphs and CUDA graphs; callers
validate coefficients once, before sampling. Tensors use ``[batch, heads, tokens, head_dim]``.
"""

from __future__ import annotations

from typing import Callable

import torch

from .errors import ArgumentError

AID_MODES: tuple[str, ...] = ("outer", "inner")

AttentionWithLse = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
Attention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def cpu_flash_lse(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The CPU kernel ``scaled_dot_product_attention`` itself runs (so ``O`` equals SDPA bit for bit)."""
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v)[:2]
    return out, lse.float()


def cuda_flash_lse(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FlashAttention-2 (fp16/bf16, sm80+); its log-sum-exp is ``[B, H, Tq]`` float32, natural log."""
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention(q, k, v)[:2]
    return out, lse


def cuda_efficient_lse(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Memory-efficient attention (fp32/fp16/bf16).

    Its log-sum-exp is padded to a multiple of 32 queries with +inf; unsliced, the merge would
    weigh the padding and turn into NaN.
    """
    out, lse = torch.ops.aten._scaled_dot_product_efficient_attention(q, k, v, None, True)[:2]
    return out, lse[..., : q.shape[-2]]


LSE_KERNELS: dict[str, AttentionWithLse] = {
    "cpu_flash": cpu_flash_lse,
    "cuda_flash": cuda_flash_lse,
    "cuda_efficient": cuda_efficient_lse,
}
_CPU_FLASH = hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu")
_HALF = (torch.float16, torch.bfloat16)


def choose_lse_kernel(device_type: str, dtype: torch.dtype, head_dim: int,
                      cuda_capability: tuple[int, int] | None = None) -> str | None:
    """Name of the log-sum-exp kernel for this device type, dtype and head size, or ``None``.

    A pure function of static facts, so under ``torch.compile`` it is decided at trace time.
    ``cuda_capability`` is the NVIDIA compute capability, read once per model call by the caller
    (``None`` off NVIDIA, e.g. ROCm, where the constraints differ). ``None`` means: join the keys
    and use a plain attention (:class:`JoinedKeyAttention`). The limits are PyTorch's own for these
    kernels: flash needs sm80+, fp16/bf16, head size a multiple of 8 up to 256; memory-efficient
    needs sm50+, head size a multiple of 8 (4 in fp32) up to 128.
    """
    if device_type == "cpu":
        return "cpu_flash" if _CPU_FLASH and dtype.is_floating_point else None
    if device_type != "cuda" or cuda_capability is None:
        return None
    if dtype in _HALF and head_dim % 8 == 0 and head_dim <= 256 and cuda_capability >= (8, 0):
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


def _lerp_endpoints(end_a, end_b, t_rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``K_t = (1-t) K_A + t K_B`` and ``V_t`` likewise for each in-between row: ``[N-2, H, Te, D]`` each."""
    return tuple(((1 - t_rows) * a.float() + t_rows * b.float()).to(a.dtype) for a, b in zip(end_a, end_b))


class LogSumExpAttention:
    """AID from partial attentions merged by their log-sum-exps (three score blocks for fused outer)."""

    def __init__(self, kernel: AttentionWithLse):
        self.kernel = kernel

    def outer(self, q_mid, own, end_a, end_b, t_rows, fused):
        rows = q_mid.shape[0]
        # [M, H, Tq, D] -> [1, H, M*Tq, D]: every in-between query against one copy of K_A (resp. K_B).
        folded = _fold_rows(q_mid)
        out_a, lse_a = self.kernel(folded, *end_a)
        out_b, lse_b = self.kernel(folded, *end_b)
        part_a = (_unfold_rows(out_a, rows), _unfold_rows(lse_a, rows))
        part_b = (_unfold_rows(out_b, rows), _unfold_rows(lse_b, rows))
        if not fused:
            return (1 - t_rows) * part_a[0].float() + t_rows * part_b[0].float()
        out_own, lse_own = self.kernel(q_mid, *own)
        # merge([own, A]) = (1 - s_A) O_own + s_A O_A with s_A = sigmoid(L_A - L_own), B likewise; both
        # merges share O_own, so it is read once: one pass over each block.
        share_a = torch.sigmoid(part_a[1].float() - lse_own.float()).unsqueeze(-1)
        share_b = torch.sigmoid(part_b[1].float() - lse_own.float()).unsqueeze(-1)
        own_weight = (1 - t_rows) * (1 - share_a) + t_rows * (1 - share_b)
        return (own_weight * out_own.float() + ((1 - t_rows) * share_a) * part_a[0].float()
                + (t_rows * share_b) * part_b[0].float())

    def inner(self, q_mid, own, end_a, end_b, t_rows, fused):
        blend = self.kernel(q_mid, *_lerp_endpoints(end_a, end_b, t_rows))
        if not fused:
            return blend[0]
        return merge_attention([self.kernel(q_mid, *own), blend])


class JoinedKeyAttention:
    """AID by joining keys along the token axis and calling a plain attention (four blocks for fused outer)."""

    def __init__(self, attention: Attention):
        self.attention = attention

    def outer(self, q_mid, own, end_a, end_b, t_rows, fused):
        rows = q_mid.shape[0]
        if fused:
            # [M, H, Tk, D] own keys joined with the endpoint's, expanded per row: [M, H, Tk + Te, D].
            to_a = self.attention(q_mid, *_join(own, end_a))
            to_b = self.attention(q_mid, *_join(own, end_b))
        else:
            folded = _fold_rows(q_mid)
            to_a = _unfold_rows(self.attention(folded, *end_a), rows)
            to_b = _unfold_rows(self.attention(folded, *end_b), rows)
        return (1 - t_rows) * to_a.float() + t_rows * to_b.float()

    def inner(self, q_mid, own, end_a, end_b, t_rows, fused):
        k_t, v_t = _lerp_endpoints(end_a, end_b, t_rows)
        if fused:
            k_t, v_t = _join(own, (k_t, v_t))
        return self.attention(q_mid, k_t, v_t)


def _join(own: tuple[torch.Tensor, torch.Tensor], other: tuple[torch.Tensor, torch.Tensor]):
    """Keys and values of each row joined with ``other``'s (one row, expanded, or one per row)."""
    rows = own[0].shape[0]
    return tuple(torch.cat([mine, theirs.expand(rows, -1, -1, -1)], dim=2) for mine, theirs in zip(own, other))


def default_backend(q: torch.Tensor) -> LogSumExpAttention | JoinedKeyAttention:
    """The log-sum-exp kernel for q's device, dtype and head size where one serves, else SDPA on joined keys."""
    capability = torch.cuda.get_device_capability(q.device) if q.device.type == "cuda" and not torch.version.hip \
        else None
    name = choose_lse_kernel(q.device.type, q.dtype, q.shape[-1], capability)
    if name is None:
        return JoinedKeyAttention(torch.nn.functional.scaled_dot_product_attention)
    return LogSumExpAttention(LSE_KERNELS[name])


def attention_with_lse(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``O = softmax(q k^T / sqrt(d)) v`` and ``L = logsumexp(q k^T / sqrt(d))`` per query, by q's kernel.

    q ``[B, H, Tq, D]``, k and v ``[B, H, Tk, D]`` -> O ``[B, H, Tq, D]`` in q's dtype and
    L ``[B, H, Tq]`` in float32.
    """
    backend = default_backend(q)
    if not isinstance(backend, LogSumExpAttention):
        raise ArgumentError("attention_with_lse", "q", f"no log-sum-exp kernel for {q.device.type} {q.dtype} "
                                                        f"with head size {q.shape[-1]}")
    return backend.kernel(q, k, v)


def interpolated_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, t, mode: str = "outer",
                           fused: bool = True, backend: LogSumExpAttention | JoinedKeyAttention | None = None,
                           endpoint_tokens: slice = slice(None)) -> torch.Tensor:
    """AID attention of the in-between rows of one sequence (formulas in the module docstring).

    ``q`` ``[N, H, Tq, D]`` and ``k``, ``v`` ``[N, H, Tk, D]`` hold rows ``[A, ..., B]``; ``t`` holds
    the N-2 in-between coefficients (a float32 tensor on q's device, or numbers). Their finiteness
    is not checked here, which would read them on the host: validate them once, before sampling.
    ``endpoint_tokens`` picks which of the endpoints' keys/values join (all by default; on a joint
    text-image sequence, its image or its text tokens), while each row keeps all of its own.
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
    end_a = (k[:1, :, endpoint_tokens], v[:1, :, endpoint_tokens])
    end_b = (k[-1:, :, endpoint_tokens], v[-1:, :, endpoint_tokens])
    return attention_between(q[1:-1], (k[1:-1], v[1:-1]), end_a, end_b, t, mode, fused, backend)


def attention_between(q_mid: torch.Tensor, own: tuple[torch.Tensor, torch.Tensor],
                      end_a: tuple[torch.Tensor, torch.Tensor], end_b: tuple[torch.Tensor, torch.Tensor],
                      t: torch.Tensor, mode: str = "outer", fused: bool = True,
                      backend: LogSumExpAttention | JoinedKeyAttention | None = None) -> torch.Tensor:
    """AID attention of in-between rows whose endpoints' keys and values are given apart from them.

    The same formulas as :func:`interpolated_attention`, for rows that were not computed in one batch
    with their endpoints (a long sequence in chunks, the endpoints' keys/values kept from an earlier
    call): ``q_mid`` ``[M, H, Tq, D]``, ``own`` its rows' ``(K_i, V_i)`` ``[M, H, Tk, D]``, ``end_a`` and
    ``end_b`` ``(K, V)`` ``[1, H, Te, D]``, ``t`` ``[M]`` float32 on q's device. Returns ``[M, H, Tq, D]``
    in q's dtype. Values are not checked (see the module docstring).
    """
    backend = backend or default_backend(q_mid)
    t_rows = t.float().reshape(-1, 1, 1, 1)  # one coefficient per in-between row, over [H, Tq, D]
    out = getattr(backend, mode)(q_mid, own, end_a, end_b, t_rows, fused)
    return out.to(q_mid.dtype)
