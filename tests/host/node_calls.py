"""The pack's attribute nodes called with every input spelled once, and conditionings of a chosen shape."""

import torch


def conditioning(seed, tokens=77, width=768, pooled=768, batch=1, dtype=torch.float32, **options):
    """One entry ``[[tokens [batch, tokens, width], {pooled_output [batch, pooled] (unless None), **options}]]``."""
    generator = torch.Generator().manual_seed(seed)
    if pooled is not None:
        options["pooled_output"] = torch.randn(batch, pooled, generator=generator).to(dtype)
    return [[torch.randn(batch, tokens, width, generator=generator).to(dtype), options]]


def embedding_delta(n, neutral, target, alignment="error"):
    return n.attribute_nodes.EmbeddingDelta.execute(neutral, target, alignment).args[0]


def alpha_blend(n, neutral, delta, alpha=1.0, strategy="all_tokens", count=7, magnitude=10.0, alignment="error",
                schedule=None):
    return n.attribute_nodes.AlphaBlend.execute(neutral, delta, alpha, strategy, count, magnitude, alignment,
                                                schedule).args[0]


def multi_blend(n, base, pairs: dict, alignment="error"):
    """``pairs``: {i: (delta_i, weight_i)}; the other weights are 0 and their deltas unconnected."""
    inputs = {f"weight_{i}": 0.0 for i in range(1, 5)}
    for i, (delta, weight) in pairs.items():
        inputs[f"delta_{i}"], inputs[f"weight_{i}"] = delta, weight
    return n.attribute_nodes.MultiAttributeBlend.execute(base, alignment, **inputs).args[0]
