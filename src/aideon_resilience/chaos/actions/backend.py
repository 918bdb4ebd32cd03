"""Switch a stand-in backend to failing and back through its loopback admin endpoint.

``POST <admin_url>/admin/fail`` makes the stand-in answer with errors;
``POST <admin_url>/admin/recover`` heals it. Only loopback URLs are accepted.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from chaoslib.exceptions import ActivityFailed, InterruptExecution

from aideon_resilience.chaos import guard, undo

__all__ = ["fail_backend", "recover_backend"]


def _post(url: str, timeout: float = 5.0) -> dict[str, Any]:
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read().decode("utf-8", "replace")
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        raise ActivityFailed(f"POST {url} answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ActivityFailed(f"POST {url} failed: {exc}") from None
    try:
        parsed: Any = json.loads(body) if body.strip() else None
    except json.JSONDecodeError:
        parsed = body[:500]
    return {"url": url, "status": status, "body": parsed}


def _urls(admin_url: str | list[str] | None) -> list[str]:
    urls = [u.rstrip("/") for u in guard.split_names(admin_url)]
    for u in urls:
        guard.require_loopback(u, "backend admin URL")
    return urls


@undo.register("backend_recover", "url")
def _undo_recover(params: dict[str, Any], data: dict[str, Any]) -> None:
    try:
        _post(str(params["url"]) + "/admin/recover")
    except ActivityFailed as exc:
        if "failed:" in str(exc):  # connection refused: the stand-in is gone, nothing to heal
            return
        raise


def fail_backend(
    admin_url: str, timeout: float = 5.0, namespace: str | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Switch the stand-in(s) at `admin_url` (comma separated) to failing.

    Only on loopback, only while the kube context is allow-listed (the stand-ins are that cluster's
    pods), and `namespace` (the backend's) must have opted in to chaos.
    """
    guard.require_target("fail_backend", admin_url=admin_url)
    urls = _urls(admin_url)
    guard.authorize("fail_backend", secrets, [namespace])
    log = undo.current()
    answers: list[dict[str, Any]] = []
    steps: list[undo.Step] = []
    try:
        for url in urls:
            steps.append(log.record("backend_recover", {"url": url}, f"recover backend {url}"))
            answers.append(_post(url + "/admin/fail", float(timeout)))
    except (KeyboardInterrupt, SystemExit, InterruptExecution):
        for step in steps:
            try:
                _undo_recover(step.params, step.data)
                undo.mark_done(step)
            except Exception:
                pass
        raise
    return {"action": "fail_backend", "at": time.time(), "backends": answers}


def recover_backend(admin_url: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """Heal the stand-in(s) at `admin_url`; without one, those this run switched to failing."""
    pending = undo.current().pending("backend_recover")
    urls = _urls(admin_url) if admin_url else sorted({str(s.params["url"]) for s in pending})
    answers: list[dict[str, Any]] = []
    for url in urls:
        answers.append(_post(url + "/admin/recover", float(timeout)))
        for step in pending:
            if step.params.get("url") == url:
                undo.mark_done(step)
    return {"action": "recover_backend", "at": time.time(), "backends": answers}
