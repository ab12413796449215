"""SandboxServer: the Flask app on a threaded werkzeug server in a background thread."""

from flask import Flask

from .. import contract_check
from ..http import BackgroundServer
from . import admin, crm, journal, oauth
from .data import AccountStore
from .state import SandboxState


def create_app(st: SandboxState) -> Flask:
    app = Flask("hubspot_sandbox")
    app.config["SANDBOX"] = st
    oauth.register(app, st)
    admin.register(app, st)
    admin.register_data(app, st)
    crm.register(app, st)
    journal.register(app, st)
    contract_check.install(app, "hubspot")
    return app


class SandboxServer:
    """HubSpot emulator. `start()` serves in a daemon thread; `url` is where it listens."""

    def __init__(self, host="127.0.0.1", port=0, seed=7, accounts=3, apps=(),
                 records_per_object=50, account_sizes=None, rate_limits=True,
                 search_lag_seconds=0.0):
        """records_per_object: int, or {object type: count}; account_sizes: optional list,
        one records_per_object value per account (accounts of different sizes)."""
        st = self.state = SandboxState(seed=seed, accounts=accounts, apps=apps)
        st.settings = {"rate_limits": rate_limits, "search_lag_seconds": search_lag_seconds,
                       "search_index": True}
        for k, acct in enumerate(st.accounts.values()):
            size = account_sizes[k] if account_sizes and k < len(account_sizes) else records_per_object
            acct.store = AccountStore(seed, acct.hub_id, acct.hub_domain, size, search_lag_seconds,
                                      ordinal=k)
        self.app = create_app(self.state)
        self._host, self._port = host, port
        self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("SandboxServer not started")
        return self._server.url

    def start(self) -> "SandboxServer":
        self._server = BackgroundServer(self.app, self._host, self._port, "hubspot-sandbox")
        return self

    def stop(self):
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
