#!/usr/bin/env bash
# Lay out in .gpu/ (ignored by git) what benchmarks/gpu_check.py needs on a lent GPU machine, which has Python 3.12,
# PyTorch 2.11 (CUDA 13), torchvision, transformers, einops, scipy and safetensors among its packages, no ComfyUI and
# no network, and receives the working tree plus the carried paths, 64 MiB at most (see docs/development.md,
# "Benchmark: on a GPU", for the one command to run there):
#
#   .gpu/ComfyUI/   the newest ComfyUI snapshot shipped beside the project (../shared/hosts/ComfyUI-*.tar.gz),
#                   extracted, or the archive given as the first argument
#   .gpu/wheels/    Python 3.12 x86-64 wheels of what ComfyUI imports and that machine lacks: PyAV (comfy_api's video
#                   types), comfy-aimdo (imported by comfy.ops and model_management), torchsde (the k-diffusion
#                   samplers) and trampoline (torchsde's). comfy-kitchen is left out: ComfyUI imports it in a
#                   try/except (fp8/fp4 support) and its wheel alone is 68 MB. The versions are those the host
#                   environments of .ci/run resolve from ComfyUI v0.12.1's requirements.
#
# Then it checks what can be checked here: the wheels install with --no-index into a fresh target for Python 3.12 on
# x86-64, and the whole layout with the working tree stays under 64 MiB. With CHECK_PYTHON=/path/to/python (a Python
# with ComfyUI's requirements, e.g. .venv/host-0.12.1/bin/python), it also runs gpu_check.py --tiny from the layout:
# ComfyUI from .gpu/ComfyUI, the wheels installed for that Python into a fresh target, and of that Python's own
# packages only those the GPU machine has (KINDS.md's list), so a missing wheel shows here and not there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LAYOUT="$ROOT/.gpu"
LIMIT=$((64 * 1024 * 1024))
WHEELS=(av==18.1.0 comfy-aimdo==0.6.0 torchsde==0.2.6 trampoline==0.1.2)
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
PYTHON="${PYTHON:-python3}"

archive="${1:-$(find "$ROOT/../shared/hosts" -maxdepth 1 -name 'ComfyUI-*.tar.gz' 2>/dev/null | sort -V | tail -n 1)}"
[ -f "$archive" ] || { echo "no ComfyUI snapshot: give its archive, or ship one in ../shared/hosts/" >&2; exit 1; }
mkdir -p "$LAYOUT"
git check-ignore -q "$LAYOUT/" || { echo ".gpu/ is not ignored by git: it must never be committed" >&2; exit 1; }

echo "==> $archive -> .gpu/ComfyUI"
rm -rf "$LAYOUT/ComfyUI"
tar -xzf "$archive" -C "$LAYOUT"
[ -f "$LAYOUT/ComfyUI/comfy/model_patcher.py" ] || { echo "$archive holds no ComfyUI/ tree" >&2; exit 1; }

echo "==> wheels for Python 3.12, x86-64: ${WHEELS[*]}"
rm -rf "$LAYOUT/wheels" && mkdir -p "$LAYOUT/wheels"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${PLATFORMS[@]}" -d "$LAYOUT/wheels" "${WHEELS[@]}"

echo "==> the wheels install with --no-index into a fresh target (Python 3.12, x86-64)"
target="$(mktemp -d)"
trap 'rm -rf "$target"' EXIT
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --no-compile --only-binary=:all: \
  --python-version 3.12 --implementation cp "${PLATFORMS[@]}" --target "$target/py312" "$LAYOUT"/wheels/*.whl
ls "$target/py312"

# What travels: the files git tracks or would add (untracked, not ignored) and the carried .gpu/.
tree_bytes="$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -n 1 | cut -f1)"
layout_bytes="$(du -sb "$LAYOUT" | cut -f1)"
total=$((tree_bytes + layout_bytes))
echo "==> travels: working tree $((tree_bytes / 1024)) KiB + .gpu $((layout_bytes / 1024)) KiB = $((total / 1048576)) MiB" \
  "(limit 64 MiB)"
[ "$total" -lt "$LIMIT" ] || { echo "over 64 MiB: it would not travel" >&2; exit 1; }

if [ -n "${CHECK_PYTHON:-}" ]; then
  echo "==> gpu_check.py --tiny from the layout with $CHECK_PYTHON, its packages cut to the GPU machine's"
  "$CHECK_PYTHON" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --no-compile \
    --only-binary=:all: --target "$target/here" "$LAYOUT"/wheels/*.whl
  # A folder of links to the packages of CHECK_PYTHON that the GPU machine also has (/work/.library/device/KINDS.md's
  # list, 2026-11-17), so the run sees no more than it would there; python -S keeps the rest of site-packages away.
  "$CHECK_PYTHON" - "$target/gpu-site" <<'PY'
import importlib.metadata as md
import os
import re
import sys

GPU = set("""absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers
flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize
hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib
kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py
markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind
narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc
nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse
nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir
onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging
pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11
py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors
scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham
simplejson six sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore
threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics
torchvision tqdm transformers treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig
werkzeug wheel wrapt xarray xxhash yarl zipp""".split())
normal = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
folder = sys.argv[1]
os.makedirs(folder)
installed = {normal(dist.metadata["Name"]): dist for dist in md.distributions()}
# What the listed packages require there is installed there too: their requirements here (their versions here may
# need others than there) join them, extras left out.
wanted, queue = set(), [name for name in GPU if name in installed]
while queue:
    name = queue.pop()
    if name in wanted or name not in installed:
        continue
    wanted.add(name)
    for requirement in installed[name].requires or ():
        if "extra ==" not in requirement:
            queue.append(normal(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0]))
linked = set()
for dist in (installed[name] for name in sorted(wanted)):
    for file in dist.files or ():
        top = file.parts[0]
        if top in linked or top.endswith(".data") or top == "..":  # its .dist-info too: versions are read
            continue
        source = os.path.join(str(dist.locate_file("")), top)
        if os.path.exists(source):
            os.symlink(source, os.path.join(folder, top))
            linked.add(top)
print(f"{len(linked)} top-level names linked from {len(wanted)} packages: the GPU machine's and their requirements")
PY
  COMFYUI_PATH="$LAYOUT/ComfyUI" PYTHONPATH="$target/here:$target/gpu-site" \
    "$CHECK_PYTHON" -S "$ROOT/benchmarks/gpu_check.py" --tiny --only exact sync
fi
echo "==> ready: .gpu/ComfyUI and .gpu/wheels (carry .gpu)"
