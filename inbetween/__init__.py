"""Engine of ComfyUI-Inbetween: the math of smooth, controllable interpolation, in torch and SciPy.

It knows tensors, not ComfyUI. Every public name of these modules is importable from here:

- ``interpolation``: lerp, variance-preserving normalized lerp and slerp of latents, noise or
  embeddings, per batch row and along a vector of coefficients.
- ``schedules``: those coefficients, evenly spaced or at Beta-distribution quantiles (the Beta
  prior of the AID paper), through ``scipy.stats.beta``.
- ``sequences``: one embedding row per coefficient, optionally with a PAID guide prompt.
- ``keyframes``: sequences through K keyframes (open or looping), a span of in-betweens between each
  two, and the values of every frame.
- ``attributes``: attribute control by embedding arithmetic, ``e_neutral + alpha * delta``, and
  multi-attribute blends.
- ``tokens``: equal token counts for two or more embedding sequences.
- ``translation``: a window sliding from one latent into another.
- ``inversion``: a sampler's deterministic steps walked backwards by fixed-point iteration (the noisy latent that
  regenerates a given one), for any denoiser.
- ``frequency``: FreeMorph's Fourier noise injection, the low frequencies of one latent with the high ones of another.
- ``grid``: a contact sheet of a frame batch.
- ``clips``: video morphs from stills: which stills each clip joins (open or looping), and decoded clips joined into
  one video with each shared boundary frame once.
- ``metrics``: the AID paper's smoothness (1 - Gini of adjacent distances), consistency (mean
  distance) and largest jump of a finished sequence; the morphing papers' distance sum, perceptual
  distance variance and perceptual path length; LPIPS's and AID's input normalisations.
- ``adaptive``: the paper's dynamic selection of coefficients from what a renderer produces
  (Beta-median splits, a least-squares Beta fit by ``scipy.optimize``, the most even choice).
- ``validation`` and ``errors``: the argument checks, and :class:`ArgumentError`, the
  ``ValueError`` every function raises for a value it cannot use, naming the function and the
  argument; a wrong type is a plain ``TypeError``.
- ``aid``: attention interpolation (AID) kernels; import it as ``inbetween.aid``.

Inputs are never modified.
"""

from .adaptive import (
    PARAMETER_RANGE,
    Exploration,
    Progress,
    Render,
    Selection,
    beta_split,
    cumulative_fractions,
    explore,
    fit_beta,
    pairwise_distances,
    select_even,
)
from .attributes import (
    BLEND_STRATEGIES,
    DELTA_DTYPE,
    add_scaled,
    blend,
    blend_factors,
    blended_mask,
    combine,
    embedding_delta,
)
from .clips import clip_pairs, join_clips, joined_length
from .errors import ArgumentError
from .frequency import replace_high_frequencies, window_half_widths
from .grid import image_grid
from .interpolation import INTERPOLATION_METHODS, interpolate, lerp, normalized_lerp, slerp
from .inversion import Denoise, invert, sampled_steps
from .keyframes import (
    KeyframeLayout,
    Span,
    beta_keyframes,
    interpolate_keyframes,
    keyframe_layout,
    span_mean_weights,
    two_endpoints,
)
from .metrics import (
    DISTANCES,
    FREEMORPH_PPL_EPSILON,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Distance,
    Distances,
    adjacent_distances,
    consistency,
    distance_sum,
    gini,
    imagenet_normalized,
    lpips_inputs,
    perceptual_distance_variance,
    perceptual_path_length,
    pixel_distance,
    sequence_metrics,
    smoothness,
)
from .schedules import beta_cdf, beta_quantile, beta_schedule, uniform_schedule
from .sequences import interpolate_sequence
from .tokens import TOKEN_ALIGNMENTS, TokenCountMismatch, align_many, align_tokens
from .translation import TRANSLATION_MODES, offsets_from_coefficients, translate
from .validation import (
    Coefficients,
    check_coefficients,
    check_finite,
    check_frame_count,
    check_int,
    check_integer,
    check_like,
    check_positive,
    check_real,
    check_tensor,
    check_unit_interval,
    describe,
)

__all__ = [
    "ArgumentError",
    "BLEND_STRATEGIES",
    "Coefficients",
    "DELTA_DTYPE",
    "DISTANCES",
    "Denoise",
    "Distance",
    "Distances",
    "Exploration",
    "FREEMORPH_PPL_EPSILON",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INTERPOLATION_METHODS",
    "KeyframeLayout",
    "PARAMETER_RANGE",
    "Progress",
    "Render",
    "Selection",
    "Span",
    "TOKEN_ALIGNMENTS",
    "TRANSLATION_MODES",
    "TokenCountMismatch",
    "add_scaled",
    "adjacent_distances",
    "align_many",
    "align_tokens",
    "beta_cdf",
    "beta_keyframes",
    "beta_quantile",
    "beta_schedule",
    "beta_split",
    "blend",
    "blend_factors",
    "blended_mask",
    "check_coefficients",
    "check_finite",
    "check_frame_count",
    "check_int",
    "check_integer",
    "check_like",
    "check_positive",
    "check_real",
    "check_tensor",
    "check_unit_interval",
    "clip_pairs",
    "combine",
    "consistency",
    "cumulative_fractions",
    "describe",
    "distance_sum",
    "embedding_delta",
    "explore",
    "fit_beta",
    "gini",
    "image_grid",
    "imagenet_normalized",
    "interpolate",
    "interpolate_keyframes",
    "interpolate_sequence",
    "invert",
    "join_clips",
    "joined_length",
    "keyframe_layout",
    "lerp",
    "lpips_inputs",
    "normalized_lerp",
    "offsets_from_coefficients",
    "pairwise_distances",
    "perceptual_distance_variance",
    "perceptual_path_length",
    "pixel_distance",
    "replace_high_frequencies",
    "sampled_steps",
    "select_even",
    "sequence_metrics",
    "slerp",
    "smoothness",
    "span_mean_weights",
    "translate",
    "two_endpoints",
    "uniform_schedule",
    "window_half_widths",
]
