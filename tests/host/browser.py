"""Headless Chromium (the distribution's package, never a downloaded browser) driven over the DevTools protocol.

One page, a fresh profile per browser, console messages and uncaught exceptions recorded, JavaScript evaluated
with promises awaited, and screenshots. Chromium runs with the flags this project's machines need (no sandbox,
no GPU, no QUIC, no background traffic).
"""

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--hide-scrollbars")


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    return next((path for path in map(shutil.which, CANDIDATES) if path), None)


class Browser:
    def __init__(self, executable: str, width: int = 1600, height: int = 1000):
        import websocket  # websocket-client: requirements-dev.txt

        self._profile = tempfile.mkdtemp(prefix="inbetween-chromium-")
        self._process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port = self._devtools_port()
        pages = [t for t in _get_json(f"http://127.0.0.1:{port}/json/list") if t["type"] == "page"]
        self._socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=120,
                                                   suppress_origin=True)
        self._next_id = 0
        self.console: list[dict] = []  # {"level", "text", "url"} of console messages and uncaught exceptions
        for domain in ("Runtime", "Page", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def _devtools_port(self, timeout: float = 60.0) -> int:
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrowserError(f"chromium exited with code {self._process.returncode} while starting")
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            time.sleep(0.1)
        raise BrowserError(f"chromium did not open its DevTools port within {timeout:.0f}s")

    # protocol -------------------------------------------------------------------------------------------
    def call(self, method: str, **params):
        self._next_id += 1
        request_id = self._next_id
        self._socket.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == request_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._record(message)

    def _record(self, event: dict) -> None:
        params = event.get("params", {})
        if event.get("method") == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            frames = params.get("stackTrace", {}).get("callFrames", [])
            self.console.append({"level": params["type"], "text": text, "url": frames[0]["url"] if frames else ""})
        elif event.get("method") == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.console.append({"level": "exception", "text": text, "url": details.get("url", "")})
        elif event.get("method") == "Log.entryAdded":
            entry = params["entry"]
            self.console.append({"level": entry["level"], "text": entry["text"], "url": entry.get("url", "")})

    def evaluate(self, expression: str, timeout: float = 120.0):
        """Value of a JavaScript expression (a promise is awaited); a thrown error raises BrowserError."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True,
                           timeout=int(timeout * 1000))
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 120.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        raise BrowserError(f"timed out after {timeout:.0f}s waiting for {what}: {expression}")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    # input as a user gives it: real mouse and keyboard events at the page's CSS pixels -------------------
    def move(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def click(self, x: float, y: float, count: int = 1) -> None:
        """Press and release the left button ``count`` times at (x, y) (2: a double-click)."""
        self.move(x, y)
        for click in range(1, count + 1):
            for kind in ("mousePressed", "mouseReleased"):
                self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=click)

    def type_text(self, text: str) -> None:
        self.call("Input.insertText", text=text)

    def press(self, key: str, code: str | None = None, key_code: int = 0) -> None:
        """A key pressed and released (``key`` as KeyboardEvent.key names it: "Enter", "Escape")."""
        for kind in ("rawKeyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code or key,
                      windowsVirtualKeyCode=key_code, nativeVirtualKeyCode=key_code)

    def screenshot(self, path: Path, clip: dict, quality: int = 80, scale: float = 1.0) -> Path:
        """Write the page region ``clip`` (x, y, width, height in CSS pixels) as a JPEG, or a PNG for ``.png``."""
        image_format = "png" if path.suffix == ".png" else "jpeg"
        params = {"format": image_format, "clip": {**clip, "scale": scale}}
        if image_format == "jpeg":
            params["quality"] = quality
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self._socket.close()
        finally:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=20)
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _get_json(url: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
