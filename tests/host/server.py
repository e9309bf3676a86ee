"""A real ComfyUI server on loopback, with this pack installed, driven over HTTP as the front end does.

The server runs from the checkout with ``--base-directory`` pointing at a temporary folder, so the
checkout itself is never written to: the pack is linked into that folder's ``custom_nodes`` and
the test checkpoint into its ``models/checkpoints``.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

PACK_FOLDER_NAME = "ComfyUI-Inbetween"


class WorkflowFailed(AssertionError):
    pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ComfyServer:
    def __init__(self, comfyui: Path, base_dir: Path, pack_dir: Path, checkpoints: list[Path],
                 controlnets: list[Path] = (), python: str = sys.executable, front_end_root: Path | None = None,
                 env: dict[str, str] | None = None):
        """``env``: environment variables the server process gets besides this process's."""
        self.comfyui = Path(comfyui)
        self.base_dir = Path(base_dir)
        self.pack_dir = Path(pack_dir)
        self.models = {"checkpoints": [Path(p) for p in checkpoints], "controlnet": [Path(p) for p in controlnets]}
        self.python = python
        self.front_end_root = front_end_root
        self.env = dict(env or {})
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.client_id = uuid.uuid4().hex
        self.log_path = self.base_dir / "server.log"
        self._process: subprocess.Popen | None = None
        self._log = None

    # lifecycle ---------------------------------------------------------------------------------
    def start(self, timeout: float = 300.0) -> "ComfyServer":
        self._prepare_base_dir()
        self._log = open(self.log_path, "wb")
        command = [
            self.python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
            "--base-directory", str(self.base_dir), "--database-url", "sqlite:///:memory:",
            "--disable-auto-launch", "--preview-method", "none",
        ]
        if self.front_end_root is not None:
            command += ["--front-end-root", str(self.front_end_root)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self._process = subprocess.Popen(
            command, cwd=self.comfyui, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with code {self._process.returncode} while starting:\n{self.log_tail()}")
            try:
                self.get_json("/system_stats", timeout=2)
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"ComfyUI did not answer on {self.url} within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _prepare_base_dir(self) -> None:
        custom_nodes = self.base_dir / "custom_nodes"
        for folder in (custom_nodes, self.base_dir / "input", self.base_dir / "output"):
            folder.mkdir(parents=True, exist_ok=True)
        link = custom_nodes / PACK_FOLDER_NAME
        if not link.exists():
            link.symlink_to(self.pack_dir, target_is_directory=True)
        for folder, files in self.models.items():
            (self.base_dir / "models" / folder).mkdir(parents=True, exist_ok=True)
            for model in files:
                target = self.base_dir / "models" / folder / model.name
                if not target.exists():
                    target.symlink_to(model)

    def log_tail(self, lines: int = 80) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    # HTTP ----------------------------------------------------------------------------------------
    def get_json(self, path: str, timeout: float = 30.0):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return json.loads(response.read())

    def post_json(self, path: str, payload, timeout: float = 30.0):
        request = urllib.request.Request(
            self.url + path, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            body = err.read()
            try:
                return err.code, json.loads(body)
            except json.JSONDecodeError:
                return err.code, {"raw": body.decode(errors="replace")}

    def object_info(self) -> dict:
        return self.get_json("/object_info", timeout=120)

    def queue_prompt(self, prompt: dict) -> str:
        status, body = self.post_json("/prompt", {"prompt": prompt, "client_id": self.client_id}, timeout=300)
        if status != 200:
            raise WorkflowFailed(f"/prompt rejected the workflow (HTTP {status}): {json.dumps(body, indent=1)[:4000]}")
        return body["prompt_id"]

    def wait_for(self, prompt_id: str, timeout: float = 600.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                history = self.get_json(f"/history/{prompt_id}")
            except (TimeoutError, urllib.error.URLError) as err:
                # A server sampling on a loaded CPU can answer late; only the deadline decides that it failed.
                if self._process is not None and self._process.poll() is not None:
                    raise WorkflowFailed(f"ComfyUI died while running {prompt_id}:\n{self.log_tail()}") from err
                continue
            if prompt_id in history:
                entry = history[prompt_id]
                status = entry.get("status", {})
                if status.get("completed") or status.get("status_str") == "error":
                    return entry
            if self._process is not None and self._process.poll() is not None:
                raise WorkflowFailed(f"ComfyUI died while running {prompt_id}:\n{self.log_tail()}")
            time.sleep(0.25)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout:.0f}s:\n{self.log_tail()}")

    def run_prompt(self, prompt: dict, timeout: float = 600.0) -> dict:
        """Queue an API-format prompt, wait for it, and fail with ComfyUI's own error if it failed."""
        entry = self.wait_for(self.queue_prompt(prompt), timeout=timeout)
        status = entry.get("status", {})
        if status.get("status_str") != "success":
            errors = [m for m in status.get("messages", []) if m[0] == "execution_error"]
            detail = json.dumps(errors, indent=1)[:6000] if errors else json.dumps(status, indent=1)[:3000]
            raise WorkflowFailed(f"workflow failed: {detail}\n--- server log ---\n{self.log_tail(40)}")
        return entry

    def output_files(self, entry: dict) -> list[Path]:
        """Files the workflow's output nodes wrote, resolved inside the server's folders."""
        files = []
        for node_output in entry.get("outputs", {}).values():
            for items in node_output.values():
                if not isinstance(items, list):
                    continue
                for item in items:
                    if isinstance(item, dict) and "filename" in item and "type" in item:
                        folder = self.base_dir / item["type"] / item.get("subfolder", "")
                        files.append(folder / item["filename"])
        return files


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
