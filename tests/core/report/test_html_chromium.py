"""The HTML report opened in headless Chromium (Debian's package): it renders, every chart image
loads (naturalWidth > 0) and nothing is logged as an error.

Chromium is driven over the DevTools protocol on `--remote-debugging-pipe` (file descriptors 3
and 4, NUL-separated JSON), with the standard library only. Console errors are collected from
`Runtime.consoleAPICalled` (error/assert), `Runtime.exceptionThrown` and `Log.entryAdded` (level
error: failed loads, blocked resources, ...). A probe page with a broken image and a console
error proves the checks can fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aideon_resilience.core.evaluate.verdict import Verdict

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium)"),
]


class Browser:
    """A minimal DevTools protocol client over Chromium's debugging pipe."""

    def __init__(self, user_data_dir: Path) -> None:
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # move the child's ends above 3/4 first so the dup2 calls cannot clobber each other
        child_in = os.dup(to_chrome_r) if to_chrome_r < 10 else to_chrome_r
        child_out = os.dup(from_chrome_w) if from_chrome_w < 10 else from_chrome_w

        def _fds() -> None:
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.proc = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_fds,
            pass_fds=(3, 4),
        )
        for fd in {to_chrome_r, from_chrome_w, child_in, child_out}:
            os.close(fd)
        self.w = to_chrome_w
        self.r = from_chrome_r
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no DevTools message from Chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed its debugging pipe")
                self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while True:
            ev = self._read(deadline)
            if ev.get("method") == method:
                return ev
            self.events.append(ev)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read(deadline))
        except TimeoutError:
            pass

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.w)
        os.close(self.r)


@pytest.fixture(scope="module")
def page() -> Iterator[tuple[Browser, str]]:
    with tempfile.TemporaryDirectory(prefix="aideon-chromium-") as tmp:
        browser = Browser(Path(tmp))
        try:
            targets = browser.send("Target.getTargets")["targetInfos"]
            target = next(t["targetId"] for t in targets if t["type"] == "page")
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                browser.send(f"{domain}.enable", session=session)
            yield browser, session
        finally:
            browser.close()


def _open(browser: Browser, session: str, url: str) -> dict[str, Any]:
    """Load a page; return its images, title, text and the errors logged while loading."""
    browser.events.clear()
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_event("Page.loadEventFired")
    browser.drain(0.5)
    expr = (
        "JSON.stringify({title: document.title, text: document.body.innerText, "
        "images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, "
        "w: i.naturalWidth, h: i.naturalHeight}))})"
    )
    value = browser.send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=session)
    info: dict[str, Any] = json.loads(value["result"]["value"])
    errors = []
    for ev in browser.events:
        p = ev.get("params", {})
        if ev.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif ev.get("method") == "Runtime.exceptionThrown":
            errors.append(str(p.get("exceptionDetails", {}).get("text")))
        elif ev.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            errors.append(str(p["entry"].get("text")))
    info["errors"] = errors
    return info


def test_the_checks_can_fail(page: tuple[Browser, str], tmp_path: Path) -> None:
    probe = tmp_path / "probe.html"
    probe.write_text(
        '<!DOCTYPE html><html><head><title>probe</title></head><body>'
        '<img alt="broken" src="data:image/png;base64,AAAA">'
        '<img alt="missing" src="missing.png">'
        '<script>console.error("probe error")</script></body></html>',
        encoding="utf-8",
    )
    info = _open(*page, probe.as_uri())
    assert [i["w"] for i in info["images"]] == [0, 0]
    assert any("probe error" in e for e in info["errors"])


def test_report_renders_every_chart_without_console_error(
    page: tuple[Browser, str], mixed_run: tuple[Path, Verdict]
) -> None:
    run_dir, verdict = mixed_run
    info = _open(*page, (run_dir / "index.html").resolve().as_uri())
    assert info["errors"] == []
    assert info["title"].startswith("Resilience gate FAIL")
    assert "Service level objectives" in info["text"]
    for r in verdict.slos:
        assert r.id in info["text"]
    images = info["images"]
    assert len(images) == 6
    for img in images:
        assert img["complete"] and img["w"] > 0 and img["h"] > 0, img
