"""Switch a stand-in backend to failing and back through its loopback admin endpoint.

``POST <admin_url>/admin/fail`` makes the stand-in answer with errors;
``POST <admin_url>/admin/recover`` heals it. Only loopback URLs are accepted.

`fail_backend` takes the admin URLs; `fail_pod_backends` finds them for pods chosen by a label
selector, in the local data plane's state (`state.json` in its work directory: each pod's stand-in
and its loopback port), for pods that only exist once the experiment has made them (a canary).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed, InterruptExecution

from aideon_resilience.adapters.dataplane.state import read_state
from aideon_resilience.chaos import guard, node_targets, undo

__all__ = ["fail_backend", "fail_pod_backends", "recover_backend"]

POLL_S = 0.5


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


def _standin_urls(dataplane_dir: str, namespace: str, pods: list[str]) -> dict[str, str]:
    """The admin URL of each of `pods` whose stand-in serves (ready, not on its way out)."""
    state = read_state(Path(dataplane_dir))
    if state is None:
        return {}
    return {
        str(s["pod"]): f"http://127.0.0.1:{int(s['port'])}"
        for s in state.standins
        if s.get("namespace") == namespace
        and s.get("pod") in pods
        and s.get("ready")
        and s.get("port")
        and not s.get("terminating")
    }


def fail_pod_backends(
    namespace: str,
    label_selector: str,
    dataplane_dir: str,
    count: int = 1,
    timeout: float = 30.0,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Switch the stand-ins of `count` ready pods selected by `label_selector` in `namespace` to
    failing (the pods sorted by name; their stand-ins found in the local data plane's state under
    `dataplane_dir`). Waits up to `timeout` for those stand-ins to serve. Healed by
    `recover_backend` without arguments, and by the rollback."""
    guard.require_target("fail_pod_backends", label_selector=label_selector)
    guard.require_target("fail_pod_backends", dataplane_dir=dataplane_dir)
    n = node_targets.parse_count(count)
    if n is None:
        raise ActivityFailed("count: how many pods to fail is required")
    cleared = guard.authorize("fail_pod_backends", secrets, [namespace])
    pods = sorted(
        p.metadata.name
        for p in cleared.api.core.list_namespaced_pod(namespace, label_selector=label_selector).items
        if p.metadata.deletion_timestamp is None and getattr(p.status, "phase", None) == "Running"
    )
    if len(pods) < n:
        raise ActivityFailed(f"{n} pod(s) to fail, {len(pods)} running match {label_selector!r} in {namespace}")
    chosen = pods[:n]
    deadline = time.monotonic() + float(timeout)
    urls = _standin_urls(dataplane_dir, namespace, chosen)
    while len(urls) < n and time.monotonic() < deadline:
        time.sleep(POLL_S)
        urls = _standin_urls(dataplane_dir, namespace, chosen)
    if len(urls) < n:
        missing = ", ".join(p for p in chosen if p not in urls)
        raise ActivityFailed(
            f"no serving stand-in for {missing} in the data plane at {dataplane_dir} after {float(timeout):g} s"
        )
    out = fail_backend(",".join(urls[p] for p in chosen), namespace=namespace, secrets=secrets)
    out["action"] = "fail_pod_backends"
    out["pods"] = chosen
    return out


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
