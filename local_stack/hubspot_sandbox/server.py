"""SandboxServer: the Flask app on a threaded werkzeug server in a background thread."""
import importlib.util
import logging
import threading

from flask import Flask
from werkzeug.serving import make_server

from . import admin, oauth
from .state import SandboxState


def create_app(st: SandboxState) -> Flask:
    app = Flask("hubspot_sandbox")
    app.config["SANDBOX"] = st
    oauth.register(app, st)
    admin.register(app, st)
    if importlib.util.find_spec(f"{__package__}.crm") is not None:   # CRM APIs, next step
        from . import crm
        crm.register(app, st)
    return app


class SandboxServer:
    """HubSpot emulator. `start()` serves in a daemon thread; `url` is where it listens."""

    def __init__(self, host="127.0.0.1", port=0, seed=7, accounts=3, apps=(),
                 records_per_object=50, **options):
        self.state = SandboxState(seed=seed, accounts=accounts, apps=apps)
        self.state.records_per_object = records_per_object
        self.state.options = options
        self.app = create_app(self.state)
        self._host, self._port = host, port
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("SandboxServer not started")
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> "SandboxServer":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = make_server(self._host, self._port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="hubspot-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
