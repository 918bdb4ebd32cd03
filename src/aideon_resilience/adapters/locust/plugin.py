"""Registering one of the harness's Locust plugins (the windows listener, the thresholds) with
Locust's global events, once per process: its command-line options, and what it does once Locust
has parsed them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_registered: set[str] = set()


def refuse_option(message: str) -> None:
    """A bad option value: one line on stderr, exit 2 (before the run starts)."""
    print(f"locust: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def register(name: str, add_options: Callable[[Any], None], on_init: Callable[[Any, Any], None]) -> None:
    """Add the plugin's options to Locust's parser and call `on_init(environment, parsed_options)`
    at Locust's init event; a second call for the same `name` does nothing."""
    if name in _registered:
        return
    _registered.add(name)
    from locust import events  # Locust and gevent: only inside a Locust process

    events.init_command_line_parser.add_listener(add_options)

    @events.init.add_listener
    def _on_init(environment: Any, **_: Any) -> None:
        if environment.parsed_options is not None:
            on_init(environment, environment.parsed_options)
