"""CLI: python -m local_stack.hubspot_sandbox --port 8900 --app ID:SECRET:REDIRECT_URI"""
import argparse
import signal
import threading

from .server import SandboxServer
from .state import RegisteredApp


def parse_app(value: str) -> RegisteredApp:
    # The redirect URI contains ':' itself, so split only twice.
    parts = value.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError("expected CLIENT_ID:CLIENT_SECRET:REDIRECT_URI")
    return RegisteredApp(client_id=parts[0], client_secret=parts[1], redirect_uris=[parts[2]])


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m local_stack.hubspot_sandbox",
                                description="HubSpot sandbox: OAuth, CRM and marketing APIs "
                                            "with synthetic accounts.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=7, help="data generation seed")
    p.add_argument("--accounts", type=int, default=3, help="number of sandbox accounts")
    p.add_argument("--records", type=int, default=50, help="records per CRM object type")
    p.add_argument("--no-rate-limits", action="store_true", help="turn HubSpot's limits off")
    p.add_argument("--search-lag", type=float, default=0.0, metavar="SECONDS",
                   help="search results lag writes by this long")
    p.add_argument("--app", action="append", type=parse_app, default=[],
                   metavar="CLIENT_ID:CLIENT_SECRET:REDIRECT_URI",
                   help="register an app (repeatable; more redirect URIs: repeat the app)")
    args = p.parse_args(argv)
    apps = {}
    for a in args.app:   # the same client id given twice adds redirect URIs
        if a.client_id in apps:
            apps[a.client_id].redirect_uris += a.redirect_uris
        else:
            apps[a.client_id] = a
    srv = SandboxServer(host=args.host, port=args.port, seed=args.seed, accounts=args.accounts,
                        apps=list(apps.values()), records_per_object=args.records,
                        rate_limits=not args.no_rate_limits,
                        search_lag_seconds=args.search_lag).start()
    print(f"HubSpot sandbox listening on {srv.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    srv.stop()


if __name__ == "__main__":
    main()
