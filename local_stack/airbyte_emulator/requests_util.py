"""Request parsing shared by the API modules: typed JSON bodies, query lists, paging.

Body checks mirror what Airbyte's generated server enforces before its handlers run (required
properties, types, enums, uuid formats): a violation is a 400 `bad-request`. Unknown properties
are ignored, as Micronaut's Jackson setup does.
"""
from __future__ import annotations

import uuid
from urllib.parse import urlencode

from flask import request

from . import problems

Spec = dict  # field -> "str" | "uuid" | "bool" | "int" | "obj" | "list" | tuple(enum values)


def _type_ok(kind, v) -> bool:
    if isinstance(kind, tuple):
        return v in kind
    if kind == "uuid":
        return is_uuid(v)
    return {
        "str": lambda: isinstance(v, str),
        "bool": lambda: isinstance(v, bool),
        "int": lambda: isinstance(v, int) and not isinstance(v, bool),
        "obj": lambda: isinstance(v, dict),
        "list": lambda: isinstance(v, list),
    }[kind]()


def is_uuid(v) -> bool:
    try:
        uuid.UUID(str(v))
        return isinstance(v, str)
    except ValueError:
        return False


def json_body(spec: Spec, required: tuple = ()) -> dict:
    body = request.get_json(silent=True)
    if body is None:
        raise problems.bad_request("Request body is missing or is not valid JSON")
    if not isinstance(body, dict):
        raise problems.bad_request("Request body must be a JSON object")
    check(body, spec, required, "")
    return body


def check(body: dict, spec: Spec, required: tuple, where: str) -> None:
    for name in required:
        if body.get(name) is None:
            raise problems.bad_request(f"{where}{name}: must not be null")
    for name, kind in spec.items():
        v = body.get(name)
        if v is None:
            continue
        if not _type_ok(kind, v):
            expect = f"one of {list(kind)}" if isinstance(kind, tuple) else kind
            raise problems.bad_request(f"{where}{name}: invalid value {v!r}, expected {expect}")


def query_list(name: str) -> list[str]:
    """Accept both `a=1&a=2` (what the SDK sends) and `a=1,2` (what Airbyte's next URLs carry)."""
    out = []
    for raw in request.args.getlist(name):
        out.extend(p for p in raw.split(",") if p)
    for v in out:
        if not is_uuid(v):
            raise problems.bad_request(f"{name}: invalid uuid {v!r}")
    return out


def query_int(name: str, default: int, lo: int, hi: int | None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise problems.bad_request(f"{name}: must be an integer") from None
    if v < lo or (hi is not None and v > hi):
        raise problems.bad_request(f"{name}: must be between {lo} and {hi}" if hi else
                                   f"{name}: must be at least {lo}")
    return v


def query_bool(name: str) -> bool:
    return request.args.get(name, "false").lower() == "true"


def page(records: list, render, path: str, extra: dict) -> dict:
    """Airbyte's PaginationMapper: `next` whenever this page is non-empty, `previous` unless
    offset is 0, both "" when absent; both carry the filters, workspaceIds comma-joined."""
    limit = query_int("limit", 20, 1, 100)
    offset = query_int("offset", 0, 0, None)
    chunk = records[offset:offset + limit]
    base = request.host_url.rstrip("/") + request.path.rsplit(path, 1)[0] + path

    def url(off):
        return base + "?" + urlencode({**extra, "limit": limit, "offset": off})

    return {
        "data": [render(r) for r in chunk],
        "next": url(offset + limit) if chunk else "",
        "previous": url(max(offset - limit, 0)) if offset else "",
    }
