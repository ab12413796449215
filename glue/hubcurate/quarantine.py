"""Raw files the job cannot use, set aside so they never block a run.

A file that cannot be read (zero bytes, truncated, not Parquet) or whose schema is not an
Airbyte record's is recorded in ``curated/_state/quarantine/<hub_id>.json`` with the reason,
its ETag and the run that found it. Later runs skip that key *at that ETag*: the same bytes
would fail the same way, so retrying them every hour would only repeat the alert. An object
rewritten under the same key (a new ETag) is read again by itself; an operator clears entries
with ``python -m hubspot_app.ops quarantine retry`` after fixing what else was wrong.

Each quarantined file is reported three ways: the run report's ``quarantined`` list, one
JSON log line per file plus a metric line (``QuarantinedFiles``), and one alert per run (SNS
``--alerts_topic_arn`` when the job has one; else the alert is a WARNING log line, as
hubspot_app.alerts does without a topic).
"""
from __future__ import annotations

import json
import logging
import time

log = logging.getLogger("hubcurate")

PARQUET_MAGIC = b"PAR1"


def record_key(hub: str) -> str:
    return f"curated/_state/quarantine/{hub}.json"


def load(store, hub: str) -> dict:
    return store.get_json(record_key(hub), {"files": {}})


def structural_problem(store, key: str, size: int) -> str | None:
    """Why a file cannot be a Parquet file, from its size and its first/last bytes only:
    a Parquet file starts and ends with ``PAR1`` and its last 8 bytes hold the footer length
    (Apache Parquet format, "File format"). None when it may be one."""
    if size < 12:
        return "empty file" if size == 0 else f"too short to be Parquet ({size} bytes)"
    head, tail = store.ends(key)
    if head != PARQUET_MAGIC:
        return "not a Parquet file (no PAR1 header)"
    if tail[4:] != PARQUET_MAGIC:
        return "truncated (no PAR1 footer magic)"
    footer = int.from_bytes(tail[:4], "little")
    if footer + 12 > size:
        return f"truncated (footer of {footer} bytes does not fit in {size})"
    return None


def structural_problems(store, files: dict[str, int], workers: int = 16) -> dict[str, str]:
    """{key: why} of ``files`` ({key: size}) that cannot be Parquet (structural_problem). Two
    ranged GETs per file on S3: in threads, or 1,400 new files would wait ~1 minute in turn."""
    from concurrent.futures import ThreadPoolExecutor
    keys = sorted(files)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(keys)))) as pool:
        found = pool.map(lambda k: structural_problem(store, k, files[k]), keys)
        return {k: why for k, why in zip(keys, found, strict=True) if why}


def add(store, found: dict[str, dict[str, dict]], run_id: str) -> None:
    """Record {hub: {key: {"etag", "size", "reason"}}} in the hubs' quarantine records."""
    for hub, files in found.items():
        rec = load(store, hub)
        for key, info in files.items():
            rec["files"][key] = {**info, "run_id": run_id, "at": time.time()}
        store.put_json(record_key(hub), rec)


def metric_line(name: str, value: int, run_id: str) -> None:
    """A metric as one embedded-metric-format JSON line on stdout (the shape
    hubspot_app.metrics writes): Glue's continuous logging ships stdout to CloudWatch Logs."""
    print(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
        "Namespace": "HubSpotPipeline", "Dimensions": [["Job"]],
        "Metrics": [{"Name": name, "Unit": "Count"}]}]},
        "Job": "curate", name: value, "run_id": run_id}), flush=True)


def report(found: dict[str, dict[str, dict]], run_id: str, topic_arn: str = "",
           sns=None) -> list[dict]:
    """Log line per file, one metric line, one alert for the run. Returns the report list."""
    items = [{"hub_id": h, "key": k, "reason": i["reason"]}
             for h, files in sorted(found.items()) for k, i in sorted(files.items())]
    if not items:
        return items
    for item in items:
        log.warning(json.dumps({"msg": "raw file quarantined", "run_id": run_id, **item}))
    metric_line("QuarantinedFiles", len(items), run_id)
    alert = {"event": "raw_files_quarantined", "severity": "warning",
             "hub_id": int(items[0]["hub_id"]) if len(found) == 1 else None,
             "summary": f"{len(items)} raw file(s) could not be used and were quarantined "
                        f"by curate run {run_id}; the rest of the run committed",
             "action": "Inspect them with `python -m hubspot_app.ops quarantine list`; after "
                       "fixing the cause, `ops quarantine retry` (README, Operating it)",
             "details": {"files": items[:20], "run_id": run_id},
             "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if topic_arn:
        if sns is None:
            import boto3
            sns = boto3.client("sns")
        sns.publish(TopicArn=topic_arn, Subject="HubSpot pipeline: raw files quarantined",
                    Message=json.dumps(alert))
    else:
        log.warning(json.dumps({"msg": "alert", **alert}))
    return items
