"""Small objects of the lake (ledger, manifests, reports) and listings, on S3 or a local
directory. Spark reads and writes the data itself through ``path(key)``."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse


class LocalStore:
    def __init__(self, root: str):
        self.root = Path(urlparse(root).path if root.startswith("file:") else root)
        self.url = "file://" + str(self.root).rstrip("/") + "/"

    def path(self, key: str) -> str:
        return self.url + key

    def list(self, prefix: str) -> dict[str, int]:
        base, out = self.root / prefix, {}
        for d, _dirs, files in os.walk(base):
            for f in files:
                if not f.startswith("."):  # in-flight temp files
                    p = Path(d, f)
                    out[str(p.relative_to(self.root))] = p.stat().st_size
        return out

    def get_json(self, key: str, default=None):
        p = self.root / key
        return json.loads(p.read_text()) if p.exists() else default

    def put_json(self, key: str, obj) -> None:
        p = self.root / key
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(obj, sort_keys=True, default=str))
        os.replace(tmp, p)  # readers see the old or the new object, never half of one

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.root / prefix, ignore_errors=True)


class S3Store:
    def __init__(self, root: str, client=None):
        u = urlparse(root)
        self.bucket, self.base = u.netloc, u.path.lstrip("/")
        self.url = f"s3://{self.bucket}/{self.base}"
        if client is None:
            import boto3
            client = boto3.client("s3")
        self.s3 = client

    def path(self, key: str) -> str:
        return self.url + key

    def list(self, prefix: str) -> dict[str, int]:
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.base + prefix):
            for o in page.get("Contents", []):
                out[o["Key"][len(self.base):]] = o["Size"]
        return out

    def get_json(self, key: str, default=None):
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.base + key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return default
        return json.loads(body)

    def put_json(self, key: str, obj) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.base + key,
                           Body=json.dumps(obj, sort_keys=True, default=str).encode())

    def delete_prefix(self, prefix: str) -> None:
        keys = [{"Key": self.base + k} for k in self.list(prefix)]
        for i in range(0, len(keys), 1000):
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[i:i + 1000]})


def open_store(lake_root: str):
    """``s3://bucket/`` on Glue, ``file:///dir/`` (or a plain path) locally."""
    return S3Store(lake_root) if lake_root.startswith("s3") else LocalStore(lake_root)
