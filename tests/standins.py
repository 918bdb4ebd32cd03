"""Reading a running stand-in process from a test."""

from __future__ import annotations

import http.client
import json
from typing import Any


def standin_state(port: int) -> dict[str, Any]:
    """`GET /admin/state` of the stand-in listening on 127.0.0.1:`port`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/admin/state")
        return dict(json.loads(conn.getresponse().read()))
    finally:
        conn.close()
