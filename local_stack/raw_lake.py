"""Writes Parquet the way Airbyte's S3 destination (1.0+) does, for tests, the bench and the
Airbyte emulator.

Layout: ``raw/<hub_id>/<stream>/<YYYY>_<MM>_<DD>_<epoch_ms>_<n>.parquet`` (namespace = hub_id).
Columns: ``_airbyte_raw_id`` (uuid string), ``_airbyte_extracted_at`` (int64 timestamp ms),
``_airbyte_generation_id`` (int64), ``_airbyte_meta`` (struct sync_id, changes[field, change,
reason]), then the stream's fields at the root, typed from the stream's JSON schema:
integer->int64, number->double, boolean, date->date32, date-time->int64 timestamp us UTC,
object with properties->struct (undeclared fields dropped), object without schema / untyped
array->JSON string. A value that fails conversion becomes null and is listed in
``_airbyte_meta.changes`` (NULLED, DESTINATION_SERIALIZATION_ERROR). No compression.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

CHANGE = pa.struct([("field", pa.string()), ("change", pa.string()), ("reason", pa.string())])
META = pa.struct([("sync_id", pa.int64()), ("changes", pa.list_(CHANGE))])
AIRBYTE_FIELDS = [
    pa.field("_airbyte_raw_id", pa.string(), nullable=False),
    pa.field("_airbyte_extracted_at", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("_airbyte_generation_id", pa.int64()),
    pa.field("_airbyte_meta", META),
]
# HubSpot property definition type -> JSON schema the connector declares for it.
HUBSPOT_TYPES = {
    "string": {"type": ["null", "string"]},
    "enumeration": {"type": ["null", "string"]},
    "phone_number": {"type": ["null", "string"]},
    "number": {"type": ["null", "number"]},
    "bool": {"type": ["null", "boolean"]},
    "date": {"type": ["null", "string"], "format": "date"},
    "datetime": {"type": ["null", "string"], "format": "date-time"},
}


def _types(js: dict) -> list[str]:
    t = js.get("type", [])
    return [x for x in ([t] if isinstance(t, str) else t) if x != "null"]


def arrow_type(js: dict) -> pa.DataType:
    t = (_types(js) or ["string"])[0]
    if t == "string":
        fmt = js.get("format")
        if fmt == "date-time":
            return pa.timestamp("us", tz="UTC")
        return pa.date32() if fmt == "date" else pa.string()
    if t == "integer":
        return pa.int64()
    if t == "number":
        return pa.float64()
    if t == "boolean":
        return pa.bool_()
    if t == "object" and js.get("properties"):
        return pa.struct([(k, arrow_type(v)) for k, v in js["properties"].items()])
    if t == "array" and js.get("items") and _types(js["items"]):
        return pa.list_(arrow_type(js["items"]))
    return pa.string()  # schemaless object / untyped array: JSON string


def arrow_schema(schema: dict) -> pa.Schema:
    fields = [pa.field(k, arrow_type(v)) for k, v in schema.get("properties", {}).items()]
    return pa.schema(AIRBYTE_FIELDS + fields)


def _parse_ts(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=dt.UTC)
    if isinstance(v, (int, float)) or (isinstance(v, str) and v.isdigit()):
        return dt.datetime.fromtimestamp(int(v) / 1000, dt.UTC)
    return dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))


def convert(value: Any, js: dict, path: str, changes: list) -> Any:
    """One JSON value -> the Python value pyarrow writes for ``arrow_type(js)``."""
    if value is None:
        return None
    typ = arrow_type(js)
    try:
        if pa.types.is_timestamp(typ):
            return _parse_ts(value)
        if pa.types.is_date32(typ):
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
        if pa.types.is_int64(typ):
            return int(value)
        if pa.types.is_float64(typ):
            return float(value)
        if pa.types.is_boolean(typ):
            if isinstance(value, bool):
                return value
            if str(value).lower() not in ("true", "false"):
                raise ValueError(value)
            return str(value).lower() == "true"
        if pa.types.is_struct(typ):
            props = js["properties"]
            return {k: convert(value.get(k), props[k], f"{path}.{k}", changes) for k in props}
        if pa.types.is_list(typ):
            return [convert(v, js["items"], f"{path}[]", changes) for v in value]
        if isinstance(value, (dict, list)):
            return json.dumps(value, sort_keys=True)
        return value if isinstance(value, str) else json.dumps(value)
    except (ValueError, TypeError, AttributeError):
        changes.append({"field": path, "change": "NULLED", "reason": "DESTINATION_SERIALIZATION_ERROR"})
        return None


def to_table(records: Iterable[dict], schema: dict, extracted_at_ms: int,
             generation_id: int, sync_id: int) -> pa.Table:
    props = schema.get("properties", {})
    extracted = dt.datetime.fromtimestamp(extracted_at_ms / 1000, dt.UTC)
    rows = []
    for rec in records:
        changes: list = []
        row = {k: convert(rec.get(k), js, k, changes) for k, js in props.items()}
        row.update(_airbyte_raw_id=str(uuid.uuid4()), _airbyte_extracted_at=extracted,
                   _airbyte_generation_id=generation_id,
                   _airbyte_meta={"sync_id": sync_id, "changes": changes})
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=arrow_schema(schema))


def raw_key(hub_id, stream: str, extracted_at_ms: int, n: int = 0) -> str:
    d = dt.datetime.fromtimestamp(extracted_at_ms / 1000, dt.UTC)
    return f"raw/{hub_id}/{stream}/{d:%Y_%m_%d}_{extracted_at_ms}_{n}.parquet"


def write_airbyte_parquet(s3_or_fs, bucket: str, hub_id, stream: str, records: Iterable[dict],
                          extracted_at_ms: int, generation_id: int, sync_id: int, schema: dict,
                          n: int = 0) -> str:
    """Write one file; ``s3_or_fs`` is a boto3 S3 client or a local directory that mirrors S3
    (``<dir>/<bucket>/<key>``). Returns the key."""
    table = to_table(records, schema, extracted_at_ms, generation_id, sync_id)
    key = raw_key(hub_id, stream, extracted_at_ms, n)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="none")
    if hasattr(s3_or_fs, "put_object"):
        s3_or_fs.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
    else:
        path = Path(s3_or_fs, bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("." + path.name + ".tmp")  # Airbyte's upload appears whole too
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)
    return key


def crm_stream_schema(property_types: dict[str, str], associations: Iterable[str] = ()) -> dict:
    """JSON schema the HubSpot connector (5.x) declares for a CRM object stream: id, timestamps,
    archived, ``properties`` (per account: from its property definitions) and the same
    properties flattened at the root as ``properties_<name>``, plus association id arrays."""
    ts = {"type": ["null", "string"], "format": "date-time"}
    props = {k: HUBSPOT_TYPES.get(t, HUBSPOT_TYPES["string"]) for k, t in property_types.items()}
    out = {"id": {"type": ["null", "string"]}, "createdAt": ts, "updatedAt": ts,
           "archived": {"type": ["null", "boolean"]}, "archivedAt": ts,
           "properties": {"type": ["null", "object"], "properties": props}}
    out.update({f"properties_{k}": v for k, v in props.items()})
    out.update({a: {"type": ["null", "array"], "items": {"type": ["null", "string"]}}
                for a in associations})
    return {"type": "object", "properties": out}


def crm_record(id_, properties: dict, updated_at: str, created_at: str | None = None,
               archived: bool = False, archived_at: str | None = None, **assoc) -> dict:
    """A record as the connector emits it: ``properties`` plus flattened ``properties_<name>``."""
    rec = {"id": str(id_), "createdAt": created_at or updated_at, "updatedAt": updated_at,
           "archived": archived, "archivedAt": archived_at, "properties": dict(properties)}
    rec.update({f"properties_{k}": v for k, v in properties.items()})
    rec.update(assoc)
    return rec


OWNERS_SCHEMA = {"type": "object", "properties": {
    "id": {"type": ["null", "string"]}, "email": {"type": ["null", "string"]},
    "firstName": {"type": ["null", "string"]}, "lastName": {"type": ["null", "string"]},
    "userId": {"type": ["null", "integer"]}, "archived": {"type": ["null", "boolean"]},
    "createdAt": {"type": ["null", "string"], "format": "date-time"},
    "updatedAt": {"type": ["null", "string"], "format": "date-time"}}}
_STAGE = {"type": ["null", "object"], "properties": {
    "stageId": {"type": ["null", "string"]}, "label": {"type": ["null", "string"]},
    "displayOrder": {"type": ["null", "integer"]}, "archived": {"type": ["null", "boolean"]},
    "metadata": {"type": ["null", "object"], "properties": {
        "isClosed": {"type": ["null", "string"]}, "probability": {"type": ["null", "string"]}}}}}
PIPELINES_SCHEMA = {"type": "object", "properties": {
    "pipelineId": {"type": ["null", "string"]}, "label": {"type": ["null", "string"]},
    "displayOrder": {"type": ["null", "integer"]}, "archived": {"type": ["null", "boolean"]},
    "updatedAt": {"type": ["null", "string"], "format": "date-time"},
    "stages": {"type": ["null", "array"], "items": _STAGE}}}


# ---- synthetic accounts for tests and the bench -------------------------------------------
STANDARD = {
    "contacts": {"email": "string", "firstname": "string", "lastname": "string",
                 "website": "string", "lifecyclestage": "enumeration", "createdate": "datetime",
                 "lastmodifieddate": "datetime", "hs_email_optout": "bool",
                 "num_conversion_events": "number", "hs_buying_role": "enumeration"},
    "companies": {"name": "string", "domain": "string", "industry": "enumeration",
                  "numberofemployees": "number", "annualrevenue": "number",
                  "createdate": "datetime", "hs_lastmodifieddate": "datetime"},
    "deals": {"dealname": "string", "amount": "number", "closedate": "datetime",
              "createdate": "datetime", "hs_lastmodifieddate": "datetime",
              "dealstage": "enumeration", "pipeline": "enumeration",
              "hubspot_owner_id": "enumeration", "hs_is_closed_won": "bool"},
}
ASSOC = {"contacts": ["companies"], "companies": [], "deals": ["companies", "contacts"]}


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


def _props(entity: str, i: int, hub_id, ms: int, custom: dict) -> dict:
    p = {"createdate": _iso(ms - 86_400_000), "hs_lastmodifieddate": _iso(ms),
         "lastmodifieddate": _iso(ms)}
    if entity == "contacts":
        p.update(email=f"  User{i}@Example{hub_id}.COM ", firstname=f"First{i}", lastname="",
                 website=f"https://www.Site{i}.example.com/home", lifecyclestage="lead",
                 hs_email_optout="true" if i % 2 else "false",
                 num_conversion_events=str(i % 7), hs_buying_role="BUDGET_HOLDER;END_USER")
    elif entity == "companies":
        p.update(name=f"Company {i}", domain=f"WWW.Company{i}.example.COM",
                 industry="COMPUTER_SOFTWARE", numberofemployees=str(10 + i),
                 annualrevenue="" if i % 10 == 0 else f"{1000.5 * i}")
    else:
        p.update(dealname=f"Deal {i}", amount=f"{100 * i}.50", closedate=_iso(ms + 86_400_000),
                 dealstage="closedwon" if i % 3 == 0 else "appointmentscheduled",
                 pipeline="default", hubspot_owner_id=str(100 + i % 3),
                 hs_is_closed_won="true" if i % 3 == 0 else "false")
    p.update({k: f"{v}-{i}" for k, v in custom.items()})
    return {k: v for k, v in p.items() if k in STANDARD[entity] or k in custom}


def account_schema(entity: str, custom: dict) -> dict:
    return crm_stream_schema({**STANDARD[entity], **{k: "string" for k in custom}}, ASSOC[entity])


def write_account(target, bucket, hub_id, counts: dict, start_ms: int, *, files_per_stream=2,
                  dup_every=5, custom=None, generation_id=0, sync_id=1, first_id=1) -> list[str]:
    """One sync of a synthetic account: ``counts`` like {"contacts": 100, "deals": 50}; every
    ``dup_every``-th record is written again in the next file (at-least-once delivery).
    Owners and deal pipelines are written too. Returns the keys written."""
    custom = custom or {}
    keys, n = [], 0
    for entity, count in counts.items():
        ids = list(range(first_id, first_id + count))
        chunks = [ids[j::files_per_stream] for j in range(files_per_stream)]
        for j, chunk in enumerate(chunks):
            ms = start_ms + j * 1000
            extra = [i for i in chunks[j - 1] if dup_every and i % dup_every == 0] if j else []
            recs = [crm_record(i, _props(entity, i, hub_id, ms, custom), _iso(ms),
                               companies=[str(i)] if "companies" in ASSOC[entity] else None,
                               contacts=[str(i), str(i + 1)] if entity == "deals" else None)
                    for i in chunk + extra]
            keys.append(write_airbyte_parquet(target, bucket, hub_id, entity, recs, ms,
                                              generation_id, sync_id,
                                              account_schema(entity, custom), n))
            n += 1
    owners = [{"id": str(100 + k), "email": f"Owner{k}@Example.com", "firstName": f"Owner{k}",
               "lastName": "Smith", "userId": k, "archived": False, "updatedAt": _iso(start_ms)}
              for k in range(3)]
    keys.append(write_airbyte_parquet(target, bucket, hub_id, "owners", owners, start_ms,
                                      generation_id, sync_id, OWNERS_SCHEMA, n))
    stages = [{"stageId": s, "label": lbl, "displayOrder": k,
               "metadata": {"isClosed": str(s == "closedwon").lower(), "probability": "0.5"}}
              for k, (s, lbl) in enumerate([("appointmentscheduled", "Appointment Scheduled"),
                                            ("closedwon", "Closed Won")])]
    pipes = [{"pipelineId": "default", "label": "Sales Pipeline", "displayOrder": 0,
              "archived": False, "updatedAt": _iso(start_ms), "stages": stages}]
    keys.append(write_airbyte_parquet(target, bucket, hub_id, "deal_pipelines", pipes, start_ms,
                                      generation_id, sync_id, PIPELINES_SCHEMA, n + 1))
    return keys


def archive_deals(target, bucket, hub_id, ids: Iterable[int], ms: int, generation_id=0,
                  sync_id=2) -> str:
    """The connector's ``deals_archived`` stream: the same shape, ``archived`` true."""
    recs = [crm_record(i, {"dealname": f"Deal {i}"}, _iso(ms), archived=True, archived_at=_iso(ms))
            for i in ids]
    return write_airbyte_parquet(target, bucket, hub_id, "deals_archived", recs, ms,
                                 generation_id, sync_id, account_schema("deals", {}))


def label_line(from_type: str, from_id, to_type: str, to_id, type_id: int,
               label: str | None = None) -> dict:
    """One line of an association-labels chunk (glue/README.md, "Association labels"): a
    labelled type is USER_DEFINED, an unlabelled one HUBSPOT_DEFINED (its label null)."""
    return {"from_object_type": from_type, "from_id": str(from_id), "to_object_type": to_type,
            "to_id": str(to_id), "category": "USER_DEFINED" if label else "HUBSPOT_DEFINED",
            "type_id": type_id, "label": label}


def write_labels_snapshot(target: Path, bucket: str, hub_id, snapshot_id: str,
                          pairs: dict[tuple[str, str], list[dict]], *, manifest: bool = True,
                          records: dict | None = None, page: int = 2) -> list[dict]:
    """An association-labels snapshot in a local lake, as our reader lands it: gzip'd JSON
    Lines chunks of ``page`` lines per pair, then (``manifest``) the manifest, last.
    ``records``: {(from, to): n} to state another count than the lines. Returns the pairs."""
    import gzip
    base = f"raw/{hub_id}/association_labels"
    listed = []
    for (f, t), lines in pairs.items():
        keys = []
        for k in range(0, len(lines), page):
            key = f"{base}/{snapshot_id}/{f}__{t}/{k // page:05d}.jsonl.gz"
            path = Path(target) / bucket / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(b"".join(json.dumps(x).encode() + b"\n"
                                                    for x in lines[k:k + page])))
            keys.append(key)
        listed.append({"from": f, "to": t, "chunks": keys,
                       "records": (records or {}).get((f, t), len(lines))})
    if manifest:
        (Path(target) / bucket / f"{base}/{snapshot_id}.manifest.json").write_text(json.dumps({
            "format": "association_labels/v1", "hub_id": str(hub_id),
            "snapshot_id": snapshot_id, "started_at": "2026-12-07T06:00:00Z",
            "completed_at": "2026-12-07T06:01:00Z", "pairs": listed}))
    return listed
