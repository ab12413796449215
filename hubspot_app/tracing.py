"""X-Ray tracing through aws-xray-sdk, loaded at a function's first traced call, not at import.

Lambda's active tracing (`"xray": true` in .chalice/config.json) opens the function segment; the
SDK adds the subsegments: every botocore call (AWS APIs, DynamoDB through PynamoDB too) and every
requests call (HubSpot, Airbyte). Importing the SDK and patching at app import cost every function
~0.25x a bare `import boto3` at cold start, and off Lambda its recorder builds two X-Ray clients
for sampling (bench/cold_start.py --tracing measures the options). So configure_tracing() only
arms: when botocore or requests is imported (by whatever the function uses), the method the SDK
wraps is swapped for a shim that loads the SDK and applies its own patch at the first call. A
function pays for the SDK once it makes a traced call, and patches only the libraries it imports.

Locally and in tests there is no segment and no daemon: a missing context is ignored instead of
raising, and UDP sends to an absent daemon are fire-and-forget.
"""
from __future__ import annotations

import importlib.abc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# module -> (class, method the SDK wraps, name for aws_xray_sdk.core.patch). The requests package,
# not requests.sessions: the SDK patches `requests.Session`, set once the package is loaded.
_TARGETS = {"botocore.client": ("BaseClient", "_make_api_call", "botocore"),
            "requests": ("Session", "request", "requests")}
_armed: dict[str, tuple[type, str, Any]] = {}  # SDK patch name -> (class, method, original)
_lock = threading.RLock()
_configured = False
_sdk_ready = False
_service = "hubspot-pipeline"


def _enabled() -> bool:
    return os.environ.get("AWS_XRAY_SDK_ENABLED", "").lower() != "false"


def configure_tracing(service: str = "hubspot-pipeline") -> None:
    """Arm patching of botocore and requests at their first call (cheap: nothing is imported)."""
    global _configured, _service
    if _configured:
        return
    _service = service
    _configured = True
    if not _enabled():
        return
    for name in list(_TARGETS):
        if name in sys.modules:
            _on_import(sys.modules[name])
    if _TARGETS:
        sys.meta_path.insert(0, _AfterImport())


def _on_import(module: Any) -> None:
    cls_name, method, patch_name = _TARGETS.pop(module.__name__)
    with _lock:
        if _sdk_ready:  # imported after the SDK loaded: patch it now
            from aws_xray_sdk.core import patch
            patch([patch_name])
            return
        cls = getattr(module, cls_name)
        original = cls.__dict__[method]

        def first_call(self: Any, *args: Any, **kwargs: Any) -> Any:
            load_sdk()
            return getattr(self, method)(*args, **kwargs)  # through the SDK's wrapper now

        _armed[patch_name] = (cls, method, original)
        setattr(cls, method, first_call)


def load_sdk() -> None:
    """Import and configure the SDK, and patch what is armed (once; the first traced call)."""
    global _sdk_ready
    with _lock:
        if _sdk_ready:
            return
        # Originals back first: a call made while the SDK loads goes straight through.
        for cls, method, original in _armed.values():
            setattr(cls, method, original)
        import logging

        from aws_xray_sdk.core import patch, xray_recorder

        in_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
        if not in_lambda:  # "no segment" is the normal case off Lambda, not worth a warning per call
            logging.getLogger("aws_xray_sdk").setLevel(logging.ERROR)
        xray_recorder.configure(
            service=_service,
            context_missing="IGNORE_ERROR",
            # Off outside Lambda unless asked for: no daemon there to send to.
            sampling=in_lambda,
        )
        if _enabled() and _armed:
            patch(sorted(_armed))
        _armed.clear()
        _sdk_ready = True


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for a target module, wraps the real loader to arm it once loaded."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _ArmingLoader(spec.loader)
                return spec
        return None


class _ArmingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:  # get_data, get_resource_reader, ... as the real one
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        _on_import(module)


@contextmanager
def subsegment(name: str, **annotations: str | int) -> Iterator[None]:
    """A named span with searchable annotations (e.g. hub_id) around a step of the flow."""
    load_sdk()
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
    load_sdk()
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.models.trace_header import TraceHeader

    entity = xray_recorder.get_trace_entity()
    if entity is None or not getattr(entity, "trace_id", None):
        return None
    if type(entity).__name__.startswith("Dummy"):  # SDK disabled: all-zero ids, nothing to link
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
