"""Glue job entry (ScriptLocation): curate the raw HubSpot lake written by Airbyte.

Arguments (as Glue passes them, resolved by awsglue's getResolvedOptions on Glue and by the
same parser locally, hubcurate.glue_compat): required --lake_root s3://bucket/ (file:///dir/
locally); optional --hub_ids 123,456 or ALL (what the trigger says to process), --run_id,
--alerts_topic_arn (quarantined raw files are alerted there), --glue_database (the Glue
database of the Iceberg tables, in catalog ``glue_catalog`` set up by the job's --conf; locally
the namespace in a Hadoop catalog on <lake_root>curated/), --purge_hub_ids 123,456 (an uninstall:
delete these accounts' rows from every table and expire the snapshots older than
--purge_retention_hours, default 0, that still hold them; no curating), --mode maintenance (the
scheduled table maintenance: processed_files rows of raw file versions gone longer than
--raw_restorable_days (default 30, the lake bucket's NoncurrentDays in deploy/infra.py: how long
a deleted or replaced raw version can be restored) forgotten, compaction, snapshots older than
--snapshot_retention_hours expired, orphan files older than --orphan_older_than_hours removed;
no curating), --upsert auto|off (auto, the default: an incremental run merges its new rows
into a table with MERGE INTO when it can; off: every table the run touches is rewritten for its
accounts, the way back if MERGE misbehaves on a runtime, glue/README.md "Curated layer"),
--fail_at (tests only).
The library ``hubcurate`` comes with --extra-py-files on Glue and from this directory locally."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hubcurate import iceberg, job
from hubcurate.glue_compat import GlueRun

REQUIRED = ["lake_root"]
OPTIONAL = {"hub_ids": "ALL", "run_id": "", "fail_at": "", "alerts_topic_arn": "",
            "glue_database": iceberg.DEFAULT_DATABASE, "purge_hub_ids": "",
            "purge_retention_hours": "0", "mode": "curate", "snapshot_retention_hours": "168",
            "orphan_older_than_hours": "72", "raw_restorable_days": "30", "upsert": "auto",
            "JOB_NAME": "hubspot-curate"}
UPSERT = ("auto", "off")


def main(argv=None, spark=None) -> dict:
    g = GlueRun(argv, REQUIRED, OPTIONAL, spark=spark)
    catalog = iceberg.GLUE_CATALOG if g.on_glue else ""
    if g.args["mode"] not in ("curate", "maintenance"):
        raise ValueError(f"--mode {g.args['mode']!r}: curate or maintenance")
    if g.args["upsert"] not in UPSERT:
        raise ValueError(f"--upsert {g.args['upsert']!r}: auto (merge where it can) or off "
                         f"(always rewrite the accounts' rows)")
    if g.args["mode"] == "maintenance":  # the schedule's run (deploy/infra.py GlueMaintenance)
        report = job.maintain(g.spark, g.args["lake_root"],
                              float(g.args["snapshot_retention_hours"]),
                              float(g.args["orphan_older_than_hours"]),
                              g.args["glue_database"], catalog,
                              float(g.args["raw_restorable_days"]),
                              g.args["run_id"] or g.args.get("JOB_RUN_ID") or None)
        g.commit()
        return report
    if g.args["purge_hub_ids"]:  # an uninstall: these accounts' curated rows, then nothing else
        report = job.purge(g.spark, g.args["lake_root"], g.args["purge_hub_ids"],
                           float(g.args["purge_retention_hours"]), g.args["glue_database"], catalog)
        g.commit()
        return report
    report = job.run(g.spark, g.args["lake_root"], g.args["hub_ids"],
                     run_id=g.args["run_id"] or g.args.get("JOB_RUN_ID") or None,
                     fail_at=g.args["fail_at"] or None,
                     alerts_topic_arn=g.args["alerts_topic_arn"],
                     database=g.args["glue_database"],
                     iceberg_catalog=catalog, upsert=g.args["upsert"] == "auto")
    g.commit()  # only after the run's table commits and bookkeeping are in place
    return report


if __name__ == "__main__":
    print(json.dumps(main(), default=str)[:4000])
