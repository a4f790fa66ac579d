"""A real headless browser for tests: Debian's chromium driven over the DevTools protocol.

`chromium --dump-dom --virtual-time-budget=...` never returns on a page that holds an event stream
open (virtual time waits for the network to go quiet), so a live page is driven instead: open it,
wait until a JavaScript condition holds, then read the rendered DOM, the console's errors and a PNG.
Only the `websockets` client (a dev dependency) is used; nothing is downloaded.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


class Browser:
    """One headless chromium with one page of ``width`` x ``height`` CSS pixels.

    `with Browser() as page: page.open(url); page.wait_for("js expression"); page.dom(); page.png()`.
    ``errors`` collects uncaught exceptions and console errors of the page, as text.
    """

    def __init__(self, width: int = 1280, height: int = 800, timeout_s: float = 30.0) -> None:
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        self.width, self.height, self.timeout_s = width, height, timeout_s
        self.errors: list[str] = []
        self._ids = itertools.count(1)
        self._drain: threading.Thread | None = None
        self._cleanup = contextlib.ExitStack()  # undone in reverse: socket, browser process, profile folder
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        profile = self._cleanup.enter_context(tempfile.TemporaryDirectory(prefix="docbatch-chromium-"))
        assert CHROMIUM is not None
        self._process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        self._cleanup.callback(self._stop_process)
        url = self._devtools_url()
        self._socket = self._cleanup.enter_context(connect(url, max_size=None, open_timeout=self.timeout_s))
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page.enable", "Runtime.enable"):
            self._call(domain, session=True)
        self._call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _devtools_url(self) -> str:
        """The browser's DevTools WebSocket, from the line chromium prints on stderr when it listens."""
        assert self._process.stderr is not None
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            line = self._process.stderr.readline()
            if not line and self._process.poll() is not None:
                break
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                # Keep reading its chatter (D-Bus, GPU) so a full pipe never blocks the browser.
                self._drain = threading.Thread(target=_read_to_end, args=(self._process.stderr,), daemon=True)
                self._drain.start()
                return found.group(1)
        raise RuntimeError("chromium did not open its DevTools endpoint")

    def _call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result; events that arrive meanwhile are read for errors."""
        call_id = next(self._ids)
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        self._socket.send(json.dumps(message))
        while True:
            reply = json.loads(self._socket.recv(timeout=self.timeout_s))
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self._note(reply)

    def _note(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command to the page (`Emulation.setEmulatedMedia`, ...); its result."""
        return self._call(method, session=True, **params)

    def open(self, url: str) -> None:
        self._call("Page.navigate", session=True, url=url)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (a promise's value once it settles)."""
        result = self._call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float | None = None) -> None:
        """Poll until the expression is truthy in the page; AssertionError with the page's text if never."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while time.monotonic() < deadline:
            try:
                if self.evaluate(expression):
                    return
            except RuntimeError:
                pass  # the page is still loading: its objects are not there yet
            time.sleep(0.1)
        text = self.evaluate("document.body ? document.body.innerText : ''")
        raise AssertionError(f"never true in the page: {expression}\npage text:\n{text}\nerrors: {self.errors}")

    def dom(self) -> str:
        """The rendered DOM as HTML (what scripts made of the page, not the file the server sent)."""
        return str(self.evaluate("document.documentElement.outerHTML"))

    def png(self, path: Path) -> Path:
        data = self._call("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self._cleanup.close()

    def _stop_process(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._drain is not None:
            self._drain.join(timeout=10)  # it closes the pipe at its end
        elif self._process.stderr is not None:
            self._process.stderr.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _read_to_end(stream: IO[str]) -> None:
    with stream:
        stream.read()
