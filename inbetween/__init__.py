"""Engine of ComfyUI-Inbetween: the math of smooth, controllable interpolation, in pure torch.

It knows tensors, not ComfyUI: ``interpolation`` blends latents, noise or embeddings by lerp,
variance-preserving normalized lerp or slerp, per batch row and along a vector of coefficients;
``schedules`` makes those coefficients, evenly spaced or at Beta-distribution quantiles (the
Beta prior of the AID paper, with its own float64 incomplete-beta CDF and inverse); ``metrics``
scores a finished frame sequence by the AID paper's smoothness (1 - Gini of adjacent distances),
consistency (mean distance) and largest jump; ``adaptive`` chooses coefficients from what a renderer
produces (the paper's dynamic selection: Beta-median splits, a least-squares Beta fit, and the most
even choice of frames, exact). Inputs are validated with messages that name the
function, the parameter, what was expected and what arrived, and are never modified.
"""

from .adaptive import beta_split, explore, fit_beta, pairwise_distances, select_even
from .interpolation import INTERPOLATION_METHODS, interpolate, lerp, normalized_lerp, slerp
from .metrics import DISTANCES, adjacent_distances, consistency, gini, pixel_distance, sequence_metrics, smoothness
from .schedules import beta_cdf, beta_quantile, beta_schedule, uniform_schedule

__all__ = [
    "DISTANCES",
    "INTERPOLATION_METHODS",
    "adjacent_distances",
    "beta_cdf",
    "beta_quantile",
    "beta_schedule",
    "beta_split",
    "consistency",
    "explore",
    "fit_beta",
    "gini",
    "interpolate",
    "lerp",
    "normalized_lerp",
    "pairwise_distances",
    "pixel_distance",
    "select_even",
    "sequence_metrics",
    "slerp",
    "smoothness",
    "uniform_schedule",
]
