"""The emulator's only contact with `local_stack.connector` (the connector runner owned by the
sandbox work): discover and read, messages as dicts. Kept to one small module so a change in
the runner's signature is fixed in one place."""
from __future__ import annotations

import threading

from local_stack.connector import ensure_connector_venv, run_connector

_venv_lock = threading.Lock()
_venv_ready = False


def _ensure_venv() -> None:
    # Two jobs starting at once must not both build the 350 MB venv.
    global _venv_ready
    with _venv_lock:
        if not _venv_ready:
            ensure_connector_venv()
            _venv_ready = True


def discover(config: dict, sandbox_url: str, cancel=None) -> dict:
    """Stream name -> discovered AirbyteStream dict (with the account's JSON schema)."""
    _ensure_venv()
    streams, errors = {}, []
    for msg in run_connector("discover", config, sandbox_url=sandbox_url, raise_on_error=False,
                             cancel=cancel):
        if msg.get("type") == "CATALOG":
            streams = {s["name"]: s for s in msg["catalog"]["streams"]}
        elif msg.get("type") == "TRACE" and msg["trace"].get("type") == "ERROR":
            err = msg["trace"]["error"]
            errors.append(err.get("internal_message") or err.get("message", "connector error"))
    if not streams:
        # The TRACE error says why (the process' stderr is usually empty).
        raise RuntimeError("discover failed: " + ("; ".join(errors) or "no catalog"))
    return streams


def read(config: dict, catalog: dict, state: list | None, sandbox_url: str, cancel=None):
    _ensure_venv()
    yield from run_connector("read", config, catalog, state, sandbox_url=sandbox_url,
                             cancel=cancel)
