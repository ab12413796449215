"""The S3 destination side of a sync: object keys, Parquet upload, overwrite cleanup.

Parquet content comes from `local_stack.raw_lake.to_table` (the team's writer of Airbyte-shaped
Parquet, shared with the Glue tests); this module only adds what belongs to the destination
connector: the bucket path and `s3_path_format`, part numbering, the compression codec, the
`ab-generation-id` object metadata and, for full-refresh overwrite, deleting older generations
once the new one is complete.
"""
from __future__ import annotations

import io
import re
import time
import uuid
from datetime import UTC, datetime

import boto3
import pyarrow.parquet as pq

from local_stack import raw_lake

from .specs import MASK

DEFAULT_PATH_FORMAT = "${NAMESPACE}/${STREAM_NAME}/${YEAR}_${MONTH}_${DAY}_${EPOCH}_"
GENERATION_META = "ab-generation-id"
_CODECS = {"UNCOMPRESSED": "none", "SNAPPY": "snappy", "GZIP": "gzip", "BROTLI": "brotli",
           "LZ4": "lz4", "ZSTD": "zstd", "LZO": "none"}  # pyarrow cannot write LZO


def s3_client(cfg: dict, endpoint_url: str | None, region: str):
    """The emulator's endpoint (moto) wins over the destination's own s3_endpoint: the local
    stack stands in for AWS whatever the stage config says."""
    kwargs = {"region_name": cfg.get("s3_bucket_region") or region,
              "endpoint_url": endpoint_url or cfg.get("s3_endpoint") or None}
    key, secret = cfg.get("access_key_id"), cfg.get("secret_access_key")
    if key and secret and MASK not in (key, secret):
        kwargs.update(aws_access_key_id=key, aws_secret_access_key=secret)
    elif kwargs["endpoint_url"]:
        kwargs.update(aws_access_key_id="testing", aws_secret_access_key="testing")
    return boto3.client("s3", **kwargs)


class StreamFiles:
    """Writes one stream's part files for one sync and knows its key prefix."""

    def __init__(self, s3, cfg: dict, namespace: str | None, stream: str, sync_ms: int):
        self.s3, self.bucket = s3, cfg["s3_bucket_name"]
        fmt = cfg.get("s3_path_format") or DEFAULT_PATH_FORMAT
        d = datetime.fromtimestamp(sync_ms / 1000, UTC)
        values = {"NAMESPACE": namespace or "", "STREAM_NAME": stream, "YEAR": f"{d:%Y}",
                  "MONTH": f"{d:%m}", "DAY": f"{d:%d}", "HOUR": f"{d:%H}", "MINUTE": f"{d:%M}",
                  "SECOND": f"{d:%S}", "MILLISECOND": f"{d.microsecond // 1000:03d}",
                  "EPOCH": str(sync_ms), "UUID": str(uuid.uuid4())}
        path = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), fmt)
        full = f"{cfg.get('s3_bucket_path', '')}/{path}"
        # An empty namespace must not leave "//" in the key (Airbyte collapses it too).
        self.key_base = re.sub(r"/{2,}", "/", full).lstrip("/")
        static = re.sub(r"/{2,}", "/", f"{cfg.get('s3_bucket_path', '')}/{namespace or ''}/{stream}/")
        self.prefix = static.lstrip("/")
        self.codec = _CODECS.get((cfg.get("format") or {}).get("compression_codec", "UNCOMPRESSED"),
                                 "none")
        self.keys: list[str] = []
        self.bytes = 0

    def write(self, records: list[dict], schema: dict, extracted_at_ms: int, generation_id: int,
              sync_id: int) -> str:
        table = raw_lake.to_table(records, schema, extracted_at_ms, generation_id, sync_id)
        buf = io.BytesIO()
        pq.write_table(table, buf, compression=self.codec)
        key = f"{self.key_base}{len(self.keys)}.parquet"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=buf.getvalue(),
                           Metadata={GENERATION_META: str(generation_id)})
        self.keys.append(key)
        self.bytes += buf.tell()
        return key

    def delete_older(self, generation_id: int | None) -> int:
        """Delete objects under this stream's prefix from generations before `generation_id`
        (None: delete everything, for a clear)."""
        doomed = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=self.prefix):
            for obj in page.get("Contents", []):
                if obj["Key"] in self.keys:
                    continue
                if generation_id is not None:
                    head = self.s3.head_object(Bucket=self.bucket, Key=obj["Key"])
                    gen = int(head.get("Metadata", {}).get(GENERATION_META, -1))
                    if gen >= generation_id:
                        continue
                doomed.append({"Key": obj["Key"]})
        for i in range(0, len(doomed), 1000):
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": doomed[i:i + 1000]})
        return len(doomed)


def now_ms() -> int:
    return int(time.time() * 1000)
