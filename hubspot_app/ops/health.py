"""`python -m hubspot_app.ops health ...`: token health and offboarding, for operators.

    health show HUB_ID [--json]       token health, last sync, open alerts, uninstall audit
    health check HUB_ID... [--json]   check these accounts' tokens now (same code as the worker)
    health run                        queue a check of every account now (what the schedule does)
    health uninstall HUB_ID [--purge | --keep-data] [--reason TEXT] --yes
                                      offboard an account now: delete its Airbyte connection and
                                      source, revoke and delete its token, optionally purge S3
"""
from __future__ import annotations

import json

from hubspot_app.hub_ids import hub_id_arg as _hub_id


def _cli():
    from hubspot_app.ops import cli

    return cli


def _parts():
    """The lifecycle worker's checker and uninstaller parts (hubspot_app.handlers.lifecycle),
    from the stage's settings as they are now."""
    from hubspot_app.config import reset_settings
    from hubspot_app.handlers.lifecycle import lifecycle_parts

    reset_settings()
    try:
        return lifecycle_parts()
    except RuntimeError as exc:
        raise _cli().CliError(f"{exc} (or pass --stage)", _cli().USAGE) from None


def _show(hub_id: int) -> dict | None:
    from pynamodb.exceptions import DoesNotExist

    from hubspot_app.models import Account, UninstallAudit

    try:
        a = Account.get(int(hub_id), consistent_read=True)
    except DoesNotExist:
        a = None
    audits = [{"at": r.at, "source": r.source, "reason": r.reason, "steps": list(r.steps or []),
               "purged_objects": r.purged_objects} for r in UninstallAudit.query(int(hub_id))]
    if a is None and not audits:
        return None
    out = {"hub_id": int(hub_id), "audit": audits}
    if a is not None:
        out.update({
            "status": a.status, "token_health": a.token_health, "token_error": a.token_error,
            "token_checked_at": a.token_checked_at, "token_ok_at": a.token_ok_at,
            "token_failures": a.token_failures, "token_broken_at": a.token_broken_at,
            "open_alerts": list(a.open_alerts or []), "connection": a.airbyte_connection_id,
            "connection_paused_by_health_check": bool(a.paused_by_health),
            "last_sync_at": a.last_sync_at, "uninstalled_at": a.uninstalled_at})
    return out


def show_cmd(args) -> int:
    cli = _cli()
    _parts()
    data = _show(args.hub_id)
    if data is None:
        raise cli.CliError(f"no account or audit record for hub_id {args.hub_id}", cli.NOT_FOUND)
    if args.json:
        cli._print_json(data)
        return cli.OK
    for key, value in data.items():
        if key != "audit" and value not in (None, "", []):
            print(f"{key:>34}: {value}")
    for record in data["audit"]:
        print(f"  uninstalled {record['at']} by {record['source']}: {', '.join(record['steps'])}"
              f" ({record['purged_objects']} objects purged){' - ' + record['reason'] if record['reason'] else ''}")
    return cli.OK


def check_cmd(args) -> int:
    cli = _cli()
    checker = _parts().checker()
    results = [checker.check(hub_id, force=True) for hub_id in args.hub_ids]
    rows = [{"hub_id": r.hub_id, "result": r.outcome, "code": r.code, "events": r.events}
            for r in results]
    if args.json:
        cli._print_json(rows)
    else:
        for row in rows:
            print(f"hub {row['hub_id']:>10}  {row['result']:<9} {row['code']:<20} {' '.join(row['events'])}")
    return cli.OK if all(r.outcome in ("ok", "skipped") for r in results) else cli.FAILED


def run_cmd(args) -> int:
    from hubspot_app.handlers.lifecycle import token_health_schedule

    parts = _parts()
    summary = token_health_schedule({"detail": {"force": args.force}}, parts.services)
    print(json.dumps(summary))
    return _cli().OK


def uninstall_cmd(args) -> int:
    cli = _cli()
    if not args.yes:
        raise cli.CliError("uninstall deletes the account's connection, source and token: add --yes",
                           cli.USAGE)
    purge = True if args.purge else (False if args.keep_data else None)
    report = _offboard(_parts(), args.hub_id, args.reason or "", purge)
    data = {"hub_id": report.hub_id, "done": report.done, "steps": report.steps,
            "purged_objects": report.purged_objects}
    if args.json:
        cli._print_json(data)
    else:
        print(f"hub {report.hub_id}: {'offboarded' if report.done else 'nothing done'}: "
              f"{', '.join(report.steps)}; {report.purged_objects} objects purged")
    return cli.OK if report.done else cli.NOT_FOUND


def _offboard(parts, hub_id: int, reason: str, purge: bool | None):
    """Offboard now; while a provisioning run holds the account's lease, wait for it (at most
    one lease's length: the lease ends by then even if its run crashed)."""
    import sys
    import time

    from hubspot_app.lifecycle.provisioner import Busy

    uninstaller = parts.uninstaller()
    give_up = time.monotonic() + parts.settings.provisioning.lease_seconds + 5
    while True:
        try:
            return uninstaller.uninstall(hub_id, source="operator", reason=reason, purge=purge)
        except Busy as exc:
            if time.monotonic() + exc.retry_after > give_up:
                raise _cli().CliError(f"hub {hub_id}: {exc}; it is marked uninstalled, run the "
                                      "command again to finish offboarding", _cli().FAILED) from None
            print(f"hub {hub_id}: {exc}; waiting {exc.retry_after}s", file=sys.stderr)
            time.sleep(exc.retry_after)


def register(groups) -> None:
    health = groups.add_parser("health", help="token health and offboarding")
    sub = health.add_subparsers(dest="command", required=True)
    p = sub.add_parser("show", help="token health, last sync, open alerts, uninstall audit")
    p.add_argument("hub_id", type=_hub_id)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=show_cmd)
    p = sub.add_parser("check", help="check these accounts' tokens now")
    p.add_argument("hub_ids", type=_hub_id, nargs="+", metavar="HUB_ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=check_cmd)
    p = sub.add_parser("run", help="queue a check of every account now")
    p.add_argument("--force", action="store_true", help="also accounts checked within the hour")
    p.set_defaults(func=run_cmd)
    p = sub.add_parser("uninstall", help="offboard an account now")
    p.add_argument("hub_id", type=_hub_id)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--purge", action="store_true", help="also delete its raw and curated data")
    group.add_argument("--keep-data", action="store_true", help="keep its S3 data")
    p.add_argument("--reason", help="kept in the audit record (no personal data)")
    p.add_argument("--yes", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=uninstall_cmd)
