"""python -m local_stack.airbyte_emulator --port 8006 --s3-endpoint-url ... --hubspot-sandbox-url ..."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN, AirbyteEmulator


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m local_stack.airbyte_emulator",
        description="Emulator of Airbyte's public API (v1). SDK server_url = <url>/v1. "
                    "Admin: GET /_emulator/state, POST|GET|DELETE /_emulator/faults, "
                    "POST /_emulator/rate_limit, GET /_emulator/jobs/<id>[/files].")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    p.add_argument("--s3-endpoint-url", help="S3 endpoint syncs write to (the moto server)")
    p.add_argument("--hubspot-sandbox-url", help="HubSpot sandbox the connector reads")
    p.add_argument("--aws-region", default="us-east-1")
    p.add_argument("--rate-limit-per-s", type=float, help="answer 429 above this request rate")
    p.add_argument("--rate-limit-burst", type=float)
    p.add_argument("--api-token", default=DEFAULT_TOKEN, help="static bearer token accepted")
    p.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    p.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    p.add_argument("--token-ttl-s", type=float, default=180.0,
                   help="lifetime of tokens from POST /v1/applications/token")
    p.add_argument("--no-auth", action="store_true", help="accept requests without a token")
    p.add_argument("--max-concurrent-syncs", type=int, default=2)
    p.add_argument("--workspace-name", default="Default Workspace")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    emu = AirbyteEmulator(
        a.host, a.port, s3_endpoint_url=a.s3_endpoint_url, hubspot_sandbox_url=a.hubspot_sandbox_url,
        rate_limit_per_s=a.rate_limit_per_s, rate_limit_burst=a.rate_limit_burst,
        api_token=a.api_token, client_id=a.client_id, client_secret=a.client_secret,
        token_ttl_s=a.token_ttl_s, auth_required=not a.no_auth, workspace_name=a.workspace_name,
        aws_region=a.aws_region, max_concurrent_syncs=a.max_concurrent_syncs).start()
    # One JSON line so a parent process can read the port and ids (secrets stay out of it).
    print(json.dumps({"url": emu.url, "api_url": emu.api_url,
                      "default_workspace_id": emu.default_workspace_id}), flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
