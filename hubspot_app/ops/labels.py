"""`python -m hubspot_app.ops association-labels ...`: read one account's association labels now.

    association-labels read HUB_ID [--json]   a new snapshot read in this process (the same
                                              reader as the queue's worker, without a time limit:
                                              its steps run one after another here), chunks and
                                              then the manifest under raw/<hub_id>/association_labels/

Exit codes: 0 the snapshot is complete (its manifest key is printed); 1 a call failed (HubSpot
or AWS; nothing half-done is curated: chunks without a manifest are ignored); 2 bad usage or
configuration; 3 no such account, or it is uninstalled / needs re-authorisation (skipped);
4 HubSpot refused the account's refresh token (recorded on the account as `labels_outcome`).
"""
from __future__ import annotations

TOKEN_REFUSED = 4


def _cli():
    from hubspot_app.ops import cli

    return cli


def read_now(hub_id: int, svc=None) -> dict:
    """Runs every step of a new snapshot for `hub_id`; returns the outcome and the manifest key."""
    from hubspot_app.associations.queue import Budget, start_message
    from hubspot_app.associations.snapshot import snapshot_id
    from hubspot_app.handlers.associations import reader as make_reader

    svc = svc or _cli()._services()
    pending: list[dict] = []
    reader = make_reader(svc)
    reader.send = pending.append  # continuations stay in this process
    from datetime import UTC, datetime

    body: dict = start_message(hub_id, snapshot_id(hub_id, datetime.now(UTC), "ops"))
    steps, records = 0, 0
    while True:
        outcome = reader.handle(body, Budget(None))
        steps += 1
        records += outcome.records
        if outcome.outcome != "continued":
            break
        body = pending.pop()
    key = reader.layout.manifest_key(hub_id, outcome.snapshot_id) if outcome.snapshot_id else None
    return {"hub_id": hub_id, "outcome": outcome.outcome, "snapshot_id": outcome.snapshot_id,
            "steps": steps, "records": records,
            "manifest": key if outcome.outcome in ("complete", "already_complete") else None}


def read_cmd(args) -> int:
    cli = _cli()
    result = read_now(args.hub_id)
    if args.json:
        cli._print_json(result)
    else:
        print(f"hub {result['hub_id']}: {result['outcome']}"
              + (f", {result['records']} association type line(s), manifest "
                 f"s3://{cli._settings().lake.bucket}/{result['manifest']}" if result["manifest"] else ""))
    if result["outcome"] in ("complete", "already_complete"):
        return cli.OK
    if result["outcome"] in ("token_revoked", "token_undecryptable"):
        return TOKEN_REFUSED
    return cli.NOT_FOUND


def register(groups) -> None:
    from hubspot_app.hub_ids import hub_id_arg

    g = groups.add_parser("association-labels",
                          help="HubSpot association labels (our own reader; daily on its own)")
    sub = g.add_subparsers(dest="command", required=True)
    p = sub.add_parser("read", help="read one account's labels now: chunks, then the manifest "
                                    "(exit 0 done, 3 no/skipped account, 4 token refused)")
    p.add_argument("hub_id", type=hub_id_arg)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=read_cmd)



