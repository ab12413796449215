"""S3 object-created events for ``raw/`` -> few Glue job runs, no file forgotten.

Delivery: S3 -> SQS queue -> this function (SQS event source, batch size up to 10,000 and a
batching window of GLUE_TRIGGER_WINDOW_SECONDS). SQS rather than direct invocation because it
batches (thousands of files in a minute become one invocation and one run), keeps events for
days while Glue is busy or broken, retries a failed invocation, and ends in a DLQ operators
can redrive; a direct S3 -> Lambda invocation is one event at a time with only two async
retries.

No file is forgotten because the Glue job does not trust the event list: it is told which
accounts to look at (--hub_ids) and processes every raw file of theirs missing from its own
processed-files table (glue/hubcurate/bookkeeping.py). So an event only has to lead to *some*
run of its account starting after the file landed: a run that cannot start
(ConcurrentRunsExceededException, throttling) is put back on the queue as a compact retry
message with backoff; after GLUE_TRIGGER_MAX_ATTEMPTS it goes to the DLQ with the error, and
redriving it to the queue resumes it. ``reconcile`` (schedule) starts an ALL-accounts run as a
backstop for runs that started but failed.

Plain functions, no Chalice or Spark imports: app.py wires them."""
from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

if TYPE_CHECKING:
    from collections.abc import Callable

    from hubspot_app.config import GlueSettings
    from hubspot_app.runtime import Services

log = logging.getLogger("hubspot_app.glue_trigger")

# hub_ids are HubSpot portal ids (digits); streams are connector stream names. Anything else in
# a key (.., encoded slashes, other prefixes) is not a raw file and must not steer a run.
_RAW_KEY = re.compile(r"^(?P<hub>[1-9][0-9]{0,19})/(?P<stream>[A-Za-z0-9_]{1,100})/[^/]+\.parquet$")
# Our association-label reader's snapshot is complete when its manifest lands (it is written
# last, after every chunk): the manifest starts a run, its many chunks do not (the job curates
# chunks only through a manifest; glue/README.md, "Association labels").
_LABELS_MANIFEST = re.compile(
    r"^(?P<hub>[1-9][0-9]{0,19})/association_labels/[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}\.manifest\.json$")
RETRYABLE = {"ConcurrentRunsExceededException", "ThrottlingException",
             "OperationTimeoutException", "InternalServiceException",
             "ResourceNumberLimitExceededException", "TooManyRequestsException"}


@dataclass
class Config:
    job_name: str
    queue_url: str = ""
    dlq_url: str = ""
    lake_root: str = ""  # passed as --lake_root when set; else the job's default argument
    grouping: str = "global"  # "global": one run per batch; "account": one run per hub_id
    max_hubs_per_run: int = 500  # keeps --hub_ids well inside Glue's argument size limit
    retry_base_seconds: int = 60
    retry_max_seconds: int = 900  # SQS DelaySeconds maximum
    max_attempts: int = 40  # about 9 hours at the maximum delay, then the DLQ
    raw_prefix: str = "raw/"

    @classmethod
    def from_settings(cls, glue: GlueSettings, queue_url: Callable[[str], str]) -> Config:
        """From the stage's settings (hubspot_app.config, section `glue`); `queue_url` turns a
        queue's name into its URL (Services.queue_url) when the template set no URL."""
        def url(given: str, name: str) -> str:
            return given or (queue_url(name) if name else "")

        return cls(job_name=glue.job_name or "hubspot-curate",
                   queue_url=url(glue.trigger_queue_url, glue.trigger_queue_name),
                   dlq_url=url(glue.trigger_dlq_url, glue.trigger_dlq_name),
                   lake_root=glue.lake_root, grouping=glue.grouping,
                   max_hubs_per_run=glue.max_hubs_per_run,
                   retry_base_seconds=glue.retry_base_seconds,
                   retry_max_seconds=glue.retry_max_seconds, max_attempts=glue.max_attempts)

    @classmethod
    def from_services(cls, svc: Services) -> Config:
        return cls.from_settings(svc.settings.glue, svc.queue_url)


def hubs_from_body(body: str, raw_prefix: str = "raw/") -> tuple[set[str], int, int]:
    """One SQS message body -> (hub_ids, raw files it names, retry attempt). Understands S3
    notifications (also wrapped in SNS), S3's test event, and this module's retry messages."""
    hubs, versions, attempt = parse_body(body, raw_prefix)
    return hubs, len(versions), attempt


def parse_body(body: str, raw_prefix: str = "raw/") -> tuple[set[str], set[tuple[str, str]], int]:
    """(hub_ids, {(key, eTag)} of the raw object versions it names, retry attempt). A file is
    its key *and* its ETag (S3 events carry ``eTag`` and ``sequencer``): a rewrite under the
    same key is another version, which the job reads again (its processed_files table keeps key + ETag)."""
    msg = json.loads(body)
    if "Message" in msg and "TopicArn" in msg:  # S3 -> SNS -> SQS fan-out
        msg = json.loads(msg["Message"])
    if "glue_retry" in msg:
        r = msg["glue_retry"]
        hubs = {str(h) for h in r["hub_ids"] if str(h) == "ALL" or str(h).isdigit()}
        return hubs, set(), int(r.get("attempt", 1))
    hubs, versions = set(), set()
    for rec in msg.get("Records", []):
        if not rec.get("eventName", "").startswith("ObjectCreated"):
            continue
        obj = rec["s3"]["object"]
        key = unquote_plus(obj["key"])  # S3 URL-encodes keys in events
        m = run_key(key[len(raw_prefix):]) if key.startswith(raw_prefix) else None
        if m and ".." not in key:
            hubs.add(m["hub"])
            versions.add((key, str(obj.get("eTag") or obj.get("sequencer") or "")))
    return hubs, versions, 0


def run_key(key: str) -> re.Match | None:
    """A key under the raw prefix that starts a run for its hub (group ``hub``): an Airbyte
    Parquet file or an association-labels manifest; None for anything else (labels chunks)."""
    return _RAW_KEY.match(key) or _LABELS_MANIFEST.match(key)


def plan_runs(hubs, cfg: Config) -> list[list[str]]:
    ordered = sorted(hubs)
    if cfg.grouping == "account":
        return [[h] for h in ordered]
    n = max(1, cfg.max_hubs_per_run)
    return [ordered[i:i + n] for i in range(0, len(ordered), n)]


def _error_code(e: Exception) -> str:
    return getattr(e, "response", {}).get("Error", {}).get("Code", "")


def start_run(glue, cfg: Config, hub_ids: list[str]) -> str:
    args = {"--hub_ids": ",".join(hub_ids)}
    if cfg.lake_root:
        args["--lake_root"] = cfg.lake_root
    return glue.start_job_run(JobName=cfg.job_name, Arguments=args)["JobRunId"]


def requeue(sqs, cfg: Config, hub_ids: list[str], attempt: int, error: str) -> None:
    """Put a run that could not start back on the queue (or, at the end, in the DLQ)."""
    body = {"glue_retry": {"hub_ids": hub_ids, "attempt": attempt + 1, "last_error": error},
            "how_to_redrive": "move this message back to the glue trigger queue "
                              "(SQS StartMessageMoveTask); the trigger resumes it"}
    if attempt + 1 > cfg.max_attempts and cfg.dlq_url:
        sqs.send_message(QueueUrl=cfg.dlq_url, MessageBody=json.dumps(body))
        log.error(json.dumps({"msg": "glue run gave up, sent to DLQ", "hub_ids": hub_ids[:50],
                              "attempt": attempt, "error": error}))
        return
    delay = min(cfg.retry_max_seconds, cfg.retry_base_seconds * 2 ** min(attempt, 10))
    delay = max(1, round(delay * random.uniform(0.8, 1.0)))  # jitter: retries do not stampede
    sqs.send_message(QueueUrl=cfg.queue_url, MessageBody=json.dumps(body), DelaySeconds=delay)


def handle_sqs_event(event: dict, glue, sqs, cfg: Config) -> dict:
    """The SQS-triggered handler body. Raises (so SQS redelivers the whole batch) only if a
    run could neither start nor be put back on the queue."""
    hubs, versions, attempt = set(), set(), 0
    for record in event.get("Records", []):
        h, v, a = parse_body(record["body"], cfg.raw_prefix)
        hubs |= h
        versions |= v  # a duplicate delivery of one event counts once
        attempt = max(attempt, a)
    files = len(versions)
    overwrites = files - len({key for key, _ in versions})
    started, retried = [], []
    for group in plan_runs(hubs, cfg):
        try:
            started.append(start_run(glue, cfg, group))
        except Exception as e:
            code = _error_code(e)
            if code not in RETRYABLE:
                raise
            requeue(sqs, cfg, group, attempt, code)
            retried.append(group)
    summary = {"messages": len(event.get("Records", [])), "files": files,
               "overwrites": overwrites,
               "hub_ids": len(hubs), "runs_started": started,
               "groups_retried": len(retried), "attempt": attempt}
    from hubspot_app.logs import log_event
    from hubspot_app.metrics import emit_metric
    log_event(log, "glue trigger", **summary)
    emit_metric("GlueRunsStarted", len(started), "Count", Trigger="events")
    if retried:
        emit_metric("GlueRunsDeferred", len(retried), "Count", Trigger="events")
    return summary


def reconcile(glue, cfg: Config) -> dict:
    """Scheduled backstop: one run over every account (the job skips processed files)."""
    try:
        return {"run": start_run(glue, cfg, ["ALL"])}
    except Exception as e:
        if _error_code(e) not in RETRYABLE:
            raise
        return {"run": None, "skipped": _error_code(e)}  # a run is going; the next tick retries


def consume(event: dict, glue, sqs, cfg: Config,
            source_url: Callable[[str], str] | None = None) -> dict:
    """The glue_trigger function on the shared SQS consumer (hubspot_app.messaging): the whole
    batch's accounts in few runs; a record whose accounts' run could not start returns with the
    glue retry policy's delay (partial batch response, ChangeMessageVisibility) instead of a
    re-sent `glue_retry` copy, and is dead-lettered on its last receive (the hourly backstop
    run covers its files meanwhile). Malformed and oversized records go to the DLQ at once."""
    from hubspot_app.errors import Transient, malformed
    from hubspot_app.logs import log_event
    from hubspot_app.messaging.consumer import Consumer, QueueSpec
    from hubspot_app.messaging.retry import queue_policy
    from hubspot_app.metrics import emit_metric

    # source_url: a record's queue URL from its queue's name (Services.queue_url); without it
    # the trigger queue's, the only one this function consumes.
    consumer = Consumer(QueueSpec("glue", cfg.dlq_url, queue_policy("glue"), 64 * 1024), sqs,
                        source_url=source_url or (lambda _name: cfg.queue_url))
    summary: dict = {"runs_started": [], "groups_failed": 0, "files": 0}

    def handle_all(records):
        parsed, versions = [], set()
        for record in records:
            try:
                hubs, names, _ = parse_body(record.body, cfg.raw_prefix)
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
                yield record, malformed(f"not an S3 event or a glue retry ({type(exc).__name__})")
                continue
            record.hub_ids = sorted(int(h) for h in hubs if h.isdigit())
            versions |= names
            parsed.append((record, hubs))
        failed: dict[str, str] = {}
        for group in plan_runs(set().union(*(h for _, h in parsed)), cfg):
            try:
                summary["runs_started"].append(start_run(glue, cfg, group))
            except Exception as exc:  # noqa: BLE001 - its records retry; others are unaffected
                summary["groups_failed"] += 1
                failed.update(dict.fromkeys(group, _error_code(exc) or type(exc).__name__))
        summary["files"] = len(versions)
        for record, hubs in parsed:
            errors = sorted({failed[h] for h in hubs if h in failed})
            yield record, Transient(f"Glue run not started: {', '.join(errors)}") if errors else None

    response = consumer.run_batch(event, handle_all)
    summary.update(messages=len(event.get("Records", [])), **consumer.report)
    log_event(log, "glue trigger", **summary)
    emit_metric("GlueRunsStarted", len(summary["runs_started"]), "Count", Trigger="events")
    if summary["groups_failed"]:
        emit_metric("GlueRunsDeferred", summary["groups_failed"], "Count", Trigger="events")
    return {**summary, **response}
