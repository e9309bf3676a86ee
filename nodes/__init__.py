"""ComfyUI nodes of the pack: thin adapters from ComfyUI types to the ``inbetween`` engine."""

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .adaptive_nodes import AdaptiveBetaSchedule
from .aid_nodes import AIDAttentionPatch
from .attribute_nodes import AlphaBlend, EmbeddingDelta, MultiAttributeBlend
from .conditioning_nodes import AppendConditioningKeyframe, ConditioningInterpolationBatch, KeyframeConditioningBatch
from .delta_library_nodes import LoadEmbeddingDelta, SaveEmbeddingDelta
from .image_condition_nodes import ImageConditionInterpolationBatch
from .image_nodes import ImageGrid
from .latent_nodes import KeyframeLatentBatch, LatentSlide, SharedNoiseLatent, SlerpLatent
from .metrics_nodes import InterpolationMetrics
from .noise_nodes import InterpolatedNoise
from .picture_morph_nodes import (InvertLatent, KeepPictureEnds, KeepPictureKeyframes, PictureMorphAttention,
                                  PictureMorphLatents, PictureStoryLatents)
from .prompt_pair_nodes import EncodeKeyframePrompts, EncodePromptPair
from .schedule_nodes import BetaCoefficientSchedule, KeyframeSchedule
from .share_nodes import AIDCheckGatheredFrames, AIDShareFrames
from .video_morph_nodes import JoinClips, WanClipsFromStills

NODES: list[type[io.ComfyNode]] = [
    BetaCoefficientSchedule,
    ConditioningInterpolationBatch,
    ImageConditionInterpolationBatch,
    SlerpLatent,
    InterpolatedNoise,
    SharedNoiseLatent,
    LatentSlide,
    ImageGrid,
    AIDAttentionPatch,
    EncodePromptPair,
    EmbeddingDelta,
    AlphaBlend,
    MultiAttributeBlend,
    SaveEmbeddingDelta,
    LoadEmbeddingDelta,
    InterpolationMetrics,
    AdaptiveBetaSchedule,
    KeyframeSchedule,
    EncodeKeyframePrompts,
    AppendConditioningKeyframe,
    KeyframeConditioningBatch,
    KeyframeLatentBatch,
    InvertLatent,
    PictureMorphLatents,
    PictureStoryLatents,
    PictureMorphAttention,
    KeepPictureEnds,
    KeepPictureKeyframes,
    AIDShareFrames,
    AIDCheckGatheredFrames,
    WanClipsFromStills,
    JoinClips,
]


class InbetweenExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES


async def comfy_entrypoint() -> InbetweenExtension:
    return InbetweenExtension()
