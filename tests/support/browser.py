"""A headless Chromium driven over the DevTools protocol, for tests that open a page as a person would.

    with Browser.launch() as browser:
        page = browser.open(Path("report.html").as_uri())
        page.evaluate("document.title")
        page.screenshot(Path("shot.png"))
        assert page.errors == []

No extra dependency: the protocol runs over `--remote-debugging-pipe` (JSON messages separated by NUL on
file descriptors 3 and 4 of the browser), so there is no port, no websocket and no network. Chromium is
Debian's package (`.ci/run` installs it); `find_chromium()` returns None when it is not installed, and the
tests skip with that reason.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
    "--disable-dev-shm-usage", "--remote-debugging-pipe",
]


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One Chromium process; `open` gives pages (targets) attached in flat mode."""

    def __init__(self, process: subprocess.Popen, to_browser, from_browser, profile: tempfile.TemporaryDirectory):
        self._process = process
        self._out = to_browser
        self._in = from_browser
        self._profile = profile
        self._ids = iter(range(1, 1 << 62))
        self._lock = threading.Lock()
        self._waiting: dict[int, queue.Queue] = {}
        self._listeners: dict[str, list] = {}  # session id -> [Page]
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()

    @classmethod
    def launch(cls, executable: str | None = None, timeout: float = 20.0) -> Browser:
        executable = executable or find_chromium()
        if not executable:
            raise BrowserError("chromium not found: install Debian's chromium (apt-get install chromium)")
        profile = tempfile.TemporaryDirectory(prefix="cdp-profile-")
        commands_read, commands_write = os.pipe()  # we write, the browser reads on its fd 3
        replies_read, replies_write = os.pipe()  # the browser writes on its fd 4, we read

        def child_fds() -> None:
            # Move both ends out of the way first: either could already be fd 3 or 4.
            commands, replies = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands_read, replies_write))
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        # The child keeps fds 3 and 4 (set up by child_fds, which runs before the other fds are closed).
        process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_fds, pass_fds=(3, 4), close_fds=True,
        )
        os.close(commands_read)
        os.close(replies_write)
        browser = cls(process, os.fdopen(commands_write, "wb", buffering=0), os.fdopen(replies_read, "rb"), profile)
        try:
            browser.send("Browser.getVersion", timeout=timeout)
        except BaseException:
            browser.close()
            raise
        return browser

    # -------------------------------------------------------------------------------- protocol

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 20.0) -> dict:
        message_id = next(self._ids)
        reply: queue.Queue = queue.Queue(maxsize=1)
        message = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        with self._lock:
            self._waiting[message_id] = reply
            self._out.write(json.dumps(message).encode() + b"\0")
        try:
            answer = reply.get(timeout=timeout)
        except queue.Empty:
            raise BrowserError(f"no answer to {method} within {timeout:.0f} s") from None
        finally:
            self._waiting.pop(message_id, None)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error'].get('message')} {answer['error'].get('data', '')}")
        return answer.get("result", {})

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._in.read1(1 << 16) if hasattr(self._in, "read1") else self._in.read(1 << 16)
            except (OSError, ValueError):
                break
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    waiter = self._waiting.get(message["id"])
                    if waiter:
                        waiter.put(message)
                else:
                    for page in self._listeners.get(message.get("sessionId", ""), []):
                        page._event(message["method"], message.get("params", {}))

    # -------------------------------------------------------------------------------- pages

    def open(self, url: str, width: int = 1280, height: int = 900, timeout: float = 20.0) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        self._listeners.setdefault(session, []).append(page)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        page.navigate(url, timeout=timeout)
        return page

    def close(self) -> None:
        try:
            if self._process.poll() is None:
                with contextlib.suppress(BrowserError):
                    self.send("Browser.close", timeout=5)
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=5)
        finally:
            self._reader.join(timeout=5)  # the browser is gone: its end of the pipe is closed
            for stream in (self._out, self._in):
                with contextlib.suppress(OSError):
                    stream.close()
            self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Page:
    """One tab: evaluate JavaScript, wait for load, take screenshots, collect console errors."""

    def __init__(self, browser: Browser, session: str):
        self._browser = browser
        self.session = session
        self.errors: list[str] = []  # console.error, uncaught exceptions, error log entries
        self.console: list[str] = []  # every console message, for debugging
        self.requests: list[str] = []  # every URL the page asked for (to prove it needs no network)
        self._loaded = threading.Event()

    def send(self, method: str, params: dict | None = None, timeout: float = 20.0) -> dict:
        return self._browser.send(method, params, session=self.session, timeout=timeout)

    def _event(self, method: str, params: dict) -> None:
        if method == "Page.loadEventFired":
            self._loaded.set()
        elif method == "Network.requestWillBeSent":
            self.requests.append(params.get("request", {}).get("url", ""))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append(f"{params.get('type')}: {text}")
            if params.get("type") in ("error", "assert"):
                self.errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception", {}).get("description") or details.get("text", "")
            self.errors.append(f"exception at line {details.get('lineNumber')}: {exception}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                self.errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())

    def navigate(self, url: str, timeout: float = 20.0) -> None:
        self._loaded.clear()
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        if not self._loaded.wait(timeout):
            raise BrowserError(f"{url} did not finish loading within {timeout:.0f} s")

    def evaluate(self, expression: str, timeout: float = 20.0):
        """The value of a JavaScript expression (JSON-serialisable values; promises are awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"{expression[:80]!r} threw: "
                               f"{details.get('exception', {}).get('description') or details.get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 10.0, interval: float = 0.05):
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"waited {timeout:.0f} s for {expression!r}")
            time.sleep(interval)

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = self.send("Page.captureScreenshot", params, timeout=30)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
