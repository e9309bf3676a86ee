"""The API prompt of a frame-share sequence on the test checkpoint, for the server tests and the distributed
benchmark (``benchmarks/distributed.py``)."""


def sequence_prompt(checkpoint: str, prefix: str, share_index, share_count: int, collect: bool = False,
                    frames: int = 13, max_rows: int = 4, steps: int = 2, size: int = 64) -> dict:
    """The API prompt: cat -> dog over ``frames`` frames with AID in parts of ``max_rows`` rows; the share's frames (AID
    Share Frames) decoded and saved, through DistributedCollector and AID Check Gathered Frames with ``collect``.
    ``share_index`` is a number or a link (``["seed", 0]``: DistributedSeed)."""
    prompt = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
        "a": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": "a photo of a cat"}},
        "b": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": "a photo of a dog"}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": "blurry"}},
        "schedule": {"class_type": "InbetweenBetaCoefficientSchedule",
                     "inputs": {"frames": frames, "preset": "uniform", "steps": 20, "alpha": 2.0, "beta": 2.0,
                                "start": 0.0, "end": 1.0}},
        "cond": {"class_type": "InbetweenConditioningInterpolationBatch",
                 "inputs": {"conditioning_a": ["a", 0], "conditioning_b": ["b", 0], "schedule": ["schedule", 0],
                            "method": "lerp", "token_alignment": "error"}},
        "latent": {"class_type": "InbetweenSharedNoiseLatent",
                   "inputs": {"width": size, "height": size, "frames": 1, "schedule": ["schedule", 0]}},
        "aid": {"class_type": "InbetweenAIDAttentionPatch",
                "inputs": {"model": ["ckpt", 0], "schedule": ["schedule", 0], "mode": "outer", "fused": True,
                           "layers": "self + cross", "start_percent": 0.0, "end_percent": 0.5,
                           "apply_to_uncond": False, "max_rows": max_rows, "share_index": share_index,
                           "share_count": share_count}},
        "sampler": {"class_type": "KSampler",
                    "inputs": {"model": ["aid", 0], "seed": 11, "steps": steps, "cfg": 5.0, "sampler_name": "euler",
                               "scheduler": "normal", "positive": ["cond", 0], "negative": ["neg", 0],
                               "latent_image": ["latent", 0], "denoise": 1.0}},
        "share": {"class_type": "InbetweenAIDShareFrames", "inputs": {"model": ["aid", 0], "samples": ["sampler", 0]}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["share", 0], "vae": ["ckpt", 2]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["decode", 0], "filename_prefix": prefix}},
    }
    if collect:
        prompt["seed"] = {"class_type": "DistributedSeed", "inputs": {"seed": 0}}
        prompt["collector"] = {"class_type": "DistributedCollector",
                               "inputs": {"images": ["decode", 0], "load_balance": False}}
        prompt["check"] = {"class_type": "InbetweenAIDCheckGatheredFrames",
                           "inputs": {"images": ["collector", 0], "model": ["aid", 0], "pictures_per_frame": 1}}
        prompt["save"]["inputs"]["images"] = ["check", 0]
    return prompt
