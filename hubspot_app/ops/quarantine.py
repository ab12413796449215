"""`python -m hubspot_app.ops quarantine ...`: raw files the curate job set aside.

    quarantine list [--hub ID] [--json]      every quarantined raw file: hub_id, key, reason, run
    quarantine retry [--hub ID] [--key KEY] [--no-run]
                                             clear entries (all, one account's, one file) so the
                                             next curate run reads them again; starts that run
                                             for the accounts concerned unless --no-run

The job writes `<curated>/_state/quarantine/<hub_id>.json` (glue/hubcurate/quarantine.py) and
skips a quarantined key at the ETag it had; a file rewritten under the same key is read again
without this command. Exit codes as the ops CLI: 0 done, 1 a call failed, 2 bad usage or
configuration, 3 nothing matched.
"""
from __future__ import annotations

import json


def _cli():
    from hubspot_app.ops import cli

    return cli


def _lake() -> tuple[str, str]:
    settings = _cli()._settings()
    if not settings.lake.bucket:
        raise _cli().CliError("LAKE_BUCKET is not set (use --stage or the environment)",
                              _cli().USAGE)
    return settings.lake.bucket, f"{settings.lake.curated_prefix}/_state/quarantine/"


def records(s3, bucket: str, prefix: str, hub: int | None = None) -> dict[str, dict]:
    """{hub_id: record} of the quarantine records (one account's with ``hub``)."""
    keys = [f"{prefix}{hub}.json"] if hub is not None else [
        o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                          Prefix=prefix)
        for o in page.get("Contents", []) if o["Key"].endswith(".json")]
    out = {}
    for key in keys:
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue
        out[key[len(prefix):].removesuffix(".json")] = json.loads(body)
    return out


def rows(recs: dict[str, dict]) -> list[dict]:
    return [{"hub_id": int(h) if h.isdigit() else h, "key": k, "reason": i.get("reason", ""),
             "etag": i.get("etag", ""), "size": i.get("size"), "run_id": i.get("run_id", "")}
            for h, rec in sorted(recs.items()) for k, i in sorted(rec.get("files", {}).items())]


def retry(s3, bucket: str, prefix: str, hub: int | None = None, key: str | None = None) -> dict:
    """Remove matching entries. Returns {hub_id: [keys cleared]}."""
    cleared: dict[str, list[str]] = {}
    for h, rec in records(s3, bucket, prefix, hub).items():
        files = rec.get("files", {})
        gone = [k for k in files if key is None or k == key]
        if not gone:
            continue
        for k in gone:
            files.pop(k)
        target = f"{prefix}{h}.json"
        if files:
            s3.put_object(Bucket=bucket, Key=target, Body=json.dumps(rec, sort_keys=True).encode())
        else:
            s3.delete_object(Bucket=bucket, Key=target)
        cleared[h] = sorted(gone)
    return cleared


def list_cmd(args) -> int:
    bucket, prefix = _lake()
    found = rows(records(_cli()._services().s3, bucket, prefix, args.hub))
    if args.json:
        print(json.dumps(found, indent=2, default=str))
        return _cli().OK
    for r in found:
        print(f"  hub {r['hub_id']:>10}  {r['key']}\n{'':17}{r['reason']} (run {r['run_id']})")
    print(f"{len(found)} quarantined raw file(s)")
    return _cli().OK


def retry_cmd(args) -> int:
    if args.key and args.hub is None and not args.key.startswith("raw/"):
        raise _cli().CliError("--key is a raw file key (raw/<hub_id>/<stream>/<file>)",
                              _cli().USAGE)
    hub = args.hub
    if hub is None and args.key:
        part = args.key.split("/")[1] if args.key.count("/") >= 1 else ""
        hub = int(part) if part.isdigit() else None
    bucket, prefix = _lake()
    svc = _cli()._services()
    cleared = retry(svc.s3, bucket, prefix, hub, args.key)
    if not cleared:
        print("nothing quarantined matched", flush=True)
        return _cli().NOT_FOUND
    n = sum(map(len, cleared.values()))
    print(f"cleared {n} file(s) of {len(cleared)} account(s): the next curate run reads them")
    if not args.no_run:
        from hubspot_app.glue_trigger import Config, start_run

        # A run needs the job's name and lake root only: no trigger queue is looked up (the
        # command must work wherever the job is reachable, queue or not).
        glue = svc.settings.glue
        cfg = Config(job_name=glue.job_name or "hubspot-curate", lake_root=glue.lake_root)
        run = start_run(svc.glue, cfg, sorted(cleared))
        print(f"started curate run {run} for hub_id(s) {','.join(sorted(cleared))}")
    return _cli().OK


def register(groups) -> None:
    from hubspot_app.hub_ids import hub_id_arg

    q = groups.add_parser("quarantine", help="raw files the curate job could not use")
    sub = q.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="quarantined raw files: hub_id, key, reason, run")
    p.add_argument("--hub", type=hub_id_arg, help="only this hub_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=list_cmd)
    p = sub.add_parser("retry", help="clear entries so the next curate run reads the files "
                                     "again (after fixing the cause)")
    p.add_argument("--hub", type=hub_id_arg, help="only this hub_id's files")
    p.add_argument("--key", help="only this raw file (raw/<hub_id>/<stream>/<file>.parquet)")
    p.add_argument("--no-run", action="store_true",
                   help="do not start a curate run (the next event or hourly run reads them)")
    p.set_defaults(func=retry_cmd)
