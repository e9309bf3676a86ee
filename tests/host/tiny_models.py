"""Small random-weight models built from configs with ComfyUI's own classes (no downloads).

Layers in ComfyUI are created uninitialised (``comfy.ops.disable_weight_init``), so every builder
here initialises weights with PyTorch's default initialisers from a fixed seed: the same seed
gives the same model, bit for bit.
"""

from pathlib import Path

import torch

TEST_CHECKPOINT_NAME = "inbetween_test_sd15.safetensors"


def init_random_(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Run torch.nn's own ``reset_parameters`` on every layer that has one, deterministically.

    Parameters of ComfyUI's own layers that torch.nn does not know (the RMSNorm scales of Flux and
    SD3.5) would stay uninitialised memory: 1-D ones (norm scales) become 1, others N(0, 0.02).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for layer in module.modules():
            for cls in type(layer).__mro__:
                if cls.__module__.startswith("torch.nn") and "reset_parameters" in cls.__dict__:
                    cls.reset_parameters(layer)
                    break
            else:
                with torch.no_grad():
                    for parameter in layer.parameters(recurse=False):
                        if parameter.dim() == 1:
                            parameter.fill_(1.0)
                        else:
                            parameter.normal_(0.0, 0.02)
    return module


def sd15_unet_config(model_channels: int = 64, channel_mult=(1, 2, 4), context_dim: int = 768) -> dict:
    """An SD1.5-shaped UNet config (as ComfyUI's model detection writes it), one res block and one
    transformer per level. ``model_channels=320`` with ``context_dim=768`` is detected as SD1.5."""
    levels = len(channel_mult)
    return {
        "use_checkpoint": False,
        "image_size": 32,
        "use_spatial_transformer": True,
        "legacy": False,
        "adm_in_channels": None,
        "in_channels": 4,
        "out_channels": 4,
        "model_channels": model_channels,
        "num_res_blocks": [1] * levels,
        "transformer_depth": [1] * levels,
        "transformer_depth_output": [1] * (2 * levels),
        "channel_mult": list(channel_mult),
        "transformer_depth_middle": 1,
        "use_linear_in_transformer": False,
        "context_dim": context_dim,
        "use_temporal_resblock": False,
        "use_temporal_attention": False,
    }


def build_sd15_model_patcher(seed: int = 0, dtype: torch.dtype = torch.float32, **config):
    """A random-weight SD1.5-type model (``comfy.supported_models.SD15``) in a real ModelPatcher."""
    import comfy.supported_models

    return model_patcher(comfy.supported_models.SD15(sd15_unet_config(**config)), seed, dtype)


def sd2_unet_config(model_channels: int = 64, channel_mult=(1, 2, 2), context_dim: int = 1024) -> dict:
    """An SD2.x-shaped UNet config (as ComfyUI's model detection writes it): linear transformer projections, one res
    block per level, transformers on every level but the last (SD 2.x: on 3 of 4), a middle transformer, and SD 2.x's
    1024-wide context. ``comfy.supported_models.SD20`` adds heads of 64 channels, so 64 and 128 channels give 1 and
    2 heads."""
    levels = len(channel_mult)
    return {**sd15_unet_config(model_channels, channel_mult, context_dim),
            "transformer_depth": [1] * (levels - 1) + [0],
            "transformer_depth_output": [1] * (2 * (levels - 1)) + [0, 0],
            "use_linear_in_transformer": True}


def build_sd2_model_patcher(seed: int = 0, dtype: torch.dtype = torch.float32, v_prediction: bool = False,
                            **config):
    """A random-weight SD2.x-type model (``comfy.supported_models.SD20``) in a real ModelPatcher, eps- or
    v-prediction as asked: SD20 guesses the type from a real checkpoint's weights, which a random model has not."""
    import comfy.model_base
    import comfy.supported_models

    model_config = comfy.supported_models.SD20(sd2_unet_config(**config))
    model_type = comfy.model_base.ModelType.V_PREDICTION if v_prediction else comfy.model_base.ModelType.EPS
    model_config.model_type = lambda state_dict, prefix="": model_type
    return model_patcher(model_config, seed, dtype)


def build_sd1_clip(seed: int = 0, layers: int | None = 2):
    """A real ``comfy.sd.CLIP`` (SD1 tokenizer bundled with ComfyUI, CLIP-L text model classes).

    ``layers`` shrinks the text transformer for fast in-process tests; ``None`` keeps CLIP-L's
    full config, which a checkpoint needs so that ComfyUI's loader accepts its weights.
    """
    import comfy.sd
    import comfy.sd1_clip
    import comfy.supported_models_base

    model_options = {}
    if layers is not None:
        model_options["clip_l_model_config"] = {"num_hidden_layers": layers, "intermediate_size": 512}
    target = comfy.supported_models_base.ClipTarget(comfy.sd1_clip.SD1Tokenizer, comfy.sd1_clip.SD1ClipModel)
    clip = comfy.sd.CLIP(target, model_options={**model_options, "dtype": torch.float32})
    init_random_(clip.cond_stage_model, seed)
    return clip


def build_sd_vae(seed: int = 0):
    """The SD1.x AutoencoderKL shape ComfyUI detects from a state dict, with random weights."""
    import comfy.sd
    from comfy.ldm.models.autoencoder import AutoencoderKL

    ddconfig = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
                "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}
    autoencoder = init_random_(AutoencoderKL(ddconfig=ddconfig, embed_dim=4), seed)
    return comfy.sd.VAE(sd=autoencoder.state_dict())


def write_test_checkpoint(path: Path, seed: int = 0) -> Path:
    """Save a random-weight checkpoint that ``CheckpointLoaderSimple`` loads and detects as SD1.5.

    Its UNet is reduced (320 model channels, two levels), its CLIP-L and VAE have their real shapes.
    Written in fp16 to keep the file small; generated at test time, never committed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = build_sd15_model_patcher(seed=seed, model_channels=320, channel_mult=(1, 2))
    save_checkpoint(path, model.model, build_sd1_clip(seed=seed + 1, layers=None), build_sd_vae(seed=seed + 2), seed)
    return path


def save_checkpoint(path: Path, model, clip, vae, seed: int) -> None:
    """A single-file checkpoint of ``model`` (a ``model_base.BaseModel``), its CLIP and VAE, in fp16, with each
    part's keys as the model's config names them for saving: what CheckpointLoaderSimple reads.

    Not ``comfy.sd.save_checkpoint``: in ComfyUI v0.12.1 its ModelPatcher path drops the CLIP and VAE state dicts
    (``ModelPatcher.state_dict_for_saving`` does not pass them on), and the file loads without a text encoder.
    """
    import comfy.utils

    config = model.model_config
    parts = [config.process_unet_state_dict_for_saving(model.diffusion_model.state_dict()),
             config.process_clip_state_dict_for_saving(clip.get_sd()),
             config.process_vae_state_dict_for_saving(vae.get_sd())]
    tensors = {key: (value.half() if value.is_floating_point() else value).contiguous()
               for part in parts for key, value in part.items()}
    comfy.utils.save_torch_file(tensors, str(path), metadata={"inbetween_test_seed": str(seed)})


TEST_SDXL_CHECKPOINT_NAME = "inbetween_test_sdxl.safetensors"


def sdxl_unet_config() -> dict:
    """A reduced SDXL UNet as ComfyUI's model detection writes it: SDXL's 320 model channels, 2048-wide
    context, 2816-wide ADM (pooled CLIP-G + size embeddings) and linear transformer projections, with
    every level at 320 channels and Segmind-Vega's transformer depths (the smallest SDXL family layout)."""
    return {
        "use_checkpoint": False,
        "image_size": 32,
        "use_spatial_transformer": True,
        "legacy": False,
        "num_classes": "sequential",
        "adm_in_channels": 2816,
        "in_channels": 4,
        "out_channels": 4,
        "model_channels": 320,
        "num_res_blocks": [2, 2, 2],
        "transformer_depth": [0, 0, 1, 1, 2, 2],
        "transformer_depth_output": [0, 0, 0, 1, 1, 1, 2, 2, 2],
        "channel_mult": [1, 1, 1],
        "transformer_depth_middle": 1,
        "use_linear_in_transformer": True,
        "context_dim": 2048,
        "num_head_channels": 64,
        "use_temporal_resblock": False,
        "use_temporal_attention": False,
    }


def write_test_sdxl_checkpoint(path: Path, seed: int = 0) -> Path:
    """Save a random-weight checkpoint that ``CheckpointLoaderSimple`` loads as an SDXL-family model
    (``model_base.SDXL`` with SDXL's CLIP-L + CLIP-G), fp16, about 2 GB; generated at test time."""
    import comfy.supported_models

    return _write_family_checkpoint(path, comfy.supported_models.SDXL(sdxl_unet_config()), seed)


def _write_family_checkpoint(path: Path, model_config, seed: int, adjust=None) -> Path:
    """A random-weight checkpoint of ``model_config`` (a ``supported_models`` config) with the text encoders its
    ``clip_target`` names at their real shapes and the SD VAE; ``adjust(state_dict)`` edits the UNet's weights
    in place before saving."""
    import comfy.sd

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model_config.set_inference_dtype(torch.float32, None)
    model = model_config.get_model({})
    init_random_(model.diffusion_model, seed)
    if adjust is not None:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            adjust(model.diffusion_model.state_dict(keep_vars=True))
    clip = comfy.sd.CLIP(model_config.clip_target(), model_options={"dtype": torch.float32})
    init_random_(clip.cond_stage_model, seed + 1)
    save_checkpoint(path, model, clip, build_sd_vae(seed=seed + 2), seed)
    return path


TEST_SD21_CHECKPOINT_NAME = "inbetween_test_sd21_v.safetensors"
# SD20.model_type reads v-prediction from this LayerNorm bias's spread (std > 0.09); a fresh LayerNorm's is 0.
SD2_V_MARKER = "output_blocks.11.1.transformer_blocks.0.norm1.bias"


def sd21_unet_config() -> dict:
    """A reduced SD 2.x UNet that ComfyUI's detection takes for SD 2.x (320 model channels, 1024-wide context, linear
    projections): SD 2.x's four levels of two res blocks, 320 channels on every level, transformers on the first three
    (so output block 11, where the v-prediction marker sits, has one)."""
    return {**sd15_unet_config(320, (1, 1, 1, 1), 1024), "num_res_blocks": [2] * 4,
            "transformer_depth": [1] * 6 + [0] * 2, "transformer_depth_output": [1] * 9 + [0] * 3,
            "use_linear_in_transformer": True}


def write_test_sd21_checkpoint(path: Path, seed: int = 0) -> Path:
    """Save a random-weight checkpoint that ``CheckpointLoaderSimple`` loads as SD 2.1 768: ``SD20`` detected from
    the UNet's keys, v-prediction from the marker bias (drawn with std 0.2), OpenCLIP-H as its text encoder at its
    real shape; fp16, about 1.1 GB; generated at test time."""
    import comfy.supported_models

    def mark_v_prediction(state_dict):
        state_dict[SD2_V_MARKER].normal_(0.0, 0.2)

    return _write_family_checkpoint(path, comfy.supported_models.SD20(sd21_unet_config()), seed, mark_v_prediction)


def tiny_clip_vision_config() -> dict:
    """A CLIP-ViT config shaped like ComfyUI's clip_vision_config_vitl.json, but 2 layers of width 64 on 32 px."""
    return {"attention_dropout": 0.0, "dropout": 0.0, "hidden_act": "quick_gelu", "hidden_size": 64, "image_size": 32,
            "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 128, "layer_norm_eps": 1e-05,
            "model_type": "clip_vision_model", "num_attention_heads": 4, "num_channels": 3, "num_hidden_layers": 2,
            "patch_size": 8, "projection_dim": 32, "torch_dtype": "float32"}


def build_clip_vision(config_path: Path, seed: int = 0, **config):
    """A real ``comfy.clip_vision.ClipVisionModel`` (what Load CLIP Vision returns) with random weights.

    ``config_path`` is where the config JSON is written: ComfyUI's class reads its config from a file.
    ``config`` overrides entries of :func:`tiny_clip_vision_config` (another width or patch size makes
    another CLIP vision model).
    """
    import json

    import comfy.clip_vision

    config_path = Path(config_path)
    config_path.write_text(json.dumps({**tiny_clip_vision_config(), **config}))
    clip_vision = comfy.clip_vision.ClipVisionModel(str(config_path))
    init_random_(clip_vision.model, seed)
    # The class token is a bare Parameter made with torch.empty; no reset_parameters reaches it.
    embeddings = clip_vision.model.vision_model.embeddings
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        embeddings.class_embedding.normal_()
    return clip_vision


def build_redux_style_model(seed: int = 0, vision_width: int = 64, context: int | None = None):
    """A random-weight Flux Redux style model (``comfy.ldm.flux.redux.ReduxImageEncoder`` in ``comfy.sd.StyleModel``,
    what Load Style Model returns), reading CLIP vision tokens of ``vision_width`` (the tiny CLIP vision's 64; real
    Redux: SigLIP's 1152) and making tokens of the tiny transformers' ``TINY_CONTEXT`` (real: T5-XXL's 4096)."""
    import comfy.ldm.flux.redux
    import comfy.sd

    encoder = comfy.ldm.flux.redux.ReduxImageEncoder(redux_dim=vision_width, txt_in_features=context or TINY_CONTEXT)
    return comfy.sd.StyleModel(init_random_(encoder, seed).requires_grad_(False))


def host_has(model_class: str) -> bool:
    """Whether the ComfyUI imported knows a model family (``comfy.supported_models.<model_class>``): Z-Image and
    Flux 2 exist from v0.12 on, so what builds them skips by this name on older hosts."""
    import comfy.supported_models

    return hasattr(comfy.supported_models, model_class)


def model_patcher(model_config, seed: int, dtype: torch.dtype, device: torch.device | None = None):
    """A random-weight model of a ``supported_models`` config in a real ModelPatcher. ``device``: where its weights
    are made and drawn (default the CPU); a real-size model is made on the GPU that runs it, where drawing billions
    of weights takes a moment rather than minutes on the CPU."""
    import comfy.model_management
    import comfy.model_patcher

    model_config.set_inference_dtype(dtype, None)
    model = model_config.get_model({}, device=device)
    init_random_(model.diffusion_model, seed)
    model.diffusion_model.to(dtype)
    model.diffusion_model.eval()
    device = comfy.model_management.get_torch_device()
    return comfy.model_patcher.ModelPatcher(model, load_device=device, offload_device=device)


def build_small_sdxl_model_patcher(seed: int = 0, dtype: torch.dtype = torch.float32):
    """A random-weight ``model_base.SDXL`` with SDXL's layout in small: linear transformer projections, blocks of
    one and of two transformers (so ``(block, number, index)`` keys with index 1 exist), 2816-wide ADM input."""
    import comfy.supported_models

    config = {"use_checkpoint": False, "image_size": 32, "use_spatial_transformer": True, "legacy": False,
              "num_classes": "sequential", "adm_in_channels": 2816, "in_channels": 4, "out_channels": 4,
              "model_channels": 64, "num_res_blocks": [1, 1], "transformer_depth": [1, 2],
              "transformer_depth_output": [1, 1, 2, 2], "channel_mult": [1, 2], "transformer_depth_middle": 2,
              "use_linear_in_transformer": True, "context_dim": 64,
              "use_temporal_resblock": False, "use_temporal_attention": False}
    return model_patcher(comfy.supported_models.SDXL(config), seed, dtype)


def detected_model_patcher(keys: dict[str, tuple], seed: int = 0, dtype: torch.dtype = torch.float32,
                           device: torch.device | None = None, **small):
    """A random-weight model of the family ComfyUI's model detection finds in a state dict with ``keys`` (key ->
    shape: the keys and shapes detection reads), in a real ModelPatcher.

    Detection writes the model's whole config, so a field a later ComfyUI adds (Flux's ``txt_ids_dims`` in v0.12)
    is filled in by ComfyUI itself; ``small`` then shrinks the dimensions detection takes as the real model's
    (Qwen-Image's width, Flux's rotary axes) to test size. The config class is the one detection matches.
    """
    import comfy.model_detection

    state_dict = {key: torch.empty(shape, device="meta") for key, shape in keys.items()}
    unet_config = comfy.model_detection.detect_unet_config(state_dict, "")
    if unet_config is None:
        raise RuntimeError(f"ComfyUI's model detection found no model in the keys {sorted(keys)}")
    model_config = comfy.model_detection.model_config_from_unet_config({**unet_config, **small}, state_dict)
    if model_config is None:
        raise RuntimeError(f"ComfyUI's model detection matched no supported model for {unet_config}")
    return model_patcher(model_config, seed, dtype, device)


def _blocks(prefix: str, count: int, suffix: str, shape: tuple) -> dict[str, tuple]:
    return {f"{prefix}.{i}.{suffix}": shape for i in range(count)}


# Token widths of the tiny transformers' conditionings (the real ones: Flux T5 4096 / CLIP-L 768,
# Qwen2.5-VL 3584, SD3 4096 / 2048): the pack only cares about shapes, not widths.
TINY_CONTEXT, TINY_POOLED = 32, 24


def build_flux_model_patcher(seed: int = 0, dtype: torch.dtype = torch.float32, hidden: int = 64, head: int = 32,
                             axes_dim=(8, 12, 12), mlp_ratio: float = 2.0, double: int = 2, single: int = 2,
                             context: int = TINY_CONTEXT, pooled: int = TINY_POOLED,
                             device: torch.device | None = None):
    """A random-weight Flux-dev-type model with a guidance embedding: by default 2 double and 2 single blocks, 2 heads
    of 32. The benchmarks build wider ones (heads of 64 and 128, Flux's own 3072 at reduced depth) the same way, so
    every Flux here gets the config ComfyUI's detection writes (``txt_ids_dims`` from v0.12 on). ``axes_dim``: the
    rotary axes, summing to ``head`` (Flux: 16, 56, 56 of 128)."""
    keys = {"img_in.weight": (hidden, 16 * 4), "txt_in.weight": (hidden, context),
            "vector_in.in_layer.weight": (hidden, pooled), "guidance_in.in_layer.weight": (hidden, 256),
            **_blocks("double_blocks", double, "img_attn.norm.key_norm.scale", (head,)),
            **_blocks("single_blocks", single, "norm.key_norm.scale", (head,))}
    assert sum(axes_dim) == head, "the rotary axes split a head"
    return detected_model_patcher(keys, seed, dtype, device, hidden_size=hidden, num_heads=hidden // head,
                                  axes_dim=list(axes_dim), mlp_ratio=mlp_ratio, context_in_dim=context)


def build_qwen_image_model_patcher(seed: int = 0, dtype: torch.dtype = torch.float32):
    """A random-weight Qwen-Image-type model: 2 blocks, 2 heads of 32."""
    keys = {"txt_norm.weight": (TINY_CONTEXT,), "img_in.weight": (64, 64),
            **_blocks("transformer_blocks", 2, "attn.to_q.weight", (64, 64))}
    return detected_model_patcher(keys, seed, dtype, attention_head_dim=32, num_attention_heads=2,
                                  joint_attention_dim=TINY_CONTEXT, axes_dims_rope=(8, 12, 12))


def build_sd3_model_patcher(seed: int = 0, dtype: torch.dtype = torch.float32, mmdit_x: bool = False):
    """A random-weight SD3-type MMDiT (2 blocks, 2 heads of 64); ``mmdit_x`` gives block 0 SD3.5's second,
    image-only attention."""
    hidden = 2 * 64  # detection reads the depth (and heads) as the width over 64
    keys = {"x_embedder.proj.weight": (hidden, 16, 2, 2), "final_layer.linear.weight": (2 * 2 * 16, hidden),
            "y_embedder.mlp.0.weight": (hidden, TINY_POOLED), "context_embedder.weight": (hidden, TINY_CONTEXT),
            "pos_embed": (1, 256, hidden), **_blocks("joint_blocks", 2, "context_block.attn.qkv.weight", (3 * hidden, hidden))}
    if mmdit_x:
        keys.update({"joint_blocks.0.context_block.attn.ln_q.weight": (64,),
                     "joint_blocks.0.x_block.attn2.qkv.weight": (3 * hidden, hidden)})
    patcher = detected_model_patcher(keys, seed, dtype)
    # The position embedding is a buffer made with torch.empty (checkpoints fill it): without this it holds
    # whatever memory it got, sometimes NaN.
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        patcher.model.diffusion_model.pos_embed.normal_(0.0, 0.02)
    return patcher


def _flux_keys(hidden: int, image_in: int, single: str = "norm.key_norm.scale") -> dict[str, tuple]:
    """The keys detection reads from every Flux-type model: 2 double and 2 single blocks, text in, image in."""
    return {"img_in.weight": (hidden, image_in), "txt_in.weight": (hidden, TINY_CONTEXT),
            **_blocks("double_blocks", 2, "img_attn.norm.key_norm.scale", (32,)),
            **_blocks("single_blocks", 2, single, (32,))}


def build_flux2_model_patcher(seed: int = 0, dtype: torch.dtype = torch.float32, klein: bool = False):
    """A random-weight Flux 2 model (ComfyUI v0.12 on): 128-channel latents at 1/16, global modulation, no pooled
    vector; dev has a guidance embedding, ``klein`` none. 2 double and 2 single blocks, 2 heads of 32."""
    hidden = 64
    keys = {**_flux_keys(hidden, 128), "double_stream_modulation_img.lin.weight": (6 * hidden, hidden)}
    if not klein:
        keys["guidance_in.in_layer.weight"] = (hidden, 256)
    return detected_model_patcher(keys, seed, dtype, num_heads=2, axes_dim=[8, 8, 8, 8], mlp_ratio=2.0)


def build_chroma_model_patcher(seed: int = 0, dtype: torch.dtype = torch.float32, radiance: bool = False):
    """A random-weight Chroma (Flux's blocks, modulations from a small approximator instead of a pooled vector);
    ``radiance``: Chroma Radiance, which works on pixels (16x16 patches) instead of a VAE's latent."""
    hidden = 64
    keys = {**_flux_keys(hidden, 64), "distilled_guidance_layer.norms.0.scale": (32,)}
    if radiance:
        keys.update({"nerf_blocks.0.norm.scale": (64,), "img_in_patch.weight": (hidden, 3, 16, 16)})
        del keys["img_in.weight"]
    return detected_model_patcher(keys, seed, dtype, hidden_size=hidden, num_heads=2, axes_dim=[8, 12, 12],
                                  mlp_ratio=2.0, context_in_dim=TINY_CONTEXT, out_dim=hidden, hidden_dim=32,
                                  n_layers=1)


def shrunk_model_patcher(keys: dict[str, tuple], seed: int = 0, dtype: torch.dtype = torch.float32, **small):
    """As :func:`detected_model_patcher`, but the config class is matched on the config detection writes for the
    real keys, and only then shrunk: families told apart by their width (Z-Image is Lumina 2 at width 3840) keep
    their class (sampling shift, dtypes) at test size."""
    import comfy.model_detection

    state_dict = {key: torch.empty(shape, device="meta") for key, shape in keys.items()}
    unet_config = comfy.model_detection.detect_unet_config(state_dict, "")
    model_config = comfy.model_detection.model_config_from_unet_config(unet_config, state_dict)
    if model_config is None:
        raise RuntimeError(f"ComfyUI's model detection matched no supported model for {unet_config}")
    model_config.unet_config.update(small)
    return model_patcher(model_config, seed, dtype)


def build_z_image_model_patcher(seed: int = 0, dtype: torch.dtype = torch.float32, layers: int = 2):
    """A random-weight Z-Image (ComfyUI v0.12 on: ``comfy.supported_models.ZImage``, Lumina 2's NextDiT with Z-Image
    modulation and pad tokens): ``layers`` main layers, one context and one noise refiner layer, 8 heads of 32
    (width 256: Z-Image's modulation reads a 256-wide timestep embedding, so no narrower model builds).
    Caption and image tokens are padded to multiples of 32, as in the real model."""
    keys = {"cap_embedder.1.weight": (3840, TINY_CONTEXT), "cap_pad_token": (1, 3840),
            **_blocks("layers", layers, "ffn_norm1.weight", (3840,))}
    return shrunk_model_patcher(keys, seed, dtype, dim=256, n_heads=8, n_kv_heads=8, axes_dims=[8, 12, 12],
                                n_refiner_layers=1, multiple_of=32)


def wan_keys(hidden: int = 64, channels: int = 16, layers: int = 2, i2v: bool = False, extra: dict | None = None):
    """The keys Wan's detection reads: ``channels``-channel latents in and out (Wan 2.2 TI2V 5B: 48), ``layers``
    blocks; ``i2v``: the CLIP image projection of Wan 2.1 I2V (36 channels in: latent, mask, start image)."""
    keys = {"head.modulation": (1, 2, hidden), "head.head.weight": (channels * 4, hidden),
            "patch_embedding.weight": (hidden, 36 if i2v else channels, 1, 2, 2),
            **_blocks("blocks", layers, "ffn.0.weight", (2 * hidden, hidden))}
    if i2v:
        keys["img_emb.proj.0.bias"] = (1280,)
    return {**keys, **(extra or {})}


def build_wan_model_patcher(seed: int = 0, dtype: torch.dtype = torch.float32, **keys):
    """A random-weight Wan model through detection (:func:`wan_keys`): width 64, 2 heads of 32, text tokens of
    ``TINY_CONTEXT`` (real: umT5's 4096); I2V reads 1280-wide CLIP vision tokens as the real one does."""
    return detected_model_patcher(wan_keys(**keys), seed, dtype, num_heads=2, text_dim=TINY_CONTEXT)


def build_wan_clip_vision(config_path: Path, seed: int = 0):
    """A CLIP vision model whose hidden states are 1280 wide (Wan I2V's CLIP-H width), 2 layers on 32 px pictures
    in 8 px patches: 17 tokens."""
    return build_clip_vision(config_path, seed, hidden_size=1280, intermediate_size=256, num_attention_heads=8,
                             projection_dim=32)


def build_wan_flf2v_model_patcher(seed: int = 0, image_tokens: int = 17, dtype: torch.dtype = torch.float32):
    """Wan 2.1 FLF2V as detection finds it: the I2V model (:func:`wan_keys` with ``i2v``) with the learnt positions of
    both ends' CLIP image tokens (``img_emb.emb_pos``, 2 x ``image_tokens``: the tiny CLIP vision model's 17 each;
    the real one 2 x 257)."""
    return build_wan_model_patcher(seed, dtype, i2v=True, extra={"img_emb.emb_pos": (1, 2 * image_tokens, 1280)})


def build_wan_vae(seed: int = 0):
    """Wan 2.1's VAE (16-channel latents, 8x spatial and 4x temporal compression) with random weights, loaded by
    ``comfy.sd.VAE`` from its state dict as Load VAE loads it. Width 16 where ComfyUI reads the width from the
    weights (v0.12), else the real model's 96, which older versions (v0.3.64) fix."""
    import inspect

    import comfy.sd
    from comfy.ldm.wan.vae import WanVAE

    dim = 16 if "decoder.head.0.gamma" in inspect.getsource(comfy.sd.VAE.__init__) else 96
    model = WanVAE(dim=dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                   temperal_downsample=[False, True, True], dropout=0.0)
    return comfy.sd.VAE(sd=init_random_(model, seed).state_dict())
