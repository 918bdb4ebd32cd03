"""SIGINT and SIGTERM handling during an experiment.

Chaos Toolkit turns SIGTERM into ``InterruptExecution``, an ``Exception``; raised inside a
Python activity it is wrapped into ``ActivityFailed`` and the method simply carries on. The
safety control installs this handler instead: SIGTERM raises :class:`Terminated` (a
``KeyboardInterrupt``), which no provider swallows, so the action undoes its own partial
work, the run is marked interrupted, rollbacks run (with ``--rollback-strategy always``) and
the safety control replays the undo log at the end. SIGINT raises KeyboardInterrupt as before.

Pauses: chaoslib's ``execute_activity`` sleeps an activity's ``pauses.after`` in a ``finally``
block, so an interrupt raised during the activity waits out the whole pause (20 s and more, with
a node cordoned meanwhile) before it reaches the run. While installed, chaoslib's activity pauses
go through :class:`InterruptiblePauses`: a pause waits on an event that either signal sets, and
after an interrupt every pause (the one in that ``finally`` included) returns at once. An
interrupt is honoured within a fraction of a second, whatever the activity's pauses.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any

import chaoslib.activity
from chaoslib.exceptions import InterruptExecution


class Terminated(KeyboardInterrupt):
    """SIGTERM received during a chaos run."""


# what an action catches to undo its own partial work before the interrupt goes on
INTERRUPTS = (KeyboardInterrupt, SystemExit, InterruptExecution)


_previous: Any = None
_previous_sigint: Any = None
_installed = False
_interrupted = threading.Event()


class InterruptiblePauses:
    """Stands in for the `time` module inside chaoslib.activity: its pauses end at an interrupt."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        if not _interrupted.is_set():
            _interrupted.wait(max(0.0, float(seconds)))  # a signal's handler raises out of the wait


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _interrupted.set()
    raise Terminated("SIGTERM received")


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


def interrupted() -> bool:
    """Whether SIGINT or SIGTERM arrived since `install`."""
    return _interrupted.is_set()


def install() -> bool:
    """Install the SIGTERM and SIGINT handlers and the interruptible pauses (main thread only);
    returns whether they were installed."""
    global _previous, _previous_sigint, _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return False
    _interrupted.clear()
    _previous = signal.signal(signal.SIGTERM, _on_sigterm)
    _previous_sigint = signal.signal(signal.SIGINT, _on_sigint)
    chaoslib.activity.time = InterruptiblePauses()
    _installed = True
    return True


def uninstall() -> None:
    global _previous, _previous_sigint, _installed
    if not _installed:
        return
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _previous if _previous is not None else signal.SIG_DFL)
        signal.signal(signal.SIGINT, _previous_sigint if _previous_sigint is not None else signal.default_int_handler)
    chaoslib.activity.time = time
    _previous = _previous_sigint = None
    _installed = False
