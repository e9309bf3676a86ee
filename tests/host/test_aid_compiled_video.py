"""ComfyUI's TorchCompileModel (inductor, CPU) on AID-patched Wan and Z-Image models: end clips / frames equal the
compiled plain model bit for bit, two compiled runs are identical, in-betweens equal eager AID within inductor's
reordering of float32 sums, and sampling again compiles nothing.

The host's attention is PyTorch SDPA, set as an attention override on the plain model (Wan and Lumina import
``optimized_attention`` by name, so swapping the module's function would not reach them); AID chains it.
"""

import pytest
import torch

import tiny_models
from aid_support import FRAMES, make_dit_sequence, patch


FAMILIES = {
    "wan21_t2v": pytest.param((lambda: tiny_models.build_wan_model_patcher(seed=0), (16, 2, 8, 8))),
    "z_image": pytest.param((lambda: tiny_models.build_z_image_model_patcher(seed=0), (16, 16, 12)),
                            marks=pytest.mark.skipif("not tiny_models.host_has('ZImage')",
                                                     reason="Z-Image exists from ComfyUI v0.12 on")),
}


def _sample(model, seq):
    import nodes as comfy_nodes

    return comfy_nodes.common_ksampler(model, 5, 4, 4.0, "euler", "simple", seq["positive"], seq["negative"],
                                       seq["latent"])[0]["samples"]


@pytest.mark.parametrize("family", list(FAMILIES.values()), ids=list(FAMILIES))
def test_torch_compile_model_keeps_end_rows_and_repeats(n, family):
    import comfy.ldm.modules.attention as attention
    from comfy_api.torch_helpers import set_torch_compile_wrapper
    from torch._dynamo.utils import counters

    build, shape = family
    model = build()
    model.model_options["transformer_options"]["optimized_attention_override"] = \
        lambda func, *args, **kwargs: attention.attention_pytorch(*args, **kwargs)
    seq = {**make_dit_sequence(n), "latent": {"samples": torch.zeros(FRAMES, *shape), "batch_index": [0] * FRAMES}}

    def compiled(m):
        m = m.clone()
        set_torch_compile_wrapper(model=m, backend="inductor")
        return m

    torch._dynamo.reset()
    patched = patch(n, model, seq["schedule"], end=0.5)
    eager = _sample(patched, seq)
    plain = _sample(compiled(model), seq)
    first = _sample(compiled(patched), seq)
    graphs = counters["stats"]["unique_graphs"]
    second = _sample(compiled(patched), seq)
    assert counters["stats"]["unique_graphs"] == graphs, "sampling again must not recompile"
    torch._dynamo.reset()

    assert torch.equal(first[0], plain[0]) and torch.equal(first[-1], plain[-1])
    assert torch.equal(first, second)
    torch.testing.assert_close(first, eager, rtol=0, atol=1e-4 * eager.abs().max().item())
