"""Frame shares across real ComfyUI servers on loopback: a 9-frame AID sequence on the test checkpoint (64x64, two
steps, ``max_rows`` 4: A alone, in-between parts [1-4] and [5-7], B alone; with cfg two frames a part), sampled whole
by the reference server and in two shares by two more servers, each with its own base folder; then through
ComfyUI-Distributed itself: a master and a local worker, each with its own copy of the pack, one ``POST
/distributed/queue``, the master's saved frames against the reference's.

Pictures are compared as saved (8-bit PNGs: what DistributedCollector carries from a worker to the master). The
Distributed test is skipped by name when its snapshot (``../shared/packs/``) is absent.
"""

import json
import tarfile
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

import comfy_host
from conftest import WORKFLOWS
from server import ComfyServer
from share_prompts import sequence_prompt
from ui_workflow import ui_to_api

DISTRIBUTED = comfy_host.PACK_DIR.parent / "shared" / "packs" / "ComfyUI-Distributed-v1.4.4.tar.gz"
FRAMES, SHARES = 9, 2  # share_prompts' sequence: max_rows 4
WORKER_ID = "loopback"


def saved_frames(server: ComfyServer, entry: dict) -> np.ndarray:
    files = sorted(path for path in server.output_files(entry) if path.suffix == ".png")
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])


@pytest.fixture(scope="module")
def reference(comfy_server, test_checkpoint):
    entry = comfy_server.run_prompt(sequence_prompt(test_checkpoint.name, "shares_reference", 0, 1, frames=FRAMES))
    frames = saved_frames(comfy_server, entry)
    assert frames.shape == (FRAMES, 64, 64, 3)
    return frames


def _server(base, test_checkpoint, distributed: bool) -> ComfyServer:
    """A ComfyUI server of its own (base folder, port), with this pack and, with ``distributed``, its own copy of
    ComfyUI-Distributed (the pack keeps its worker list in its own folder).

    Its OpenMP threads wait passively: the master and the worker sample at once on this one machine, and threads that
    spin while they wait take the cores the other server's threads need (on two cores a sampling step of the Distributed
    run took 5-6 s, of either share alone under 1 s). The wait policy changes neither the thread count nor any
    result."""
    if distributed:
        with tarfile.open(DISTRIBUTED) as archive:
            archive.extractall(base / "custom_nodes", filter="data")
    return ComfyServer(comfy_host.comfyui_path(), base, comfy_host.PACK_DIR, [test_checkpoint],
                       env={"OMP_WAIT_POLICY": "PASSIVE"})


@pytest.fixture(scope="module")
def participants(tmp_path_factory, test_checkpoint):
    """Two servers, master and worker: ComfyUI-Distributed installed in each where its snapshot is here, the
    master's worker list naming the worker on loopback. Started at once (two processes: nothing shared but the
    checkout and the pack) and both stopped however either start ends."""
    distributed = DISTRIBUTED.is_file()
    worker = _server(tmp_path_factory.mktemp("worker"), test_checkpoint, distributed)
    master = _server(tmp_path_factory.mktemp("master"), test_checkpoint, distributed)
    if distributed:
        config = {"master": {"host": "127.0.0.1"},
                  "workers": [{"id": WORKER_ID, "name": WORKER_ID, "host": "127.0.0.1", "port": worker.port,
                               "enabled": True, "type": "remote"}],
                  "settings": {"auto_launch_workers": False, "stop_workers_on_master_exit": False}}
        folder = master.base_dir / "custom_nodes" / "ComfyUI-Distributed"
        (folder / "gpu_config.json").write_text(json.dumps(config))
    servers = (worker, master)
    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            for started in [pool.submit(server.start) for server in servers]:
                started.result()
        yield master, worker
    finally:
        for server in servers:
            server.stop()


def test_two_share_servers_give_the_reference_frames(participants, reference, test_checkpoint):
    """Share 0 on one server, share 1 on another: their saved frames, one after the other, are the reference's."""
    gathered = []
    for index, server in enumerate(participants):
        entry = server.run_prompt(sequence_prompt(test_checkpoint.name, f"share_{index}", index, SHARES, frames=FRAMES))
        gathered.append(saved_frames(server, entry))
    assert [len(frames) for frames in gathered] == [5, 4], "frames 0-4 and 5-8 (B and A computed besides)"
    assert np.array_equal(np.concatenate(gathered), reference)


@pytest.mark.skipif(not DISTRIBUTED.is_file(), reason=f"ComfyUI-Distributed snapshot absent: {DISTRIBUTED}")
def test_comfyui_distributed_master_and_worker_give_the_reference_frames(participants, reference, test_checkpoint):
    """One POST /distributed/queue on the master: DistributedSeed (fixed at 0) gives the master share 0 and the
    worker share 1; the collector gathers the worker's PNGs after the master's; the check passes them on."""
    master, _ = participants
    prompt = sequence_prompt(test_checkpoint.name, "distributed", ["seed", 0], SHARES, collect=True, frames=FRAMES)
    status, body = master.post_json("/distributed/queue", {"prompt": prompt, "client_id": uuid.uuid4().hex,
                                                           "enabled_worker_ids": [WORKER_ID]}, timeout=300)
    assert status == 200 and body.get("worker_count") == 1, body
    entry = master.wait_for(body["prompt_id"], timeout=900)
    assert entry.get("status", {}).get("status_str") == "success", (entry.get("status"), master.log_tail(40))
    assert np.array_equal(saved_frames(master, entry), reference)


@pytest.mark.skipif(not DISTRIBUTED.is_file(), reason=f"ComfyUI-Distributed snapshot absent: {DISTRIBUTED}")
def test_the_distributed_template_gives_the_one_participant_frames(participants, test_checkpoint):
    """AID long sequence on several GPUs (SD1.5) as shipped (test checkpoint, 64x64, 9 frames, 2 steps) through POST
    /distributed/queue, against the same prompt with share_count 1 on the master alone (DistributedSeed then passes
    0 and the collector passes the pictures through): the same grid, bit for bit."""
    master, _ = participants
    workflow = json.loads((WORKFLOWS / "AID long sequence on several GPUs (SD1.5).json").read_text())
    prompt = ui_to_api(workflow, master.object_info(), overrides={"ckpt_name": test_checkpoint.name, "width": 64,
                                                                  "height": 64, "frames": FRAMES, "steps": 2})
    alone = json.loads(json.dumps(prompt))
    for node in alone.values():
        if node["class_type"] == "InbetweenAIDAttentionPatch":
            node["inputs"]["share_count"] = 1
        if "filename_prefix" in node["inputs"]:
            node["inputs"]["filename_prefix"] += "_alone"
    grids = []
    for run in ("alone", "distributed"):
        if run == "alone":
            entry = master.run_prompt(alone)
        else:
            status, body = master.post_json("/distributed/queue", {"prompt": prompt, "client_id": uuid.uuid4().hex,
                                                                   "enabled_worker_ids": [WORKER_ID]}, timeout=300)
            assert status == 200 and body.get("worker_count") == 1, body
            entry = master.wait_for(body["prompt_id"], timeout=900)
            assert entry["status"]["status_str"] == "success", (entry["status"], master.log_tail(40))
        grids.append(saved_frames(master, entry))
    assert grids[0].shape[0] == 1 and np.array_equal(grids[0], grids[1])
