"""Undo log: every mutation's undo step is written (and fsynced) to disk BEFORE the mutation.

Layout: ``<root>/<run-id>/<seq>-<kind>.undo.json``; a step that has been undone is renamed to
``.done.json``. The root is ``$AIDEON_UNDO_DIR``, else ``$AIDEON_STATE_DIR/undo``, else
``~/.local/state/aideon-resilience/undo``. ``aideon-resilience rollback [DIR]`` replays every
pending step under DIR (default: the root), newest first; the safety control replays this
run's pending steps when the experiment ends, whatever the rollback strategy was.

Step kinds and how they are undone live in :data:`UNDOERS`; the actions register theirs.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aideon_resilience.settings import settings

PENDING_SUFFIX = ".undo.json"
DONE_SUFFIX = ".done.json"


def default_root() -> Path:
    env = settings()
    return env.path("AIDEON_UNDO_DIR") or env.path_value("AIDEON_STATE_DIR") / "undo"


@dataclass
class Step:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why the file could not be read as a step (it is then never replayed)

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def params(self) -> dict[str, Any]:
        params = self.data.get("params") or {}
        return dict(params)

    def describe(self) -> str:
        return str(self.data.get("description") or f"{self.kind} {self.params}")


class UndoLog:
    """The undo steps of one chaos run, in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def record(self, kind: str, params: dict[str, Any], description: str, **extra: Any) -> Step:
        """Persist an undo step; returns once it is on disk."""
        self.directory.mkdir(parents=True, exist_ok=True)
        seq = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"
        data = {
            "kind": kind,
            "params": params,
            "description": description,
            "created": time.time(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            **extra,
        }
        path = self.directory / f"{seq}-{kind}{PENDING_SUFFIX}"
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.directory)
        return Step(path, data)

    def pending(self, kind: str | None = None) -> list[Step]:
        return [s for s in pending_steps(self.directory) if kind is None or s.kind == kind]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def mark_done(step: Step) -> None:
    if step.path.name.endswith(PENDING_SUFFIX):
        done = step.path.with_name(step.path.name[: -len(PENDING_SUFFIX)] + DONE_SUFFIX)
        try:
            os.replace(step.path, done)
        except FileNotFoundError:
            return
        step.path = done


def pending_steps(root: Path) -> list[Step]:
    """Pending steps anywhere under root, newest first (the order to undo them in)."""
    if not root.exists():
        return []
    steps: list[Step] = []
    for path in root.rglob(f"*{PENDING_SUFFIX}"):
        steps.append(read_step(path))
    steps.sort(key=lambda s: s.path.name, reverse=True)
    return steps


def read_step(path: Path) -> Step:
    """One step file; a file that is not a step (binary, not JSON, not an object, no kind, params
    that are not an object) comes back with its `problem` set, never as an exception."""
    unreadable = {"kind": "unreadable", "description": f"unreadable undo step {path}"}
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        return Step(path, unreadable, f"cannot be read ({exc.strerror or exc})")
    except UnicodeDecodeError:
        return Step(path, unreadable, "not UTF-8 text: a binary file?")
    except json.JSONDecodeError as exc:
        return Step(path, unreadable, f"invalid JSON (line {exc.lineno})")
    if not isinstance(data, dict):
        return Step(path, unreadable, f"expected a JSON object, got a {type(data).__name__}")
    if not isinstance(data.get("kind"), str) or not data["kind"]:
        return Step(path, {**unreadable, **data, "kind": "unreadable"}, "kind: missing")
    if not isinstance(data.get("params", {}), dict):
        return Step(path, {**data, "params": {}}, "params: expected an object")
    return Step(path, data)


def step_problem(step: Step) -> str | None:
    """Why a step cannot be replayed as written (unreadable, unknown kind, a required parameter
    missing), or None. Needs the undo functions registered (`chaos.rollback` imports them)."""
    if step.problem is not None:
        return step.problem
    if step.kind not in UNDOERS:
        return f"kind: unknown undo step kind {step.kind!r} (known: {', '.join(sorted(UNDOERS))})"
    missing = [p for p in REQUIRED.get(step.kind, ()) if step.params.get(p) in (None, "")]
    if missing:
        return f"params.{missing[0]}: missing (a {step.kind} step needs {', '.join(REQUIRED[step.kind])})"
    return None


# --- the current run -------------------------------------------------------------------------

_current: UndoLog | None = None


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def start_run(run_id: str | None = None) -> UndoLog:
    """Begin a new chaos run (called by the safety control before the experiment)."""
    global _current
    run_id = run_id or settings().text("AIDEON_CHAOS_RUN_ID") or new_run_id()
    _current = UndoLog(default_root() / run_id)
    return _current


def current() -> UndoLog:
    """The undo log of the current run; actions used outside an experiment get a fresh run."""
    global _current
    if _current is None:
        _current = start_run()
    return _current


def reset() -> None:
    global _current
    _current = None


# --- replay ----------------------------------------------------------------------------------

Undoer = Callable[[dict[str, Any], dict[str, Any]], None]
UNDOERS: dict[str, Undoer] = {}
REQUIRED: dict[str, tuple[str, ...]] = {}  # the params a step of each kind cannot be replayed without


def register(kind: str, *required: str) -> Callable[[Undoer], Undoer]:
    def deco(fn: Undoer) -> Undoer:
        UNDOERS[kind] = fn
        REQUIRED[kind] = required
        return fn

    return deco
