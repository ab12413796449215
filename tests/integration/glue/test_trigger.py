"""The S3 -> SQS -> trigger -> Glue path: batching, retries, no file forgotten."""
import json
import logging
import threading
import time
from pathlib import Path

import boto3
import pytest
from conftest import T0

from hubspot_app import glue_trigger as gt
from local_stack import raw_lake
from local_stack.glue_runner import LocalGlue
from tests.harness import s3_event


@pytest.fixture(scope="module")
def moto_url():
    from local_stack.stack import start_moto

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = start_moto(0)
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def client(name, url):
    return boto3.client(name, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


class Queues:
    """SQS semantics the trigger relies on (delays, a DLQ), in memory: moto's SQS slows down
    linearly with queue depth, far too slow for a 5,000-message burst."""

    def __init__(self):
        self.q = {}

    def send_message(self, QueueUrl, MessageBody, DelaySeconds=0):
        self.q.setdefault(QueueUrl, []).append((time.time() + DelaySeconds, MessageBody))

    def receive(self, url, n):
        now, q = time.time(), self.q.setdefault(url, [])
        ready = [m for m in q if m[0] <= now][:n]
        self.q[url] = [m for m in q if m not in ready]
        return ready

    def depth(self, url):
        return len(self.q.get(url, []))


def test_burst_of_5000_events_starts_few_runs_and_forgets_no_file(tmp_path):
    sqs, q, dlq = Queues(), "glue-trigger", "glue-trigger-dlq"
    lake = tmp_path / "lake"
    processed, lock = set(), threading.Lock()

    def fake_job(argv):
        """What the real job guarantees (tested in test_curate.py): every raw file of the named
        accounts present when the run lists them is processed."""
        args = dict(zip(argv[::2], argv[1::2], strict=True))
        hubs = args["--hub_ids"].split(",")
        found = {str(p.relative_to(lake)) for h in hubs
                 for p in (lake / "raw" / h).rglob("*.parquet")}
        time.sleep(0.5)  # a run takes time: later batches meet ConcurrentRunsExceeded
        with lock:
            processed.update(found)
        return {}

    glue = LocalGlue(tmp_path, "lake", job=fake_job, max_concurrent_runs=1)
    cfg = gt.Config("hubspot-curate", queue_url=q, dlq_url=dlq, retry_base_seconds=1,
                    retry_max_seconds=1)
    landed, retried = [], []

    def land(n, start):
        for i in range(start, start + n):
            key = f"raw/{1000 + i % 50}/deals/2024_01_01_{T0 + i}_{i}.parquet"
            (lake / key).parent.mkdir(parents=True, exist_ok=True)
            (lake / key).write_bytes(b"")
            landed.append(key)
            sqs.send_message(q, s3_event("lake", key))

    land(4000, 0)
    invocations = 0
    deadline = time.time() + 60
    while time.time() < deadline:
        batch = sqs.receive(q, 1000)  # the event source: batch size 1000 (and a window)
        if batch:
            invocations += 1
            out = gt.handle_sqs_event({"Records": [{"body": b} for _, b in batch]}, glue, sqs, cfg)
            retried.append(out["groups_retried"])
            if invocations == 2:
                land(1000, 4000)  # files landing while a run is going
        busy = any(r["JobRunState"] in ("RUNNING", "WAITING") for r in glue.runs.values())
        if not batch and not sqs.depth(q) and not busy:
            break
        if not batch:
            time.sleep(0.1)
    glue.wait()
    assert len(landed) == 5000
    assert set(landed) <= processed  # no file forgotten
    assert all(r["JobRunState"] == "SUCCEEDED" for r in glue.runs.values())
    assert sum(retried) >= 1  # the ConcurrentRunsExceeded path was taken
    assert 2 <= len(glue.runs) <= 10, len(glue.runs)  # few runs for 5,000 files
    assert sqs.depth(dlq) == 0


def test_local_stack_path_s3_to_curated_tables(moto_url, tmp_path, spark):
    """Raw files in moto's S3 -> trigger -> LocalGlue -> the real job -> curated in S3."""
    s3, sqs = client("s3", moto_url), client("sqs", moto_url)
    s3.create_bucket(Bucket="lake-e2e")
    q = sqs.create_queue(QueueName="glue-e2e")["QueueUrl"]
    keys = raw_lake.write_account(s3, "lake-e2e", 7, {"contacts": 5, "deals": 4}, T0)
    keys.append(raw_lake.archive_deals(s3, "lake-e2e", 7, [2], T0 + 5000))
    glue = LocalGlue(tmp_path / "mirror", "lake-e2e", s3=s3)
    event = {"Records": [{"body": s3_event("lake-e2e", k)} for k in keys]}
    summary = gt.handle_sqs_event(event, glue, sqs, gt.Config("hubspot-curate", queue_url=q))
    assert len(summary["runs_started"]) == 1
    glue.wait()
    run = glue.get_job_run("hubspot-curate", summary["runs_started"][0])["JobRun"]
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["Arguments"]["--hub_ids"] == "7"
    # the Iceberg table as uploaded to S3: its current metadata, then its one data file
    base = "curated/hubspot/deals/"
    hint = s3.get_object(Bucket="lake-e2e", Key=base + "metadata/version-hint.text")["Body"].read()
    meta = json.loads(s3.get_object(Bucket="lake-e2e", Key=f"{base}metadata/v{hint.decode().strip()}"
                                    ".metadata.json")["Body"].read())
    assert meta["format-version"] == 2 and meta["current-snapshot-id"] is not None
    summary = meta["snapshots"][-1]["summary"]
    assert (summary["total-records"], summary["total-data-files"]) == ("4", "1")  # compacted
    assert summary["hubcurate.run_id"] == run["Id"]
    assert run["report"]["tables"]["deals"]["7"] == {"rows": 4, "deleted": 1}
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="lake-e2e",
                                                    Prefix=f"{base}data/hub_id=7/")["Contents"]]
    assert len(listed) == 1 and listed[0].endswith(".parquet")
    assert Path(tmp_path / "mirror" / "lake-e2e" / keys[0]).exists()
