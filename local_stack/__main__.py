"""Run the local stack: `python -m local_stack main` (the whole flow) or `up` (serve)."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _stage_settings(parser: argparse.ArgumentParser, pairs: list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs -> {NAME: VALUE}; only the stage's own variables, so a typo
    is an error, not a setting nobody reads."""
    from .stack import stage_environment

    known = stage_environment()
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            parser.error(f"--set {pair!r}: expected NAME=VALUE")
        if name not in known:
            parser.error(f"--set {name}: not an environment variable of the local stage "
                         f"(see .chalice/config.json)")
        out[name] = value
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack",
        description="The HubSpot pipeline on one machine: moto (AWS), the HubSpot sandbox and "
                    "the Chalice app, on 127.0.0.1.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("main", help="run the main job: install into every sandbox account and "
                                      "follow the flow end to end, printing what happens")
    run.add_argument("--accounts", type=int, default=3, help="sandbox accounts (default 3)")
    run.add_argument("--seed", type=int, default=7, help="sandbox data seed (default 7)")
    run.add_argument("--streams", default="", metavar="RULE",
                     help="an AIRBYTE_STREAMS rule for this run, e.g. contacts,deals (default: "
                          "every stream Airbyte discovers for each account)")
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                     help="override one of the local stage's environment variables "
                          "(.chalice/config.json) for this run; repeatable, e.g. "
                          "--set ASSOCIATION_LABELS_REQUESTS_PER_SECOND=9")
    up = sub.add_parser("up", help="start the stack on the stage's fixed ports and serve until "
                                   "Ctrl-C; open http://127.0.0.1:8000/install in a browser")
    up.add_argument("--accounts", type=int, default=3)
    up.add_argument("--seed", type=int, default=7)
    up.add_argument("--free-ports", action="store_true",
                    help="listen on free ports instead of the stage's (printed at start)")
    parser.add_argument("--verbose", action="store_true", help="show the app's JSON logs")
    # SIGTERM (a supervisor, a test) stops like Ctrl-C, so the servers close cleanly.
    signal.signal(signal.SIGTERM, _interrupt)
    args = parser.parse_args(argv)
    if not args.verbose:
        logging.disable(logging.WARNING)  # keep the main job's output readable
    if args.command == "main":
        from hubspot_app.airbyte.streams import StreamRuleError, parse_rule

        from .main_job import run as run_main
        try:
            parse_rule([i.strip() for i in args.streams.split(",") if i.strip()])
        except StreamRuleError as exc:
            parser.error(f"--streams: {exc}")
        return run_main(accounts=args.accounts, seed=args.seed, streams=args.streams,
                        settings=_stage_settings(parser, args.settings))
    from .dispatcher import BackgroundDispatcher, SqsRoute
    from .stack import LocalStack, Ports
    ports = Ports.free() if args.free_ports else Ports()
    with LocalStack(ports=ports, accounts=args.accounts, seed=args.seed) as stack:
        client = stack.chalice_client()
        # Lambda's event source mappings: every queue a function consumes is delivered to it.
        dispatcher = BackgroundDispatcher([
            SqsRoute(client, stack.env["PROVISION_QUEUE_NAME"], "provisioner"),
            SqsRoute(client, stack.env["LIFECYCLE_QUEUE_NAME"], "lifecycle_worker", 4),
            SqsRoute(client, stack.env["GLUE_TRIGGER_QUEUE_NAME"], "glue_trigger", 1000),
            SqsRoute(client, stack.env["ASSOCIATION_LABELS_QUEUE_NAME"],
                     "association_labels_worker", 1),
        ]).start()
        print(f"AWS (moto):      {stack.aws_url}\n"
              f"HubSpot sandbox: {stack.hubspot_url}   (accounts: /_sandbox/accounts)\n"
              f"Airbyte API:     {stack.airbyte_url}/v1\n"
              f"App:             {stack.app_url}/install   <- open this in a browser\n"
              f"Queues are delivered to their functions as they fill. With the environment of "
              f"the stage set, `python -m hubspot_app.ops --stage local ...` inspects it. "
              f"Ctrl-C stops.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        dispatcher.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
