"""What every stand-in server here shares: a WSGI app on a threaded werkzeug server in a
background thread, quiet (no access line per request), stopped cleanly; and dropping a client's
connection on purpose (the "lost response" and "dropped connection" faults)."""
from __future__ import annotations

import socket
import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    # Per-request access lines would drown test and benchmark output (10,000 installs).
    def log_request(self, *args, **kwargs):
        pass


class BackgroundServer:
    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, name: str = "stand-in"):
        self._server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        self.host, self.port = host, self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def drop_connection(environ: dict) -> None:
    """Close the client's socket under the current werkzeug request."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
