"""CloudWatch metrics in the embedded metric format (EMF): one JSON line per metric on stdout.

Lambda ships stdout to CloudWatch Logs, and CloudWatch turns every line that carries an `_aws`
block into metrics: no PutMetricData call, no extra IAM permission, no latency on the request
path. Locally (and in tests) the same lines are plain JSON on stdout.

    from hubspot_app.metrics import emit_metric
    emit_metric("InstallsCompleted", 1, "Count", Result="stored")
    emit_metric("ProvisionDuration", 812.5, "Milliseconds", Result="active", hub_id=123)

Dimensions are for low-cardinality values only (a result, a reason, a function). `hub_id` (and
any name in `PROPERTY_ONLY`) is written as a searchable property of the line, never as a
dimension: 10,000 accounts as a dimension would be 10,000 custom metrics.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable

NAMESPACE_ENV = "METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "HubSpotPipeline"
PROPERTY_ONLY = frozenset({"hub_id", "connection_id", "job_id", "message_id", "run_id"})
UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None"})
MAX_DIMENSIONS = 30  # CloudWatch's limit per dimension set

_lock = threading.Lock()
# Where lines go: stdout in Lambda. Tests swap in a list's append to read them back.
_sink: Callable[[str], None] | None = None


def set_sink(sink: Callable[[str], None] | None) -> None:
    """Send EMF lines to `sink` instead of stdout (None restores stdout)."""
    global _sink
    _sink = sink


def _write(line: str) -> None:
    if _sink is not None:
        _sink(line)
        return
    with _lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def metric_line(name: str, value: float, unit: str = "Count", namespace: str | None = None,
                **dimensions) -> str:
    """The EMF JSON line for one metric value (see `emit_metric`)."""
    if unit not in UNITS:
        raise ValueError(f"unit {unit!r} is not a CloudWatch unit")
    namespace = namespace or os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE
    stage = os.environ.get("STAGE")
    dims: dict[str, str] = {}
    props: dict[str, object] = {}
    for key, dim_value in dimensions.items():
        if dim_value is None:
            continue
        if key in PROPERTY_ONLY:
            props[key] = str(dim_value)
        else:
            dims[key] = str(dim_value)
    if stage:
        dims.setdefault("Stage", stage)
    if len(dims) > MAX_DIMENSIONS:
        raise ValueError(f"at most {MAX_DIMENSIONS} dimensions per metric")
    entry: dict[str, object] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [sorted(dims)],
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        },
        **props,
        **dims,
        name: float(value),
    }
    from hubspot_app.logs import redact  # a metric never carries a secret; be sure anyway
    return redact(json.dumps(entry, separators=(",", ":")))


def emit_metric(name: str, value: float, unit: str = "Count", **dimensions) -> None:
    """Emit one metric value. Never raises into the caller's business logic."""
    try:
        _write(metric_line(name, value, unit, **dimensions))
    except Exception:
        import logging

        logging.getLogger(__name__).warning("metric %s not emitted", name, exc_info=True)
