"""X-Ray tracing through aws-xray-sdk, safe where no X-Ray daemon runs.

In Lambda (active tracing on) the runtime opens the segment and the SDK sends subsegments to
the daemon; boto3 and requests calls are patched so each AWS and HubSpot/Airbyte call shows up.
Locally and in tests there is no segment and no daemon: a missing context is ignored instead of
raising, and UDP sends to an absent daemon are fire-and-forget.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

_configured = False


def configure_tracing(service: str = "hubspot-pipeline") -> None:
    global _configured
    if _configured:
        return
    import logging

    from aws_xray_sdk.core import patch, xray_recorder

    in_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    if not in_lambda:  # "no segment" is the normal case off Lambda, not worth a warning per call
        logging.getLogger("aws_xray_sdk").setLevel(logging.ERROR)
    xray_recorder.configure(
        service=service,
        context_missing="IGNORE_ERROR",
        # Off outside Lambda unless asked for: no daemon there to send to.
        sampling=in_lambda,
    )
    if os.environ.get("AWS_XRAY_SDK_ENABLED", "").lower() != "false":
        patch(["boto3", "botocore", "requests"])
    _configured = True


@contextmanager
def subsegment(name: str, **annotations: str | int) -> Iterator[None]:
    """A named span with searchable annotations (e.g. hub_id) around a step of the flow."""
    from aws_xray_sdk.core import xray_recorder

    sub = xray_recorder.begin_subsegment(name)
    try:
        if sub is not None:
            for key, value in annotations.items():
                if value is not None:
                    sub.put_annotation(key, value)
        yield
    except Exception as exc:
        if sub is not None:
            sub.add_exception(exc, stack=None)
        raise
    finally:
        if sub is not None:
            xray_recorder.end_subsegment()


def current_trace_header() -> str | None:
    """`Root=...;Parent=...;Sampled=...` of the span in progress, to hand to the next function
    (SQS carries it as the AWSTraceHeader system attribute); None outside a trace."""
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.models.trace_header import TraceHeader

    entity = xray_recorder.get_trace_entity()
    if entity is None or not getattr(entity, "trace_id", None):
        return None
    segment = getattr(entity, "parent_segment", entity)
    return TraceHeader(root=entity.trace_id, parent=entity.id,
                       sampled=int(bool(getattr(segment, "sampled", True)))).to_header_str()


def trace_root(header: str | None) -> str | None:
    """The trace id (`Root=`) in an AWSTraceHeader, to link a message's work to its sender."""
    for part in (header or "").split(";"):
        key, _, value = part.partition("=")
        if key.strip() == "Root" and value:
            return value.strip()
    return None
