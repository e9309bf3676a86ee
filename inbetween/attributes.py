"""Attribute control by embedding arithmetic (textual latent interpolation, the mechanism behind PixelSmile).

``delta = e_target - e_neutral`` is a direction in a text encoder's output space; adding
``alpha * delta`` to the neutral embedding moves the generation along it: alpha = 0 is the
neutral prompt, 1 the target, > 1 exaggerates, < 0 goes the opposite way. Several deltas add up
(``e_base + sum_i w_i delta_i``).

Shapes: embeddings are ``[B, tokens, dim]``, pooled outputs ``[B, dim]``; a delta describes one
prompt pair, so it has batch 1. Equal token counts are the caller's job (``tokens.align_many``).

Precision: deltas are float64. For float32 (or lower) embeddings the subtraction is then exact
whenever the two values are within a factor 2^29 of each other or one is zero, which holds for
encoder outputs in practice, so ``neutral + 1 * delta`` rounds back to the target bit for bit;
float16 inputs are always exact. Blends are computed in float64 and returned in the neutral's
dtype, so alpha = 0 returns the neutral bit for bit. The float64 working copy covers a bounded
chunk of rows at a time, never the whole batch, so a sweep of thousands of alphas costs the
output in the neutral's dtype plus a fixed amount. Inputs are never modified.

Errors: a wrong type raises ``TypeError``; a value these functions cannot use raises
:class:`~inbetween.errors.ArgumentError` naming the parameter (``neutral``, ``target``,
``delta``, ``alpha``, ``strategy``, ``last_tokens``, ``magnitude``, ``x``, ``factors``, ``base``,
``deltas``, ``weights``; with ``index`` for one element of ``alpha``, ``deltas`` or
``weights``). Embeddings and deltas holding NaN or inf are rejected: every blended row would
carry them into the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch

from .errors import ArgumentError
from .validation import Coefficients, check_coefficients, check_finite, check_positive, check_real, check_tensor

BLEND_STRATEGIES: tuple[str, ...] = ("all_tokens", "last_tokens", "direction")

DELTA_DTYPE = torch.float64

# Elements of float64 working copy per chunk of blended rows: 32 MiB, about 70 rows of [77, 768].
_CHUNK_ELEMENTS = 1 << 22


def embedding_delta(neutral: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``delta = target - neutral`` in float64: ``[1, ...]`` inputs of one shape -> ``[1, ...]`` on target's device.

    The two may differ in dtype and device: the delta is float64 either way.
    """
    where = "embedding_delta"
    _check_embedding(where, "neutral", neutral)
    _check_embedding(where, "target", target)
    if neutral.shape[0] != 1:
        raise ArgumentError(where, "neutral", f"must have batch 1 (one prompt), got shape {tuple(neutral.shape)}")
    if target.shape != neutral.shape:
        raise ArgumentError(where, "target", f"must have shape {tuple(neutral.shape)} like neutral, "
                                             f"got {tuple(target.shape)}")
    return target.to(DELTA_DTYPE) - neutral.to(target.device, DELTA_DTYPE)


def blend_factors(delta: torch.Tensor, alpha: Coefficients, strategy: str = "all_tokens",
                  magnitude: Optional[float] = None) -> torch.Tensor:
    """The factor ``c_k`` that multiplies ``delta`` in output row k, as a float64 vector.

    - ``all_tokens`` and ``last_tokens``: ``c_k = alpha_k``.
    - ``direction``: ``c_k = alpha_k * magnitude / ||delta||``, where ``||delta||`` is the
      Frobenius norm of the whole ``[tokens, dim]`` delta. The offset added to the neutral is
      then ``alpha_k * magnitude * delta / ||delta||``: the delta's unit direction, with norm
      ``|alpha_k| * magnitude`` whatever the prompts' own distance. A zero delta has no direction.

    ``alpha`` is a number (one row) or a sequence / 1-D tensor (one row per value); pooled
    outputs use the same factors, so they follow the same arithmetic as the tokens.
    """
    return _factors("blend_factors", delta, alpha, strategy, magnitude)[0]


def add_scaled(x: torch.Tensor, delta: torch.Tensor, factors: torch.Tensor,
               last_tokens: Optional[int] = None) -> torch.Tensor:
    """Row k of the result is ``x + factors[k] * delta`` (``x`` of batch 1 or N, N = len(factors)).

    With ``last_tokens = n`` only the last n tokens (dim 1) change and every earlier token is
    a copy of ``x``. A row with factor 0 is ``x`` bit for bit. The result has ``x``'s dtype.
    """
    where = "add_scaled"
    _check_embedding(where, "x", x)
    _check_delta(where, "delta", delta, x, "x")
    check_tensor(factors, "factors", where)
    if factors.dim() != 1 or factors.numel() == 0:
        raise ArgumentError(where, "factors", f"must be a non-empty vector, got shape {tuple(factors.shape)}")
    check_finite(factors, "factors", where)
    return _add_scaled(where, "x", x, delta, factors, last_tokens)


def blend(neutral: torch.Tensor, delta: torch.Tensor, alpha: Coefficients, strategy: str = "all_tokens",
          last_tokens: Optional[int] = None, magnitude: Optional[float] = None) -> torch.Tensor:
    """``e_neutral + alpha * delta`` by ``strategy``, one output row per alpha.

    - ``all_tokens`` (PixelSmile's default): every token moves, ``e_k = e_neutral + alpha_k * delta``.
    - ``last_tokens``: only the last ``last_tokens`` tokens move; earlier tokens are the
      neutral's, bit for bit.
    - ``direction``: ``e_k = e_neutral + alpha_k * magnitude * delta / ||delta||`` (see
      :func:`blend_factors`), so ``||e_k - e_neutral|| = |alpha_k| * magnitude``.

    A scalar alpha gives the neutral's batch; a vector of N alphas needs a neutral of batch 1
    or N and gives batch N.
    """
    where = "blend"
    _check_embedding(where, "neutral", neutral)
    _check_delta(where, "delta", delta, neutral, "neutral")
    factors, is_vector = _factors(where, delta, alpha, strategy, magnitude)
    if strategy == "last_tokens" and last_tokens is None:
        raise ArgumentError(where, "last_tokens", "the last_tokens strategy needs the number of tokens to move, "
                                                  "got None")
    if not is_vector:
        factors = factors.expand(neutral.shape[0])
    return _add_scaled(where, "neutral", neutral, delta, factors, last_tokens if strategy == "last_tokens" else None)


def combine(base: torch.Tensor, deltas: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Multi-attribute blend ``e_base + sum_i w_i * delta_i``, summed in float64 in list order.

    ``base`` is ``[B, ...]``, each delta ``[1, ...]`` of the same trailing shape; the result has
    the base's shape and dtype. No deltas (or all weights 0) return the base bit for bit.
    """
    where = "combine"
    _check_embedding(where, "base", base)
    if len(deltas) != len(weights):
        raise ArgumentError(where, "weights", f"must hold one weight per delta ({len(deltas)}), got {len(weights)}")
    for index, delta in enumerate(deltas):
        _check_delta(where, "deltas", delta, base, "base", index)
    checked = [check_real(weight, "weights", where, index) for index, weight in enumerate(weights)]

    def rows(start: int, stop: int) -> torch.Tensor:
        total = base[start:stop].to(DELTA_DTYPE)
        for delta, weight in zip(deltas, checked):
            total = total + weight * delta.to(base.device, DELTA_DTYPE)
        return total

    return _in_chunks(base, base.shape[0], rows)


def blended_mask(neutral_mask: Optional[torch.Tensor], target_masks: Sequence[Optional[torch.Tensor]],
                 factors: Sequence[torch.Tensor]) -> Optional[torch.Tensor]:
    """Attention mask for blended rows (encoders that mask padding, e.g. Qwen-Image's LLM).

    Row k admits a token when the neutral admits it, or when some delta i moves row k
    (``factors[i][k] != 0``) and that delta's target admits it: a longer target's extra words
    must be seen, while a row that adds nothing keeps the neutral's own mask (so alpha = 0
    reproduces the neutral exactly). A missing mask admits everything. ``None`` when no mask
    is given at all. Masks are ``[1, tokens]``; the result is ``[N, tokens]``.
    """
    present = [m for m in (neutral_mask, *target_masks) if m is not None]
    if not present:
        return None
    reference = present[0]
    rows = max(f.numel() for f in factors) if factors else 1
    start = neutral_mask if neutral_mask is not None else torch.ones_like(reference)
    out = start.expand(rows, -1).clone()
    for target_mask, factor in zip(target_masks, factors):
        target_mask = torch.ones_like(reference) if target_mask is None else target_mask.to(reference)
        moved = (factor.to(reference.device) != 0).reshape(-1, 1).expand(rows, 1)
        out = torch.where(moved, torch.maximum(out, target_mask), out)
    return out


def _factors(where: str, delta: torch.Tensor, alpha: Coefficients, strategy: str,
             magnitude: Optional[float]) -> tuple[torch.Tensor, bool]:
    """:func:`blend_factors` for ``where``, and whether ``alpha`` was a vector."""
    check_tensor(delta, "delta", where)
    check_finite(delta, "delta", where)
    values, is_vector = check_coefficients(alpha, "alpha", where)
    if not isinstance(strategy, str):
        raise TypeError(f"{where}: strategy must be a str, got {type(strategy).__name__}")
    if strategy not in BLEND_STRATEGIES:
        raise ArgumentError(where, "strategy", f"must be one of {BLEND_STRATEGIES}, got {strategy!r}")
    factors = torch.tensor(values, dtype=DELTA_DTYPE, device=delta.device)
    if strategy != "direction":
        return factors, is_vector
    if magnitude is None:
        raise ArgumentError(where, "magnitude", "the direction strategy needs a magnitude > 0, got None")
    magnitude = check_positive(magnitude, "magnitude", where)
    norm = torch.linalg.vector_norm(delta.to(DELTA_DTYPE))
    if norm == 0:
        raise ArgumentError(where, "delta", "is zero (neutral and target are identical), so it has no direction; "
                                            "use all_tokens or encode two different prompts")
    return factors * (magnitude / norm), is_vector


def _add_scaled(where: str, x_name: str, x: torch.Tensor, delta: torch.Tensor, factors: torch.Tensor,
                last_tokens: Optional[int]) -> torch.Tensor:
    rows = factors.numel()
    if x.shape[0] not in (1, rows):
        raise ArgumentError(where, x_name, f"must have batch 1 or {rows} to match {rows} factors, "
                                           f"got batch {x.shape[0]}")
    column = factors.to(x.device, DELTA_DTYPE).reshape(-1, *([1] * (x.dim() - 1)))
    if last_tokens is None:
        return _scaled_rows(x, delta, column)
    count = _token_count(where, last_tokens, x)
    out = x.expand(rows, *x.shape[1:]).clone()
    out[:, -count:] = _scaled_rows(x[:, -count:], delta[:, -count:], column)
    return out


def _scaled_rows(x: torch.Tensor, delta: torch.Tensor, column: torch.Tensor) -> torch.Tensor:
    """Row k: ``x[k or 0] + column[k] * delta`` in float64, returned in ``x``'s dtype."""
    delta = delta.to(x.device, DELTA_DTYPE)
    return _in_chunks(x, column.shape[0], lambda start, stop: _shifted(x, start, stop) + column[start:stop] * delta)


def _shifted(x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Rows start..stop of ``x`` in float64, the single row of a batch-1 ``x`` standing for all."""
    return (x if x.shape[0] == 1 else x[start:stop]).to(DELTA_DTYPE)


def _in_chunks(x: torch.Tensor, rows: int, compute) -> torch.Tensor:
    """``[rows, ...]`` in ``x``'s dtype from ``compute(start, stop)``, float64 rows start..stop."""
    out = torch.empty((rows, *x.shape[1:]), dtype=x.dtype, device=x.device)
    step = max(1, _CHUNK_ELEMENTS // max(1, x[0].numel()))
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        out[start:stop] = compute(start, stop)
    return out


def _token_count(where: str, value: object, x: torch.Tensor) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where}: last_tokens must be an int, got {type(value).__name__}")
    if not 1 <= value <= x.shape[1]:
        raise ArgumentError(where, "last_tokens", f"must be an int in [1, {x.shape[1]}] (the token count), "
                                                  f"got {value!r}")
    return value


def _check_embedding(where: str, name: str, x: object) -> None:
    check_tensor(x, name, where)
    if x.dim() < 2 or x.numel() == 0:
        raise ArgumentError(where, name, f"must be a non-empty [batch, ...] tensor, got shape {tuple(x.shape)}")
    check_finite(x, name, where)


def _check_delta(where: str, name: str, delta: object, x: torch.Tensor, x_name: str,
                 index: Optional[int] = None) -> None:
    """A delta is one prompt pair's change: ``[1, ...]`` with ``x``'s trailing shape (any device: it is small
    and moves to ``x``'s)."""
    check_tensor(delta, name if index is None else f"{name}[{index}]", where)
    if delta.shape[0:1] != (1,) or delta.shape[1:] != x.shape[1:]:
        raise ArgumentError(where, name, f"must have shape {(1, *x.shape[1:])} to match {x_name}, "
                                         f"got {tuple(delta.shape)}", index=index)
    check_finite(delta, name, where, index)
