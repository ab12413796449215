"""python -m hubspot_app.ops: the operators' tools for provisioning.

    dlq [--queue provision|lifecycle|glue|association_labels] list [--hub ID] [--json]
                                          dead-lettered messages: hub_id, error, receives
    dlq [--queue Q] show MESSAGE_ID [--json]   one message, its body and the account's history
    dlq [--queue Q] redrive (MESSAGE_ID... | --all)   back to its queue (after fixing the cause)
    dlq [--queue Q] purge (MESSAGE_ID... | --all) --yes
    account list [--status S] [--json]    every account: status, token health, last sync, last
                                          curated run, dead letters (the overview to open first)
    account show HUB_ID [--json]          an account's status, Airbyte ids and provisioning history
    reconcile [--dry-run] [--json]        compare accounts with Airbyte; queue repairs
    tokens status | migrate [--dry-run]   refresh tokens' encryption format (ops/tokens.py)
    quarantine list | retry [--hub H] [--key K]   raw files the curate job set aside
    association-labels read HUB_ID [--json]   read one account's association labels now
                                          (ops/labels.py; exit 4: its refresh token is refused)

Settings come from the environment, as in Lambda; `--stage NAME` takes them from
.chalice/config.json instead (AWS credentials from the usual AWS_PROFILE etc.).

Exit codes: 0 done; 1 an AWS or Airbyte call failed (or some items failed); 2 bad usage or
configuration; 3 the message or account was not found (association-labels: also 4, the
account's refresh token is refused).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from hubspot_app.config import stage_environment
from hubspot_app.hub_ids import hub_id_arg as _hub_id

OK, FAILED, USAGE, NOT_FOUND = 0, 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _stage_env(stage: str) -> dict:
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        path = base / ".chalice" / "config.json"
        if path.exists():
            try:
                env = stage_environment(stage, json.loads(path.read_text()))
            except KeyError as exc:
                raise CliError(f"{exc.args[0]} ({path})", USAGE) from None
            if env.get("LAKE_BUCKET") and \
                    env.get("LAKE_BUCKET_ACCOUNT_REGION_SUFFIX", "").lower() == "true":
                env["LAKE_BUCKET"] = _deployed_bucket_name(env["LAKE_BUCKET"])
            return env
    raise CliError("--stage needs .chalice/config.json (run from the repository)", USAGE)


def _deployed_bucket_name(base: str) -> str:
    """The name the template gives the lake bucket: <LAKE_BUCKET>-<account id>-<region>
    (deploy/infra.py), for the operator's current AWS account and region."""
    import boto3

    session = boto3.session.Session()
    if not session.region_name:
        raise CliError("no AWS region: set AWS_REGION (or AWS_PROFILE) to the stage's region", USAGE)
    account = session.client("sts").get_caller_identity()["Account"]
    return f"{base}-{account}-{session.region_name}"


def _services():
    """This command's Services (hubspot_app.runtime): the stage's settings, its tables bound."""
    from hubspot_app.runtime import services

    try:
        return services()
    except RuntimeError as exc:
        raise CliError(f"{exc} (or pass --stage)", USAGE) from None


def _settings():
    return _services().settings


def _route(args):
    """(sqs client, the chosen DLQ's URL, its source queue's URL, its name) for `--queue`."""
    from hubspot_app.ops.dlq import route as dlq_route

    svc = _services()
    route = dlq_route(args.queue, svc)
    if not route.dlq or not route.source:
        raise CliError(f"the {args.queue} queue or its DLQ is not configured for this stage "
                       f"(see README, Settings)", USAGE)
    return svc.sqs, route.dlq, route.source, f"the {args.queue} DLQ"


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, default=str))


def _note(hub_id, event: str, detail: str, message_id: str | None = None) -> None:
    """Add an operator action to the account's provisioning history (best effort)."""
    from pynamodb.exceptions import DoesNotExist

    from hubspot_app.lifecycle.provisioner import history_action, history_event
    from hubspot_app.models import Account, utcnow

    if hub_id is None:
        return
    try:
        account = Account.get(int(hub_id), consistent_read=True)
    except DoesNotExist:
        return
    account.update(actions=[history_action(account, history_event(event, detail, message_id)),
                            Account.updated_at.set(utcnow())])


# -- dlq ----------------------------------------------------------------------------------
def dlq_list(args) -> int:
    from hubspot_app.ops.dlq import receive_all, release

    sqs, dlq_url, _, label = _route(args)
    letters = receive_all(sqs, dlq_url)
    release(sqs, dlq_url, letters)
    if args.hub:
        letters = [d for d in letters if args.hub in d.hub_ids]
    letters.sort(key=lambda d: (d.failed_at, d.message_id))
    if args.json:
        _print_json([d.summary() for d in letters])
        return OK
    print(f"{len(letters)} message(s) on {label}")
    if letters:
        print(f"{'MESSAGE ID':<38} {'HUB ID':>10} {'KIND':<17} {'RECEIVES':>8}  "
              f"{'FAILED AT':<25} {'FROM':<36} ERROR")
    for d in letters:
        hubs = str(d.hub_id) if d.hub_id is not None else (f"{len(d.hub_ids)} hubs" if d.hub_ids else "-")
        print(f"{d.message_id:<38} {hubs:>10} {d.error_kind:<17} {d.receive_count:>8}  "
              f"{d.failed_at:<25} {d.source_queue or '-':<36} {d.error[:160]}")
    if letters:
        print(f"\nFix the cause, then: python -m hubspot_app.ops dlq --queue {args.queue} "
              "redrive --all (or MESSAGE_ID ...)")
    return OK


def _select(args, letters):
    if args.all:
        chosen = letters if not getattr(args, "hub", None) else [
            d for d in letters if args.hub in d.hub_ids]
        return chosen, []
    by_id = {d.message_id: d for d in letters}
    return [by_id[i] for i in args.message_ids if i in by_id], \
        [i for i in args.message_ids if i not in by_id]


def dlq_show(args) -> int:
    from hubspot_app.ops.dlq import receive_all, release

    sqs, dlq_url, _, label = _route(args)
    letters = receive_all(sqs, dlq_url)
    release(sqs, dlq_url, letters)
    match = [d for d in letters if d.message_id == args.message_id]
    if not match:
        raise CliError(f"no message {args.message_id} on {label}", NOT_FOUND)
    d = match[0]
    history = _account_dict(d.hub_id) if d.hub_id is not None else None
    if args.json:
        _print_json({**d.summary(), "body": d.body, "account": history})
        return OK
    for key, value in d.summary().items():
        print(f"{key:>14}: {value}")
    print(f"{'body':>14}: {d.body}")
    if history:
        print()
        _print_account(history)
    print(f"\nRedrive after the fix: python -m hubspot_app.ops dlq --queue {args.queue} "
          f"redrive {d.message_id}")
    return OK


def dlq_redrive(args) -> int:
    from hubspot_app.ops.dlq import receive_all, redrive, release

    sqs, dlq_url, target, _ = _route(args)
    letters = receive_all(sqs, dlq_url)
    chosen, missing = _select(args, letters)
    release(sqs, dlq_url, [d for d in letters if d not in chosen])
    failed = 0
    for d in chosen:
        try:
            new_id = redrive(sqs, dlq_url, target, d)
            for hub in d.hub_ids:
                _note(hub, "redriven", f"from the {args.queue} DLQ by an operator "
                                       f"(was: {d.error[:200]})", new_id)
            print(f"redriven {d.message_id} (hub {d.hub_id or d.hub_ids}) -> {new_id}")
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            failed += 1
            print(f"FAILED {d.message_id}: {type(exc).__name__}: {exc}", file=sys.stderr)
    for m in missing:
        print(f"not found: {m}", file=sys.stderr)
    print(f"{len(chosen) - failed} redriven, {failed} failed, {len(missing)} not found")
    return FAILED if failed else (NOT_FOUND if missing else OK)


def dlq_purge(args) -> int:
    from hubspot_app.ops.dlq import purge, receive_all, release

    if not args.yes:
        raise CliError("purge deletes messages for good: add --yes", USAGE)
    sqs, dlq_url, _, _ = _route(args)
    letters = receive_all(sqs, dlq_url)
    chosen, missing = _select(args, letters)
    release(sqs, dlq_url, [d for d in letters if d not in chosen])
    for d in chosen:
        purge(sqs, dlq_url, d)
        for hub in d.hub_ids:
            _note(hub, "purged", f"deleted from the {args.queue} DLQ by an operator "
                                 f"(was: {d.error[:200]})")
        print(f"purged {d.message_id} (hub {d.hub_id or d.hub_ids})")
    for m in missing:
        print(f"not found: {m}", file=sys.stderr)
    print(f"{len(chosen)} purged, {len(missing)} not found")
    return NOT_FOUND if missing else OK


# -- account ------------------------------------------------------------------------------
def _account_dict(hub_id: int) -> dict | None:
    from pynamodb.exceptions import DoesNotExist

    from hubspot_app.models import Account

    try:
        a = Account.get(int(hub_id), consistent_read=True)
    except DoesNotExist:
        return None
    return {
        "hub_id": int(a.hub_id), "hub_domain": a.hub_domain, "user": a.user, "status": a.status,
        "install_count": a.install_count, "installed_at": a.installed_at,
        "refresh_token": (f"KMS-encrypted ({len(a.refresh_token_encrypted)} chars)"
                          if a.refresh_token_encrypted else "none (deleted at uninstall)"),
        "airbyte_workspace_id": a.airbyte_workspace_id,
        "airbyte_destination_id": a.airbyte_destination_id,
        "airbyte_source_id": a.airbyte_source_id,
        "airbyte_connection_id": a.airbyte_connection_id,
        "provisioned_at": a.provisioned_at, "provision_attempts": a.provision_attempts,
        "provision_error": a.provision_error,
        "lease": (f"{a.provision_lease_owner} until {a.provision_lease_until}"
                  if a.provision_lease_owner else None),
        "history": [{"at": e.at, "event": e.event, "detail": e.detail,
                     "message_id": e.message_id, "receive_count": e.receive_count}
                    for e in (a.provisioning_history or [])],
    }


def _print_account(d: dict) -> None:
    for key, value in d.items():
        if key != "history" and value not in (None, ""):
            print(f"{key:>22}: {value}")
    print(f"\nProvisioning history ({len(d['history'])} event(s), oldest first):")
    for e in d["history"]:
        at = e["at"].strftime("%Y-%m-%d %H:%M:%S") if hasattr(e["at"], "strftime") else e["at"]
        rc = f" receive {e['receive_count']}" if e["receive_count"] else ""
        print(f"  {at}  {e['event']:<14}{rc:<11} {e['detail'] or ''}")


def account_list(args) -> int:
    from hubspot_app.ops.overview import COLUMNS, account_rows, render

    rows, warnings = account_rows(_services(), args.status)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        _print_json([{k: r[k] for k in COLUMNS} for r in rows])
    else:
        print(render(rows))
    return OK


def account_show(args) -> int:
    _services()  # the tables bound
    d = _account_dict(args.hub_id)
    if d is None:
        raise CliError(f"no account with hub_id {args.hub_id}", NOT_FOUND)
    if args.json:
        _print_json(d)
    else:
        _print_account(d)
    return OK


# -- reconcile ----------------------------------------------------------------------------
def reconcile_cmd(args) -> int:
    from hubspot_app.lifecycle.reconcile import run

    report = run(_services(), apply=not args.dry_run)
    if args.json:
        _print_json(report.to_dict())
        return OK
    print(f"{report.accounts} account(s): " + ", ".join(
        f"{n} {s}" for s, n in sorted(report.by_status.items())))
    for f in report.findings:
        print(f"  hub {f.hub_id or '-':>10}  {f.action:<11} {f.problem}"
              + (f" ({f.detail})" if f.detail else ""))
    verb = "would queue" if args.dry_run else "queued"
    actionable = sum(f.action != "report" for f in report.findings)
    print(f"{len(report.findings)} finding(s); {verb} {actionable if args.dry_run else report.queued}"
          f" repair message(s)")
    return OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hubspot_app.ops",
        description="Operate provisioning: the dead-letter queue, accounts, reconcile.",
        epilog="Exit codes: 0 done, 1 a call failed, 2 bad usage/configuration, 3 not found "
               "(association-labels read: 4 the account's refresh token is refused).")
    parser.add_argument("--stage", help="take settings from .chalice/config.json for this stage "
                                         "(default: from the environment)")
    groups = parser.add_subparsers(dest="group", required=True)

    from hubspot_app.ops.dlq import QUEUE_NAMES

    dlq = groups.add_parser("dlq", help="the dead-letter queues (provision, lifecycle, glue, "
                                        "association_labels)")
    dlq.add_argument("--queue", choices=QUEUE_NAMES, default="provision",
                     help="which DLQ: provision (installs), lifecycle (token checks, "
                          "uninstalls), glue (curate runs that never started), "
                          "association_labels (label reads); default provision")
    dsub = dlq.add_subparsers(dest="command", required=True)
    p = dsub.add_parser("list", help="list dead-lettered messages (hub_id, error, receive count)")
    p.add_argument("--hub", type=_hub_id, help="only this hub_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=dlq_list)
    p = dsub.add_parser("show", help="one message in full, with the account's history")
    p.add_argument("message_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=dlq_show)
    for name, func, text in (("redrive", dlq_redrive, "send messages back to their queue"),
                             ("purge", dlq_purge, "delete messages for good")):
        p = dsub.add_parser(name, help=text)
        p.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID")
        p.add_argument("--all", action="store_true", help="every message (or every one of --hub)")
        p.add_argument("--hub", type=_hub_id, help="with --all: only this hub_id's messages")
        if name == "purge":
            p.add_argument("--yes", action="store_true", help="confirm the deletion")
        p.set_defaults(func=func)

    account = groups.add_parser("account", help="accounts")
    asub = account.add_subparsers(dest="command", required=True)
    from hubspot_app.models import AccountStatus

    p = asub.add_parser("list", help="every account: status, token health, last sync, last "
                                     "curated run, dead letters")
    p.add_argument("--status", choices=AccountStatus.ALL, help="only accounts in this status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=account_list)
    p = asub.add_parser("show", help="status, Airbyte ids and provisioning history")
    p.add_argument("hub_id", type=_hub_id)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=account_show)

    p = groups.add_parser("reconcile", help="compare every account with Airbyte; queue repairs")
    p.add_argument("--dry-run", action="store_true", help="report only, queue nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=reconcile_cmd)

    from hubspot_app.ops import health  # token health and offboarding (hubspot_app/ops/health.py)
    health.register(groups)
    from hubspot_app.ops import tokens  # refresh tokens' format and migration (ops/tokens.py)
    tokens.register(groups)
    from hubspot_app.ops import quarantine  # raw files the curate job set aside (ops/quarantine.py)
    quarantine.register(groups)
    from hubspot_app.ops import labels  # association labels read now (ops/labels.py)
    labels.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "message_ids", None) is not None and not args.all and not args.message_ids:
        parser.error(f"dlq {args.command}: give MESSAGE_ID(s) or --all")
    from unittest import mock

    # --stage's variables hold for this command only (main may be called in a longer process).
    with mock.patch.dict(os.environ, _stage_env(args.stage) if args.stage else {}):
        try:
            return _run(args)
        finally:
            if args.stage:
                from hubspot_app.config import reset_settings
                reset_settings()


def _run(args) -> int:
    try:
        if args.stage:
            from hubspot_app.config import reset_settings
            reset_settings()
        from hubspot_app import logs
        logs.configure("WARNING")
        return args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except Exception as exc:  # noqa: BLE001 - an operator needs the reason, not a traceback
        from hubspot_app.logs import redact
        print(f"error: {type(exc).__name__}: {redact(str(exc))}", file=sys.stderr)
        return FAILED
