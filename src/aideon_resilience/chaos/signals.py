"""SIGTERM handling during an experiment.

Chaos Toolkit turns SIGTERM into ``InterruptExecution``, an ``Exception``; raised inside a
Python activity it is wrapped into ``ActivityFailed`` and the method simply carries on. The
safety control installs this handler instead: SIGTERM raises :class:`Terminated` (a
``KeyboardInterrupt``), which no provider swallows, so the action undoes its own partial
work, the run is marked interrupted, rollbacks run (with ``--rollback-strategy always``) and
the safety control replays the undo log at the end. SIGINT already raises KeyboardInterrupt.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from chaoslib.exceptions import InterruptExecution


class Terminated(KeyboardInterrupt):
    """SIGTERM received during a chaos run."""


# what an action catches to undo its own partial work before the interrupt goes on
INTERRUPTS = (KeyboardInterrupt, SystemExit, InterruptExecution)


_previous: Any = None
_installed = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated("SIGTERM received")


def install() -> bool:
    """Install the SIGTERM handler (main thread only); returns whether it was installed."""
    global _previous, _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return False
    _previous = signal.signal(signal.SIGTERM, _on_sigterm)
    _installed = True
    return True


def uninstall() -> None:
    global _previous, _installed
    if not _installed:
        return
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _previous if _previous is not None else signal.SIG_DFL)
    _previous = None
    _installed = False
