"""Host suite: runs against a real ComfyUI checkout named by COMFYUI_PATH (see the README).

Without one, nothing here is collected and the header says why; ``.ci/run`` reports the skip.
"""

import json
import os
from pathlib import Path

import pytest

import comfy_host

try:
    COMFYUI = comfy_host.import_comfy_on_cpu()
    NOT_FOUND = None
except comfy_host.ComfyUINotFound as err:
    COMFYUI, NOT_FOUND = None, str(err)

def _artifacts_folder() -> Path:
    """Generated models, one folder per ComfyUI version: a file one version wrote is never read by another."""
    import comfyui_version

    return Path(__file__).resolve().parent / ".artifacts" / f"comfyui-{comfyui_version.__version__}"


ARTIFACTS = _artifacts_folder() if COMFYUI else None
WORKFLOWS = comfy_host.PACK_DIR / "workflows"


def pytest_report_header(config):
    return f"ComfyUI host: {COMFYUI}" if COMFYUI else f"ComfyUI host: NOT FOUND, host suite skipped ({NOT_FOUND})"


def pytest_ignore_collect(collection_path, config):
    return COMFYUI is None and collection_path.name.startswith("test_")


@pytest.fixture(scope="session")
def pack():
    """This repository imported as a package, the way ComfyUI imports a custom node folder."""
    return comfy_host.load_pack()


@pytest.fixture(scope="session")
def n(pack):
    """The pack's ``nodes`` package (node classes, the AID patch, errors), as ComfyUI loads it."""
    return pack.nodes


@pytest.fixture(scope="session")
def sequence(n, tiny_clip):
    """An AID sequence on the tiny models: cat -> dog, 5 frames, shared noise (see ``aid_support``)."""
    from aid_support import make_sequence

    return make_sequence(n, tiny_clip)


@pytest.fixture
def delta_folder(tmp_path, pack):
    """The pack's embedding_deltas model folder pointed at a fresh ``tmp_path/embedding_deltas``, as
    extra_model_paths.yaml would; restored afterwards."""
    import folder_paths

    folder = pack.nodes.delta_library_nodes.FOLDER
    saved = folder_paths.folder_names_and_paths[folder]
    root = tmp_path / folder
    root.mkdir()
    folder_paths.folder_names_and_paths[folder] = ([str(root)], saved[1])
    folder_paths.filename_list_cache.pop(folder, None)
    try:
        yield root
    finally:
        folder_paths.folder_names_and_paths[folder] = saved
        folder_paths.filename_list_cache.pop(folder, None)


@pytest.fixture(scope="session")
def tiny_model():
    """Random-weight SD1.5-shaped UNet (64 channels, 3 levels) in a real ModelPatcher. Clone before patching."""
    import tiny_models

    return tiny_models.build_sd15_model_patcher(seed=0)


@pytest.fixture(scope="session")
def tiny_clip():
    """Real comfy.sd.CLIP with ComfyUI's bundled SD1 tokenizer and a 2-layer random CLIP-L text model."""
    import tiny_models

    return tiny_models.build_sd1_clip(seed=0)


def _artifact(name: str, write) -> Path:
    """``ARTIFACTS/name``, made by ``write(path)`` on first use (never committed).

    Written under a temporary name first, so a run killed halfway leaves no half-written model behind.
    """
    path = ARTIFACTS / name
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        write(partial)
        partial.replace(path)
    return path


@pytest.fixture(scope="session")
def test_checkpoint():
    """A random-weight SD1.5 checkpoint file."""
    import tiny_models

    return _artifact(tiny_models.TEST_CHECKPOINT_NAME, lambda path: tiny_models.write_test_checkpoint(path, seed=0))


@pytest.fixture(scope="session")
def test_controlnet():
    """A random-weight SD1.5 ControlNet matching the test checkpoint's UNet."""
    import assets

    return _artifact(assets.TEST_CONTROLNET_NAME, lambda path: assets.write_test_controlnet(path, seed=0))


@pytest.fixture(scope="session")
def test_sdxl_checkpoint():
    """A random-weight SDXL-family checkpoint file (reduced UNet, real CLIP-L + CLIP-G)."""
    import tiny_models

    return _artifact(tiny_models.TEST_SDXL_CHECKPOINT_NAME,
                     lambda path: tiny_models.write_test_sdxl_checkpoint(path, seed=0))


@pytest.fixture(scope="session")
def test_sd21_checkpoint():
    """A random-weight SD 2.1 768 (v-prediction) checkpoint file (reduced UNet, real OpenCLIP-H text encoder)."""
    import tiny_models

    return _artifact(tiny_models.TEST_SD21_CHECKPOINT_NAME,
                     lambda path: tiny_models.write_test_sd21_checkpoint(path, seed=0))


@pytest.fixture(scope="session")
def test_checkpoints(test_checkpoint, test_sdxl_checkpoint, test_sd21_checkpoint):
    """Checkpoint names the shipped workflows use -> the test checkpoint of the same model family."""
    return {"v1-5-pruned-emaonly-fp16.safetensors": test_checkpoint, "sd_xl_base_1.0.safetensors": test_sdxl_checkpoint,
            "v2-1_768-ema-pruned.safetensors": test_sd21_checkpoint}


def _test_checkpoint_for(workflow: dict, test_checkpoints: dict) -> str | None:
    names = {node["widgets_values"][0] for node in workflow["nodes"] if node["type"] == "CheckpointLoaderSimple"}
    if names - test_checkpoints.keys() or len(names) > 1:
        raise ValueError(f"workflow checkpoints {sorted(names)}: use one of {sorted(test_checkpoints)} so the host "
                         "suite can substitute the test checkpoint of the same family")
    return test_checkpoints[names.pop()].name if names else None


def _serve(test_checkpoints, test_controlnet, tmp_path_factory, front_end_root=None):
    """ComfyUI started headless on loopback with this pack in custom_nodes and a small picture for every image the
    shipped workflows load; stopped at the end."""
    import assets
    from server import ComfyServer

    base = tmp_path_factory.mktemp("comfy_base")
    assets.write_input_images(base / "input", assets.loaded_images(WORKFLOWS))
    server = ComfyServer(COMFYUI, base, comfy_host.PACK_DIR, sorted(set(test_checkpoints.values())),
                         controlnets=[test_controlnet], front_end_root=front_end_root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def comfy_server(test_checkpoints, test_controlnet, tmp_path_factory):
    """The server with the front end its ComfyUI pins (requirements.txt: 1.37 for v0.12.1, 1.27 for v0.3.64)."""
    yield from _serve(test_checkpoints, test_controlnet, tmp_path_factory)


@pytest.fixture(scope="module")  # started once for the front-end test, stopped after it with what it loaded
def newest_frontend_server(test_checkpoints, test_controlnet, tmp_path_factory):
    """A second server, the same ComfyUI serving the newest front end on the registry (``--front-end-root``): the
    static folder of comfyui-frontend-package named by INBETWEEN_NEWEST_FRONTEND (.ci/run installs the version it
    pins). Tested against ComfyUI v0.12 on only: that front end is written for it (blueprints, the assets panel), and
    a v0.3 user keeps the front end v0.3 pins. Without the folder its cases skip by name, and fail with CI=true."""
    import comfyui_version

    if comfyui_version.__version__.startswith("0.3."):
        pytest.skip(f"newest front end: tested against ComfyUI v0.12 on, not {comfyui_version.__version__}")
    folder = os.environ.get("INBETWEEN_NEWEST_FRONTEND", "")
    if not folder or not (Path(folder) / "index.html").is_file():
        message = (f"newest front end not found: INBETWEEN_NEWEST_FRONTEND={folder!r} is not a front end's static "
                   "folder (comfyui_frontend_package/static, with index.html; .ci/run installs it)")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield from _serve(test_checkpoints, test_controlnet, tmp_path_factory, front_end_root=Path(folder))


@pytest.fixture(scope="session")
def object_info(comfy_server):
    return comfy_server.object_info()


@pytest.fixture(scope="session")
def run_workflow(comfy_server, object_info, test_checkpoints):
    """Run a shipped UI-format workflow as a user would, with the test checkpoint of the workflow's model family
    (SD1.5, SD 2.1 768 or SDXL) and small images."""
    from ui_workflow import ui_to_api

    import assets

    def run(name: str, overrides: dict | None = None, timeout: float = 900.0, edit=None):
        """``edit(prompt)`` may change the API prompt in place before it is posted (e.g. add save nodes)."""
        workflow = json.loads((WORKFLOWS / name).read_text())
        test_overrides = {"ckpt_name": _test_checkpoint_for(workflow, test_checkpoints), "width": 64, "height": 64,
                          "control_net_name": assets.TEST_CONTROLNET_NAME, **(overrides or {})}
        prompt = ui_to_api(workflow, object_info, overrides=test_overrides)
        if edit is not None:
            edit(prompt)
        entry = comfy_server.run_prompt(prompt, timeout=timeout)
        return entry, comfy_server.output_files(entry)

    return run
