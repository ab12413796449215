"""Main-job step: the raw files' S3 events reach the Glue trigger function through its queue
(as Lambda's SQS event source would deliver them), the trigger starts Glue runs on the local
Glue (PySpark), and the curated tables are printed per account beside the sandbox's own counts."""
from __future__ import annotations

import time

import requests

from hubspot_app.models import Account

from .dispatcher import SqsRoute, describe
from .stack import LocalStack

ARCHIVED = "_archived"  # deals_archived, owners_archived: the base table's deleted rows


def expected_tables(stream_counts: dict) -> dict:
    """{curated table: {"live", "deleted"}} the sandbox's ground truth per connector stream
    (GET /_sandbox/accounts/{hub}/streams) implies: each stream feeds the table of its name,
    a `*_archived` stream the deleted rows of its base table (glue/hubcurate/catalog.table_of)."""
    out: dict = {}
    for stream, n in stream_counts.items():
        if stream.endswith(ARCHIVED):
            out.setdefault(stream[: -len(ARCHIVED)], {"live": 0, "deleted": 0})["deleted"] += n
        else:
            out.setdefault(stream, {"live": 0, "deleted": 0})["live"] += n
    return out


def _heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)), flush=True)


def curate_all(stack: LocalStack, hub_ids: list[int], timeout_s: float = 900,
               step: str = "7", table_step: str = "8") -> bool:
    """Returns True when every account's curated entity tables match the sandbox's counts."""
    _heading(f"{step}. S3 events -> Glue trigger -> Glue job (local PySpark) -> curated tables")
    seen_runs = set(stack.glue.runs)
    queue = stack.env["GLUE_TRIGGER_QUEUE_NAME"]
    route = SqsRoute(stack.chalice_client(), queue, "glue_trigger", batch_size=1000)
    started = time.monotonic()
    report = route.run_until_idle(timeout=timeout_s)
    print(f"  trigger delivery: {describe(report)}")
    stack.glue.wait()
    runs = [r for rid, r in stack.glue.runs.items() if rid not in seen_runs]
    for run in runs:
        print(f"  glue run {run['Id']}: {run['JobRunState']} "
              f"(--hub_ids {run['Arguments'].get('--hub_ids', '?')})"
              + (f" error: {run.get('ErrorMessage')}" if run.get("ErrorMessage") else ""))
        unfit = {k: len(run.get("report", {}).get(k) or [])
                 for k in ("quarantined", "unrecognised", "unknown_streams")}
        if unfit["quarantined"] or unfit["unrecognised"]:  # files the run set aside
            print("    " + ", ".join(f"{k}: {n}" for k, n in unfit.items() if n and k != "unknown_streams")
                  + " (python -m hubspot_app.ops quarantine list)")
        if unfit["unknown_streams"]:  # curated all the same: custom objects, new connector streams
            names = sorted(u["stream"] for u in run["report"]["unknown_streams"])
            print(f"    curated streams the job has no model for (custom objects or streams new to "
                  f"the connector; tables made from their records as they are): {', '.join(names)}")
    print(f"  {len(runs)} run(s) for {report.received} event message(s) in "
          f"{time.monotonic() - started:.0f} s")
    return show_curated(stack, hub_ids, table_step)


def show_curated(stack: LocalStack, hub_ids: list[int], step: str = "8") -> bool:
    """Every curated table of every account against the sandbox's ground truth of the streams
    feeding it (live and deleted rows). False when one differs; streams the account's
    connection syncs that have records but no table are listed."""
    _heading(f"{step}. Curated tables per account (rows = live + deleted), against the sandbox")
    from .lake_query import summary  # the Iceberg tables read with pyiceberg, not the job's code

    curated = summary(stack.glue.lake_root)
    all_match, checked = True, 0
    for hub in sorted(hub_ids):
        truth = requests.get(f"{stack.hubspot_url}/_sandbox/accounts/{hub}/streams",
                             timeout=60).json()
        # Property history is append-only in the lake: the history of deals deleted since the
        # first sync stays (the stream carries no deletions), so count it in.
        expected = expected_tables({**truth["streams"], **truth["history_with_deleted"]})
        print(f"  hub {hub}")
        for table in sorted(curated):
            part = curated[table].get(str(hub)) or curated[table].get(hub)
            if not part or table == "association_labels":  # its own line, below
                continue
            line = (f"    {table:<28} rows={part['rows']:>6}  live={part['live']:>6}  "
                    f"deleted={part['deleted']:>5}")
            want = expected.get(table)
            if want is not None:
                ok = part["live"] == want["live"] and part["deleted"] == want["deleted"]
                all_match &= ok
                checked += 1
                line += (f"  sandbox live={want['live']:>6} deleted={want['deleted']:>5} "
                         f"{'match' if ok else 'MISMATCH'}")
            print(line)
        labels = labels_against_snapshot(stack, hub, truth)
        if labels is not None:
            all_match &= labels
            checked += 1
        synced = expected_tables({str(i).split(":")[0]: 1 for i in
                                  Account.get(hub).airbyte_streams or []})
        missing = sorted(t for t, w in expected.items() if w["live"] + w["deleted"]
                         and t in synced and not (curated.get(t, {}).get(str(hub))
                                                  or curated.get(t, {}).get(hub)))
        print(f"    {len(synced)} table(s) synced for it"
              + (f"; not curated (records in the sandbox, no table): {', '.join(missing)}"
                 if missing else ""))
    print(f"  {checked} curated table(s) checked: they {'match' if all_match else 'DO NOT match'} "
          f"the sandbox's streams")
    return all_match


# Changes a day in HubSpot brings. Deleted deals reach the lake through the connector's
# deals_archived stream; HubSpot's incremental contacts search returns no deleted contacts (an
# Airbyte connector limit: only a full refresh would drop them), so contacts only change here.
CHANGES = {"contacts": {"creates": 3, "updates": 2}, "companies": {"updates": 2},
           "deals": {"creates": 2, "updates": 2, "deletes": 3}}


def change_in_hubspot(stack: LocalStack, hub_ids: list[int], step: str) -> None:
    _heading(f"{step}. Changes in HubSpot: creates, updates and deletes since the first sync")
    for hub in sorted(hub_ids):
        requests.post(f"{stack.hubspot_url}/_sandbox/accounts/{hub}/changes", json=CHANGES,
                      timeout=30).raise_for_status()
        done = ", ".join(f"{obj} " + " ".join(f"{n} {kind}" for kind, n in spec.items())
                         for obj, spec in CHANGES.items())
        print(f"  hub {hub:>10}  {done}")


def labels_against_snapshot(stack: LocalStack, hub: int, truth: dict) -> bool | None:
    """The account's curated association_labels rows per pair (pyiceberg + DuckDB, not the
    job's code) against its newest reader snapshot's records per pair (step 6b checked those
    against the sandbox). While the sandbox still holds what that snapshot read, its own
    counts are the expectation; after HubSpot changed (step 9) the lake keeps the snapshot
    until the reader's next daily read. None when the account has no snapshot (or was
    purged)."""
    from .labels_step import manifests
    from .lake_query import LakeError, query

    snaps = manifests(stack.env["LAKE_BUCKET"], hub)
    if not snaps:
        return None
    newest = {f"{p['from']}__{p['to']}": p["records"] for p in snaps[-1]["pairs"]}
    sandbox = truth.get("association_labels") or {}
    current = all(sandbox.get(k) == n for k, n in newest.items())
    try:
        _, rows = query("SELECT from_object_type || '__' || to_object_type, count(*) FROM "
                        f"association_labels WHERE hub_id = '{int(hub)}' GROUP BY 1",
                        stack.glue.lake_root)
    except LakeError:
        rows = []
    got = {k: n for k, n in rows}
    want = {k: n for k, n in newest.items() if n}
    wrong = {k: (got.get(k, 0), n) for k, n in want.items() if got.get(k, 0) != n}
    wrong.update({k: (n, 0) for k, n in got.items() if k not in want})
    basis = "sandbox" if current else f"snapshot {snaps[-1]['snapshot_id']}"
    print(f"    {'association_labels':<28} rows={sum(got.values()):>6}  {basis} "
          f"lines={sum(want.values()):>6} over {len(want)} pair(s) "
          + ("match" if not wrong else f"MISMATCH {wrong}"))
    return not wrong
