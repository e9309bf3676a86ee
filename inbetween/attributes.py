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
dtype, so alpha = 0 returns the neutral bit for bit. Inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .interpolation import Coefficients, _coefficients
from .validation import check_positive, check_real

BLEND_STRATEGIES: tuple[str, ...] = ("all_tokens", "last_tokens", "direction")

DELTA_DTYPE = torch.float64


def embedding_delta(neutral: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``target - neutral`` in float64: ``[1, ...]`` inputs of one shape -> ``[1, ...]``."""
    _check_tensor("embedding_delta", "neutral", neutral)
    _check_tensor("embedding_delta", "target", target)
    if neutral.shape != target.shape or neutral.shape[0] != 1:
        raise ValueError(f"embedding_delta: neutral and target must have one shape [1, ...], "
                         f"got {tuple(neutral.shape)} and {tuple(target.shape)}")
    return target.to(DELTA_DTYPE) - neutral.to(target.device, DELTA_DTYPE)


def blend_factors(delta: torch.Tensor, alpha: Coefficients, strategy: str = "all_tokens",
                  magnitude: float | None = None) -> torch.Tensor:
    """The factor ``c_k`` that multiplies ``delta`` in output row k, as a float64 vector.

    - ``all_tokens`` and ``last_tokens``: ``c_k = alpha_k``.
    - ``direction``: ``c_k = alpha_k * magnitude / ||delta||``, where ``||delta||`` is the
      Frobenius norm of the whole ``[tokens, dim]`` delta. The offset added to the neutral is
      then ``alpha_k * magnitude * delta / ||delta||``: the delta's unit direction, with norm
      ``|alpha_k| * magnitude`` whatever the prompts' own distance. A zero delta has no direction.

    ``alpha`` is a number (one row) or a sequence / 1-D tensor (one row per value); pooled
    outputs use the same factors, so they follow the same arithmetic as the tokens.
    """
    _check_tensor("blend_factors", "delta", delta)
    values, _ = _coefficients("blend_factors", alpha)
    factors = torch.tensor(values, dtype=DELTA_DTYPE, device=delta.device)
    if strategy not in BLEND_STRATEGIES:
        raise ValueError(f"blend_factors: strategy must be one of {BLEND_STRATEGIES}, got {strategy!r}")
    if strategy != "direction":
        return factors
    magnitude = check_positive(magnitude, "magnitude", "blend_factors")
    norm = torch.linalg.vector_norm(delta.to(DELTA_DTYPE))
    if norm == 0:
        raise ValueError("blend_factors: the delta is zero (neutral and target are identical), so it has no "
                         "direction; use all_tokens or encode two different prompts")
    return factors * (magnitude / norm)


def add_scaled(x: torch.Tensor, delta: torch.Tensor, factors: torch.Tensor,
               last_tokens: int | None = None) -> torch.Tensor:
    """Row k of the result is ``x + factors[k] * delta`` (``x`` of batch 1 or N, N = len(factors)).

    With ``last_tokens = n`` only the last n tokens (dim 1) change and every earlier token is
    a copy of ``x``. A row with factor 0 is ``x`` bit for bit. The result has ``x``'s dtype.
    """
    _check_tensor("add_scaled", "x", x)
    _check_tensor("add_scaled", "delta", delta)
    if delta.shape[0] != 1 or delta.shape[1:] != x.shape[1:]:
        raise ValueError(f"add_scaled: delta must have shape {(1, *x.shape[1:])} to match x, got {tuple(delta.shape)}")
    rows = factors.numel()
    if factors.dim() != 1 or rows == 0:
        raise ValueError(f"add_scaled: factors must be a non-empty vector, got shape {tuple(factors.shape)}")
    if x.shape[0] not in (1, rows):
        raise ValueError(f"add_scaled: {rows} factors need x of batch 1 or {rows}, got batch {x.shape[0]}")
    base = x.expand(rows, *x.shape[1:])
    column = factors.to(x.device, DELTA_DTYPE).reshape(-1, *([1] * (x.dim() - 1)))
    if last_tokens is None:
        return (base.to(DELTA_DTYPE) + column * delta.to(x.device, DELTA_DTYPE)).to(x.dtype)
    count = _token_count(last_tokens, x)
    out = base.clone()
    tail = base[:, -count:].to(DELTA_DTYPE) + column * delta[:, -count:].to(x.device, DELTA_DTYPE)
    out[:, -count:] = tail.to(x.dtype)
    return out


def blend(neutral: torch.Tensor, delta: torch.Tensor, alpha: Coefficients, strategy: str = "all_tokens",
          last_tokens: int | None = None, magnitude: float | None = None) -> torch.Tensor:
    """``e_neutral + alpha * delta`` by ``strategy``, one output row per alpha.

    - ``all_tokens`` (PixelSmile's default): every token moves, ``e_k = e_neutral + alpha_k * delta``.
    - ``last_tokens``: only the last ``last_tokens`` tokens move; earlier tokens are the
      neutral's, bit for bit.
    - ``direction``: ``e_k = e_neutral + alpha_k * magnitude * delta / ||delta||`` (see
      :func:`blend_factors`), so ``||e_k - e_neutral|| = |alpha_k| * magnitude``.

    A scalar alpha gives the neutral's batch; a vector of N alphas needs a neutral of batch 1
    or N and gives batch N.
    """
    if strategy == "last_tokens" and last_tokens is None:
        raise ValueError("blend: the last_tokens strategy needs last_tokens, the number of tokens to move")
    factors = blend_factors(delta, alpha, strategy, magnitude)
    if factors.numel() == 1 and not _is_vector(alpha):
        factors = factors.expand(neutral.shape[0])
    return add_scaled(neutral, delta, factors, last_tokens if strategy == "last_tokens" else None)


def combine(base: torch.Tensor, deltas: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Multi-attribute blend ``e_base + sum_i w_i * delta_i``, summed in float64 in list order.

    ``base`` is ``[B, ...]``, each delta ``[1, ...]`` of the same trailing shape; the result has
    the base's shape and dtype. No deltas (or all weights 0) return the base bit for bit.
    """
    _check_tensor("combine", "base", base)
    if len(deltas) != len(weights):
        raise ValueError(f"combine: got {len(deltas)} deltas but {len(weights)} weights")
    total = base.to(DELTA_DTYPE)
    for index, (delta, weight) in enumerate(zip(deltas, weights)):
        _check_tensor("combine", f"deltas[{index}]", delta)
        weight = check_real(weight, f"weights[{index}]", "combine")
        if delta.shape[0] != 1 or delta.shape[1:] != base.shape[1:]:
            raise ValueError(f"combine: deltas[{index}] must have shape {(1, *base.shape[1:])} to match base, "
                             f"got {tuple(delta.shape)}")
        total = total + weight * delta.to(base.device, DELTA_DTYPE)
    return total.to(base.dtype)


def blended_mask(neutral_mask: torch.Tensor | None, target_masks: Sequence[torch.Tensor | None],
                 factors: Sequence[torch.Tensor]) -> torch.Tensor | None:
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


def _is_vector(alpha: Coefficients) -> bool:
    return _coefficients("blend", alpha)[1]


def _token_count(value: object, x: torch.Tensor) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= x.shape[1]:
        raise ValueError(f"add_scaled: last_tokens must be an int in [1, {x.shape[1]}] (the token count), got {value!r}")
    return value


def _check_tensor(where: str, name: str, x: object) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2:
        shown = f"{x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{where}: {name} must be a floating tensor [batch, ...], got {shown}")
