"""The model files the workflows name, with the public download address ComfyUI's own templates give for each
(comfyui-workflow-templates 0.1.95; Wan 2.1, Wan 2.2 TI2V 5B and Z-Image Turbo as comfyui-workflow-templates 0.8.31
names them in text_to_video_wan, video_wan2_2_5B_ti2v and image_z_image_turbo; Qwen-Image-Edit-2511 as ComfyUI's
repository of it names it; the PixelSmile LoRA from its authors'; SD 2.1 768 from
Stability AI's repository), so the front end can offer the download of a missing one."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Model:
    name: str
    url: str
    directory: str  # ComfyUI's models/ folder for it

    def as_metadata(self) -> dict:
        """The entry of a loader node's ``properties.models`` the front end reads."""
        return {"name": self.name, "url": self.url, "directory": self.directory}

    def markdown(self) -> str:
        return f"[{self.name}]({self.url}) in `models/{self.directory}/`"


SD15 = Model("v1-5-pruned-emaonly-fp16.safetensors",
             "https://huggingface.co/Comfy-Org/stable-diffusion-v1-5-archive/resolve/main/v1-5-pruned-emaonly-fp16.safetensors",
             "checkpoints")
SDXL = Model("sd_xl_base_1.0.safetensors",
             "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors",
             "checkpoints")
# Stable Diffusion 2.1 768 (v-prediction), the model FreeMorph runs on.
SD21_768 = Model("v2-1_768-ema-pruned.safetensors",
                 "https://huggingface.co/stabilityai/stable-diffusion-2-1/resolve/main/v2-1_768-ema-pruned.safetensors",
                 "checkpoints")
SD15_SCRIBBLE_CONTROLNET = Model(
    "control_v11p_sd15_scribble_fp16.safetensors",
    "https://huggingface.co/comfyanonymous/ControlNet-v1-1_fp16_safetensors/resolve/main/control_v11p_sd15_scribble_fp16.safetensors",
    "controlnet")
QWEN_IMAGE_EDIT = Model(
    "qwen_image_edit_2511_fp8mixed.safetensors",
    "https://huggingface.co/Comfy-Org/Qwen-Image-Edit_ComfyUI/resolve/main/split_files/diffusion_models/qwen_image_edit_2511_fp8mixed.safetensors",
    "diffusion_models")
# PixelSmile's expression LoRA (Apache-2.0), trained on Qwen-Image-Edit-2511, from its authors' repository.
PIXELSMILE_LORA = Model("PixelSmile-preview.safetensors",
                        "https://huggingface.co/PixelSmile/PixelSmile/resolve/main/PixelSmile-preview.safetensors",
                        "loras")
QWEN_TEXT_ENCODER = Model(
    "qwen_2.5_vl_7b_fp8_scaled.safetensors",
    "https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/text_encoders/qwen_2.5_vl_7b_fp8_scaled.safetensors",
    "text_encoders")
QWEN_VAE = Model("qwen_image_vae.safetensors",
                 "https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/vae/qwen_image_vae.safetensors",
                 "vae")
FLUX_DEV = Model("flux1-dev.safetensors",
                 "https://huggingface.co/black-forest-labs/FLUX.1-dev/resolve/main/flux1-dev.safetensors",
                 "diffusion_models")
FLUX_CLIP_L = Model("clip_l.safetensors",
                    "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/clip_l.safetensors",
                    "text_encoders")
FLUX_T5XXL = Model("t5xxl_fp16.safetensors",
                   "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/t5xxl_fp16.safetensors",
                   "text_encoders")
FLUX_VAE = Model("ae.safetensors",
                 "https://huggingface.co/Comfy-Org/Lumina_Image_2.0_Repackaged/resolve/main/split_files/vae/ae.safetensors",
                 "vae")
QWEN_IMAGE = Model(
    "qwen_image_fp8_e4m3fn.safetensors",
    "https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/diffusion_models/qwen_image_fp8_e4m3fn.safetensors",
    "diffusion_models")
SD35_MEDIUM = Model(
    "sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors",
    "https://huggingface.co/Comfy-Org/stable-diffusion-3.5-fp8/resolve/main/sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors",
    "checkpoints")
FLUX_REDUX = Model("flux1-redux-dev.safetensors",
                   "https://huggingface.co/Comfy-Org/Flux1-Redux-Dev/resolve/main/flux1-redux-dev.safetensors",
                   "style_models")
SIGCLIP_VISION = Model(
    "sigclip_vision_patch14_384.safetensors",
    "https://huggingface.co/Comfy-Org/sigclip_vision_384/resolve/main/sigclip_vision_patch14_384.safetensors",
    "clip_vision")

WAN21_REPACK = "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files"
WAN22_REPACK = "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files"
WAN21_T2V_1_3B = Model("wan2.1_t2v_1.3B_fp16.safetensors",
                       f"{WAN21_REPACK}/diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors", "diffusion_models")
WAN_UMT5 = Model("umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                 f"{WAN21_REPACK}/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors", "text_encoders")
WAN21_VAE = Model("wan_2.1_vae.safetensors", f"{WAN21_REPACK}/vae/wan_2.1_vae.safetensors", "vae")
WAN22_TI2V_5B = Model("wan2.2_ti2v_5B_fp16.safetensors",
                      f"{WAN22_REPACK}/diffusion_models/wan2.2_ti2v_5B_fp16.safetensors", "diffusion_models")
WAN22_VAE = Model("wan2.2_vae.safetensors", f"{WAN22_REPACK}/vae/wan2.2_vae.safetensors", "vae")
Z_IMAGE_TURBO = Model(
    "z_image_turbo_bf16.safetensors",
    "https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/diffusion_models/z_image_turbo_bf16.safetensors",
    "diffusion_models")
QWEN3_4B = Model("qwen_3_4b.safetensors",
                 "https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/text_encoders/qwen_3_4b.safetensors",
                 "text_encoders")
# Z-Image decodes with Flux's VAE: the file FLUX_VAE names (ae.safetensors), which Comfy-Org also ships with Z-Image.
# Wan 2.1 FLF2V 14B 720p (first-last-frame) and its CLIP vision (ViT-H), as ComfyUI's Wan first-last-frame guide names
# them; the fp8 file (wan2.1_flf2v_720p_14B_fp8_e4m3fn.safetensors, same folder) halves the weights.
WAN21_FLF2V_14B = Model("wan2.1_flf2v_720p_14B_fp16.safetensors",
                        f"{WAN21_REPACK}/diffusion_models/wan2.1_flf2v_720p_14B_fp16.safetensors", "diffusion_models")
WAN_CLIP_VISION_H = Model("clip_vision_h.safetensors", f"{WAN21_REPACK}/clip_vision/clip_vision_h.safetensors",
                          "clip_vision")
# Wan 2.2 I2V A14B: two experts (high noise for the first steps, low noise for the rest), fp8 as Comfy-Org ships them.
WAN22_I2V_HIGH = Model("wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors",
                       f"{WAN22_REPACK}/diffusion_models/wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors",
                       "diffusion_models")
WAN22_I2V_LOW = Model("wan2.2_i2v_low_noise_14B_fp8_scaled.safetensors",
                      f"{WAN22_REPACK}/diffusion_models/wan2.2_i2v_low_noise_14B_fp8_scaled.safetensors",
                      "diffusion_models")
