"""`python -m hubspot_app.ops tokens ...`: stored refresh tokens' encryption format.

    tokens status [--json]              how many accounts hold v2 (KMS Encrypt), v1 (the retired
                                        envelope format) or something else
    tokens migrate [--dry-run] [--json] re-encrypt every v1 token as v2 (same KMS key, same
                                        hub_id encryption context); needs `cryptography`
                                        (requirements-dev.txt), which the Lambda package omits

The migration is safe to repeat and to run while the functions run: each item is rewritten only
if it still holds the value that was read (a conditional update), so a token the install or a
refresh replaced meanwhile is left alone and counted as `changed_meanwhile`.
"""
from __future__ import annotations

import json


def _cli():
    from hubspot_app.ops import cli

    return cli


def status() -> dict[str, int]:
    from hubspot_app.models import Account
    from hubspot_app.token_crypto import token_format

    counts = {"v2": 0, "v1": 0, "unknown": 0}
    for account in Account.scan(attributes_to_get=["hub_id", "refresh_token_encrypted"]):
        if account.refresh_token_encrypted:
            counts[token_format(account.refresh_token_encrypted)] += 1
    return counts


def migrate(key_id: str, kms, dry_run: bool = False) -> dict:
    """Re-encrypt v1 tokens as v2 with the `kms` client (Services.kms). Returns counts and the
    hub_ids that failed (never tokens)."""
    from pynamodb.exceptions import UpdateError

    from hubspot_app.models import Account, condition_failed
    from hubspot_app.token_crypto import TokenDecryptError, decrypt_token, encrypt_token, token_format

    report: dict = {"migrated": 0, "already_v2": 0, "changed_meanwhile": 0, "failed": []}
    for account in Account.scan(attributes_to_get=["hub_id", "refresh_token_encrypted"]):
        old = account.refresh_token_encrypted
        if not old:
            continue
        fmt = token_format(old)
        if fmt == "v2":
            report["already_v2"] += 1
            continue
        if fmt != "v1":
            report["failed"].append({"hub_id": account.hub_id, "error": "unknown token format"})
            continue
        try:
            token = decrypt_token(old, int(account.hub_id), kms=kms)
        except TokenDecryptError as exc:
            report["failed"].append({"hub_id": account.hub_id, "error": str(exc)})
            continue
        if dry_run:
            report["migrated"] += 1
            continue
        new = encrypt_token(token, int(account.hub_id), key_id, kms=kms)
        try:
            account.update(actions=[Account.refresh_token_encrypted.set(new)],
                           condition=Account.refresh_token_encrypted == old)
        except UpdateError as exc:
            if condition_failed(exc):
                report["changed_meanwhile"] += 1
                continue
            raise
        report["migrated"] += 1
    return report


def _status_cmd(args) -> int:
    cli = _cli()
    cli._services()  # the tables bound
    counts = status()
    if args.json:
        print(json.dumps(counts))
    else:
        print(", ".join(f"{n} {fmt}" for fmt, n in counts.items()))
    return cli.OK


def _migrate_cmd(args) -> int:
    cli = _cli()
    svc = cli._services()
    report = migrate(svc.settings.kms_key_id, svc.kms, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(report))
    else:
        verb = "would migrate" if args.dry_run else "migrated"
        print(f"{verb} {report['migrated']} v1 token(s); {report['already_v2']} already v2; "
              f"{report['changed_meanwhile']} changed meanwhile (left alone); "
              f"{len(report['failed'])} failed")
        for f in report["failed"]:
            print(f"  hub {f['hub_id']}: {f['error']}")
    return cli.FAILED if report["failed"] else cli.OK


def register(groups) -> None:
    tokens = groups.add_parser("tokens", help="stored refresh tokens' encryption format")
    sub = tokens.add_subparsers(dest="command", required=True)
    p = sub.add_parser("status", help="count accounts per token format (v2, v1, unknown)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_status_cmd)
    p = sub.add_parser("migrate", help="re-encrypt v1 (envelope) tokens as v2 (KMS Encrypt)")
    p.add_argument("--dry-run", action="store_true", help="count only, write nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_migrate_cmd)
